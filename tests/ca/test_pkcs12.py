"""PKCS#12 and encrypted PEM bundles: both choices open in OpenSSL 3 without -legacy and in NSS."""

import subprocess
from datetime import UTC, datetime, timedelta

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import NameOID

from portal.ca.pkcs12 import (
    COMPATIBLE,
    MODERN,
    build_encrypted_pem,
    build_pkcs12,
    check_bundle_password,
)
from portal.errors import PolicyViolation
from tests.conftest import require_program

PASSWORD = "Correct-Horse-9"


def _pair():
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Jane Doe")])
    now = datetime.now(UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(minutes=1)).not_valid_after(now + timedelta(days=1))
            .sign(key, hashes.SHA256()))
    return key, cert


def openssl_info(path, password: str) -> subprocess.CompletedProcess:
    """`openssl pkcs12 -info -nokeys` as a person would run it: no -legacy."""
    return subprocess.run(
        [require_program("openssl"), "pkcs12", "-info", "-nokeys", "-in", str(path),
         "-passin", f"pass:{password}"],
        capture_output=True, text=True, timeout=60,
    )


def pk12util_import(path, password: str, nss_dir) -> subprocess.CompletedProcess:
    """Import into a fresh NSS database (as Firefox and Chrome on Linux keep them)."""
    nss_dir.mkdir(exist_ok=True)
    if not (nss_dir / "cert9.db").exists():
        subprocess.run([require_program("certutil"), "-N", "-d", f"sql:{nss_dir}",
                        "--empty-password"], check=True, capture_output=True, timeout=60)
    return subprocess.run(
        [require_program("pk12util"), "-i", str(path), "-d", f"sql:{nss_dir}", "-W", password],
        capture_output=True, text=True, timeout=60,
    )


@pytest.mark.parametrize("compatibility, marker", [
    (COMPATIBLE, "pbeWithSHA1And3-KeyTripleDES-CBC"),
    (MODERN, "AES-256-CBC"),
])
def test_both_choices_open_without_legacy_and_import_into_nss(tmp_path, compatibility, marker):
    key, cert = _pair()
    data = build_pkcs12(key, cert, [cert], password=PASSWORD.encode(),
                        compatibility=compatibility, friendly_name="Jane Doe")
    path = tmp_path / "bundle.p12"
    path.write_bytes(data)
    info = openssl_info(path, PASSWORD)
    assert info.returncode == 0, info.stderr
    assert marker in info.stdout + info.stderr
    assert "RC2" not in info.stdout + info.stderr
    assert openssl_info(path, "wrong-password").returncode != 0
    imported = pk12util_import(path, PASSWORD, tmp_path / "nss")
    assert imported.returncode == 0, imported.stdout + imported.stderr
    assert pk12util_import(path, "wrong-password", tmp_path / "nss2").returncode != 0
    loaded = pkcs12.load_pkcs12(data, PASSWORD.encode())
    assert loaded.cert.certificate == cert
    assert loaded.key.private_numbers() == key.private_numbers()


def test_encrypted_pem_needs_the_password(tmp_path):
    key, cert = _pair()
    data = build_encrypted_pem(key, cert, [cert], password=PASSWORD.encode())
    assert data.startswith(b"-----BEGIN ENCRYPTED PRIVATE KEY-----")
    assert data.count(b"BEGIN CERTIFICATE") == 2
    with pytest.raises(TypeError):
        serialization.load_pem_private_key(data, password=None)
    loaded = serialization.load_pem_private_key(data, password=PASSWORD.encode())
    assert loaded.private_numbers() == key.private_numbers()
    path = tmp_path / "bundle.pem"
    path.write_bytes(data)
    result = subprocess.run(
        [require_program("openssl"), "pkey", "-in", str(path), "-passin", f"pass:{PASSWORD}",
         "-noout"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize("password", ["", "short"])
def test_empty_and_short_passwords_are_refused(password):
    with pytest.raises(PolicyViolation) as caught:
        check_bundle_password(password)
    assert caught.value.field == "password"


def test_an_unknown_compatibility_is_refused():
    key, cert = _pair()
    with pytest.raises(PolicyViolation):
        build_pkcs12(key, cert, [], password=b"x" * 10, compatibility="rc2-40")
