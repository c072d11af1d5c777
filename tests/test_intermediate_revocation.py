import subprocess

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from portal.ca.pem import to_pem
from portal.services import certificates
from portal.services.authorities import ca_certificate, create_ca
from portal.services.crl import crl_state, publish, stored_der
from tests.conftest import require_program


def test_an_intermediate_is_recorded_under_its_parent_and_its_revocation_reaches_the_crl(
    app, root_ca, tmp_path
):
    issuing = create_ca("issuing", key_type="ec-p256", parent="root", actor="test")
    row = certificates.get_certificate(issuing.serial)
    assert (row.ca_id, row.profile, row.status) == (root_ca.id, "ca", "issued")
    assert row.der == issuing.certificate_der
    publish(issuing, actor="test")  # its own CRL, signed while it may still sign

    certificates.revoke_certificate(issuing.serial, reason="CACompromise", actor="test")
    crl = x509.load_der_x509_crl(stored_der(crl_state("root")))
    entry = crl.get_revoked_certificate_by_serial_number(int(issuing.serial, 16))
    assert entry is not None
    assert entry.extensions.get_extension_for_class(x509.CRLReason).value.reason == (
        x509.ReasonFlags.ca_compromise
    )

    # openssl, checking the whole chain against the root's CRL, now refuses the intermediate.
    (tmp_path / "root.pem").write_bytes(to_pem(ca_certificate(root_ca)))
    (tmp_path / "issuing.pem").write_bytes(to_pem(ca_certificate(issuing)))
    (tmp_path / "crls.pem").write_bytes(b"".join(
        x509.load_der_x509_crl(stored_der(crl_state(name))).public_bytes(Encoding.PEM)
        for name in ("root", "issuing")
    ))
    result = subprocess.run(
        [require_program("openssl"), "verify", "-crl_check_all", "-CRLfile",
         str(tmp_path / "crls.pem"), "-CAfile", str(tmp_path / "root.pem"),
         str(tmp_path / "issuing.pem")],
        capture_output=True, text=True,
    )
    assert result.returncode != 0 and "revoked" in (result.stdout + result.stderr)
