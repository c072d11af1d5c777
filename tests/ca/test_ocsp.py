"""OCSP requests and responses without a database: parsing, both signing modes, pkilint."""

import subprocess
from datetime import UTC, datetime, timedelta

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509 import ocsp as x509_ocsp
from cryptography.x509.oid import NameOID

from portal.ca import ocsp, signer
from portal.ca.authority import create_root_ca
from portal.ca.profiles import OCSP_PROFILE, PROFILES, PublicationUrls
from tests.conftest import require_program
from tests.pki import ocsp_findings, pkilint_findings

NOW = datetime.now(UTC).replace(microsecond=0)
URLS = PublicationUrls("http://ca.example.com/crl.der", "http://ca.example.com/ca.crt",
                       "http://ca.example.com/ocsp")


def _name(text):
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, text)])


@pytest.fixture(scope="module")
def pki():
    """A root CA, one client leaf, and the CA's delegated responder."""
    certificate, key = create_root_ca(_name("OCSP Test Root"), key_type="ec-p256", days=30)
    ca = signer.CASigner(certificate, key)
    leaf_key = ec.generate_private_key(ec.SECP256R1())
    leaf = signer.build_certificate(
        ca, public_key=leaf_key.public_key(), subject=_name("alice"), sans=(),
        profile=PROFILES["client"], serial=x509.random_serial_number(), not_before=NOW,
        not_after=NOW + timedelta(days=5), urls=URLS,
    )
    responder_key = ec.generate_private_key(ec.SECP256R1())
    responder = signer.build_certificate(
        ca, public_key=responder_key.public_key(), subject=_name("OCSP Test Root responder"),
        sans=(), profile=OCSP_PROFILE, serial=x509.random_serial_number(), not_before=NOW,
        not_after=NOW + timedelta(days=7), urls=URLS,
    )
    return {
        "ca": ca, "leaf": leaf, "responder": responder,
        "signers": {
            "delegated": ocsp.ResponseSigner.delegated(responder, responder_key),
            "ca": ocsp.ResponseSigner.by_ca(ca),
        },
    }


def _request(pki, algorithm=None, nonce=None):
    builder = x509_ocsp.OCSPRequestBuilder().add_certificate(
        pki["leaf"], pki["ca"].certificate, algorithm or hashes.SHA1())
    if nonce is not None:
        builder = builder.add_extension(x509.OCSPNonce(nonce), critical=False)
    return builder.build().public_bytes(serialization.Encoding.DER)


def _answer(pki, mode, status, *, algorithm="sha1", nonce=None):
    hashes_of_ca = ocsp.issuer_hashes(pki["ca"].certificate).by_algorithm[algorithm]
    this_update, next_update = ocsp.validity(NOW, 3600)
    return ocsp.build_response(
        pki["signers"][mode], issuer_name_hash=hashes_of_ca[0], issuer_key_hash=hashes_of_ca[1],
        serial=pki["leaf"].serial_number, hash_algorithm=algorithm, status=status,
        this_update=this_update, next_update=next_update, nonce=nonce,
    )


STATUSES = {
    "good": ocsp.CertificateStatus(ocsp.GOOD),
    "revoked": ocsp.CertificateStatus(ocsp.REVOKED, NOW - timedelta(minutes=5), "keyCompromise"),
    "revoked-unspecified": ocsp.CertificateStatus(ocsp.REVOKED, NOW, "unspecified"),
    "unknown": ocsp.CertificateStatus(ocsp.UNKNOWN),
}


@pytest.mark.parametrize("mode", ["delegated", "ca"])
@pytest.mark.parametrize("kind", list(STATUSES))
@pytest.mark.parametrize("nonce", [None, b"\x01" * 16])
def test_every_response_kind_lints_clean_in_both_modes(pki, tmp_path, mode, kind, nonce):
    der = _answer(pki, mode, STATUSES[kind], nonce=nonce)
    path = tmp_path / "response.der"
    path.write_bytes(der)
    assert ocsp_findings(path) == ""
    parsed = x509_ocsp.load_der_ocsp_response(der)
    assert parsed.certificate_status.name == kind.split("-")[0].upper()
    assert parsed.serial_number == pki["leaf"].serial_number
    if kind == "revoked":
        assert parsed.revocation_reason is x509.ReasonFlags.key_compromise
    if nonce:
        assert parsed.extensions.get_extension_for_class(x509.OCSPNonce).value.nonce == nonce
    assert [c.serial_number for c in parsed.certificates] == (
        [pki["responder"].serial_number] if mode == "delegated" else [])


