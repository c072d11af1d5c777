"""A certificate carries its CSR's public key unchanged, whatever the key type (issue 12, 1).

Keys and CSRs are made by the openssl command line, as a person would; the issued certificate
must start `openssl s_server` with that private key, and carry the CSR's SPKI byte for byte.
An RSA-PSS key, which cryptography would re-encode as rsaEncryption, is refused clearly.
"""

import subprocess

import pytest
from cryptography import x509

from portal.ca import spki
from portal.ca.pem import to_pem
from portal.errors import PolicyViolation, PortalError
from portal.services import issuance
from portal.web.errors import status_of
from tests.conftest import require_program

GENPKEY = {
    "rsa-2048": ["-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048"],
    "ec-p256": ["-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256"],
    "ec-p384": ["-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-384"],
    "ec-p521": ["-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-521"],
    "ed25519": ["-algorithm", "ED25519"],
}
PSS = ["-algorithm", "RSA-PSS", "-pkeyopt", "rsa_keygen_bits:2048"]


def openssl(*args: str, input: bytes | None = None) -> bytes:
    """Run openssl; its stdout (fails the test on a non-zero exit)."""
    done = subprocess.run([require_program("openssl"), *args], input=input,
                          capture_output=True, timeout=120)
    assert done.returncode == 0, done.stderr.decode()
    return done.stdout


def key_and_csr(folder, genpkey_args: list[str], profile: str = "server") -> tuple:
    """A key and a CSR for host.example made by openssl; their paths."""
    folder.mkdir(exist_ok=True)
    key, csr = folder / "host.key", folder / "host.csr"
    san = "DNS:host.example" if profile == "server" else "email:host@example.com"
    openssl("genpkey", *genpkey_args, "-out", str(key))
    openssl("req", "-new", "-key", str(key), "-subj", "/CN=host.example",
            "-addext", f"subjectAltName={san}", "-out", str(csr))
    return key, csr


def s_server_starts(cert, key) -> tuple[bool, str]:
    """Whether `openssl s_server` accepts the certificate with the key (it checks they match)."""
    server = subprocess.Popen(
        [require_program("openssl"), "s_server", "-accept", "127.0.0.1:0", "-cert", str(cert),
         "-key", str(key), "-naccept", "1"],
        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    seen = []
    try:
        for line in server.stdout:
            seen.append(line)
            if line.startswith("ACCEPT"):
                return True, "".join(seen)
        return False, "".join(seen)
    finally:
        server.kill()
        server.wait()
        server.stdout.close()


@pytest.mark.parametrize("key_type", list(GENPKEY))
@pytest.mark.parametrize("profile", ["server", "client"])
def test_the_certificate_carries_the_csr_key_and_starts_s_server(app, root_ca, tmp_path,
                                                                key_type, profile):
    key, csr = key_and_csr(tmp_path, GENPKEY[key_type], profile)
    row = issuance.issue_from_csr(csr.read_bytes(), profile, actor="test")
    cert = tmp_path / "host.pem"
    cert.write_bytes(to_pem(row.certificate))
    assert openssl("x509", "-in", str(cert), "-noout", "-pubkey") == openssl(
        "pkey", "-in", str(key), "-pubout")
    assert spki.certificate_spki(row.certificate) == spki.csr_spki(
        x509.load_pem_x509_csr(csr.read_bytes()))
    started, output = s_server_starts(cert, key)
    assert started, output


def test_an_rsa_pss_key_is_refused_clearly_and_nothing_is_written(app, root_ca, tmp_path):
    _key, csr = key_and_csr(tmp_path, PSS)
    with pytest.raises(PolicyViolation, match="RSA-PSS keys .* are not accepted") as refused:
        issuance.issue_from_csr(csr.read_bytes(), "server", actor="test")
    assert refused.value.field == "csr" and status_of(refused.value) == 400
    from portal.models import Certificate
    assert Certificate.query.count() == 0


def test_the_cli_refuses_an_rsa_pss_key_in_one_line(runner, root_ca, tmp_path):
    _key, csr = key_and_csr(tmp_path, PSS)
    result = runner.invoke(args=["cert", "issue", "--csr", str(csr), "--profile", "server",
                                 "--out", str(tmp_path / "out.pem")])
    assert result.exit_code == 1
    assert result.stderr.strip().count("\n") == 0
    assert "RSA-PSS keys (id-RSASSA-PSS) are not accepted" in result.stderr
    assert not (tmp_path / "out.pem").exists()


def test_a_certificate_whose_key_was_changed_is_never_handed_out(app, root_ca, tmp_path):
    """The safety net: a signed certificate that does not carry the asked SPKI is refused."""
    _key, csr = key_and_csr(tmp_path, GENPKEY["ec-p256"])
    _other_key, other_csr = key_and_csr(tmp_path / "other", GENPKEY["ec-p256"])
    wanted = spki.csr_spki(x509.load_pem_x509_csr(other_csr.read_bytes()))
    request = x509.load_pem_x509_csr(csr.read_bytes())
    from portal.ca.profiles import get_profile
    subject = request.subject
    with pytest.raises(PortalError, match="does not carry the requested public key"):
        issuance.issue_for_key(
            request.public_key(), "ec-p256", subject, (x509.DNSName("host.example"),),
            get_profile("server"), ca_name=None, days=None, owner_id=None, actor="test",
            spki=wanted,
        )
    from portal.models import Certificate
    assert [row.status for row in Certificate.query] == ["pending"]


@pytest.mark.parametrize("der", [b"", b"\x30", b"\x31\x00", b"\x30\x05\x02\x01\x01",
                                 b"\x30\x03\x02\x01\x01\x00", b"\x30\x84\xff\xff\xff\xff"])
def test_damaged_der_is_a_value_error_never_an_index_error(der):
    with pytest.raises(ValueError):
        spki.certificate_spki(der)


def test_a_ca_with_an_rsa_pss_key_is_not_imported(runner, instance, tmp_path):
    key = tmp_path / "ca.key"
    openssl("genpkey", *PSS, "-out", str(key))
    openssl("req", "-x509", "-new", "-key", str(key), "-subj", "/CN=PSS CA", "-days", "30",
            "-addext", "basicConstraints=critical,CA:TRUE",
            "-addext", "keyUsage=critical,keyCertSign,cRLSign", "-out", str(tmp_path / "ca.pem"))
    result = runner.invoke(args=["ca", "import", "--cert", str(tmp_path / "ca.pem"), "--key",
                                 str(key)])
    assert result.exit_code == 1 and result.stderr.strip().count("\n") == 0
    assert "RSA-PSS key (id-RSASSA-PSS) are not accepted" in result.stderr
    from portal.models import CertificateAuthority
    assert CertificateAuthority.query.count() == 0