def test_the_responder_certificate_profile_lints_clean(pki, tmp_path):
    responder = pki["responder"]
    eku = responder.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert list(eku) == [x509.oid.ExtendedKeyUsageOID.OCSP_SIGNING]
    assert responder.extensions.get_extension_for_class(x509.OCSPNoCheck).critical is False
    usage = responder.extensions.get_extension_for_class(x509.KeyUsage).value
    assert usage.digital_signature and not usage.key_cert_sign
    path = tmp_path / "responder.pem"
    path.write_bytes(responder.public_bytes(serialization.Encoding.PEM))
    assert pkilint_findings(path) == ""


@pytest.mark.parametrize("mode", ["delegated", "ca"])
@pytest.mark.parametrize("algorithm", ["sha1", "sha256"])
def test_openssl_verifies_the_response_against_the_ca(pki, tmp_path, mode, algorithm):
    openssl = require_program("openssl")
    (tmp_path / "ca.pem").write_bytes(pki["ca"].certificate_pem())
    (tmp_path / "leaf.pem").write_bytes(pki["leaf"].public_bytes(serialization.Encoding.PEM))
    (tmp_path / "r.der").write_bytes(
        _answer(pki, mode, STATUSES["revoked"], algorithm=algorithm))
    result = subprocess.run(
        [openssl, "ocsp", "-respin", str(tmp_path / "r.der"), "-CAfile", str(tmp_path / "ca.pem"),
         "-issuer", str(tmp_path / "ca.pem"), f"-{algorithm}", "-cert", str(tmp_path / "leaf.pem")],
        capture_output=True, text=True, timeout=60,
    )
    assert "Response verify OK" in result.stderr, result.stderr
    assert "leaf.pem: revoked" in result.stdout
    assert "Reason: keyCompromise" in result.stdout


@pytest.mark.parametrize("algorithm", [hashes.SHA1(), hashes.SHA256()])
def test_a_request_is_parsed_with_its_certid_and_nonce(pki, algorithm):
    query = ocsp.parse_request(_request(pki, algorithm, nonce=b"n" * 32))
    name = "sha1" if isinstance(algorithm, hashes.SHA1) else "sha256"
    assert query.hash_algorithm == name
    assert query.serial == pki["leaf"].serial_number
    assert query.nonce == b"n" * 32
    assert ocsp.issuer_hashes(pki["ca"].certificate).matches(query)


def test_a_request_naming_another_issuer_does_not_match(pki):
    other, _key = create_root_ca(_name("Other Root"), key_type="ec-p256", days=30)
    query = ocsp.parse_request(_request(pki))
    assert not ocsp.issuer_hashes(other).matches(query)


def test_a_request_without_a_nonce_has_none(pki):
    assert ocsp.parse_request(_request(pki)).nonce is None


@pytest.mark.parametrize(("data", "why"), [
    (b"", "empty"),
    (b"\x30\x03\x02\x01\x01", "not a DER OCSP request"),
    (b"garbage" * 10, "not a DER OCSP request"),
    (b"\x30" + b"\x82\x20\x00" + b"\x00" * 8192, "over 4096 bytes"),
])
def test_garbage_is_a_malformed_request(data, why):
    with pytest.raises(ocsp.MalformedRequest, match=why):
        ocsp.parse_request(data)


def test_a_truncated_request_is_malformed(pki):
    der = _request(pki)
    for cut in range(1, len(der)):
        with pytest.raises(ocsp.MalformedRequest):
            ocsp.parse_request(der[:cut])


@pytest.mark.parametrize("length", [0, 33, 64])
def test_a_nonce_outside_1_to_32_bytes_is_refused(pki, length):
    with pytest.raises(ocsp.MalformedRequest, match="RFC 8954"):
        ocsp.parse_request(_request(pki, nonce=b"x" * length))


def test_a_request_for_several_certificates_is_refused_clearly(pki, tmp_path):
    openssl = require_program("openssl")
    for name in ("ca", "leaf"):
        certificate = pki["ca"].certificate if name == "ca" else pki["leaf"]
        (tmp_path / f"{name}.pem").write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    subprocess.run(
        [openssl, "ocsp", "-issuer", str(tmp_path / "ca.pem"), "-cert", str(tmp_path / "leaf.pem"),
         "-cert", str(tmp_path / "leaf.pem"), "-reqout", str(tmp_path / "two.der")],
        check=True, capture_output=True, timeout=60,
    )
    with pytest.raises(ocsp.MalformedRequest, match="several certificates"):
        ocsp.parse_request((tmp_path / "two.der").read_bytes())


@pytest.mark.parametrize("status", ["malformedRequest", "unauthorized", "tryLater"])
def test_unsuccessful_responses_carry_their_status(status):
    parsed = x509_ocsp.load_der_ocsp_response(ocsp.unsuccessful(status))
    assert parsed.response_status.name.replace("_", "").lower() == status.lower()


def test_response_times_are_read_from_the_response(pki):
    times = ocsp.response_times(_answer(pki, "delegated", STATUSES["good"]))
    assert times.next_update - times.this_update == timedelta(seconds=3600 + 60)
