"""What imports where: the README's compatibility table, measured with the real importers.

OpenSSL 3 (`openssl pkcs12`), NSS (`pk12util`, as Firefox), GnuTLS (`certtool --p12-info`) and
Java 17 (`keytool -importkeystore`) open each key type's .p12 in both modes; the refusals the
portal makes (Ed25519 in *compatible*, NUL and control characters, non-ASCII for
*compatible*) are the cases these tools fail on.
"""

import re
import subprocess
from datetime import UTC, datetime, timedelta

import pytest
from cryptography import x509
from cryptography.x509.oid import NameOID

from portal.ca.keys import generate_private_key, signature_hash_for
from portal.ca.pkcs12 import (
    COMPATIBLE,
    KDF_ROUNDS,
    MAC_ITERATIONS,
    MODERN,
    build_pkcs12,
    check_bundle_options,
    check_bundle_password,
)
from portal.errors import PolicyViolation
from tests.ca.test_pkcs12 import pk12util_import
from tests.conftest import require_program

PASSWORD = "Correct-Horse-9"
KEY_TYPES = ("ec-p256", "ec-p384", "rsa-2048", "ed25519")
TOOLS = ("openssl", "pk12util", "certtool", "keytool")
# Measured here (Debian 12: OpenSSL 3.0, NSS 3.87, GnuTLS 3.7, OpenJDK 17): the README's table.
DOES_NOT_IMPORT = {("pk12util", "ed25519")}


def _bundle(tmp_path, key_type: str, compatibility: str, password: str = PASSWORD):
    key = generate_private_key(key_type)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Jane Doe")])
    now = datetime.now(UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(minutes=1)).not_valid_after(now + timedelta(days=1))
            .sign(key, signature_hash_for(key)))
    path = tmp_path / f"{key_type}-{compatibility}.p12"
    path.write_bytes(build_pkcs12(key, cert, [cert], password=password.encode(),
                                  compatibility=compatibility, friendly_name="Jane Doe"))
    return path


def _run(*args) -> subprocess.CompletedProcess:
    return subprocess.run(args, capture_output=True, text=True, timeout=120)


def import_with(tool: str, path, password: str, folder) -> subprocess.CompletedProcess:
    """Open or import the .p12 with one real tool, as a person would."""
    if tool == "openssl":
        return _run(require_program("openssl"), "pkcs12", "-in", str(path), "-passin",
                    f"pass:{password}", "-nodes", "-out", str(folder / "out.pem"))
    if tool == "pk12util":
        return pk12util_import(path, password, folder / "nss")
    if tool == "certtool":
        return _run(require_program("certtool"), "--p12-info", "--inder", "--password",
                    password, "--infile", str(path))
    destination = folder / "java.p12"
    destination.unlink(missing_ok=True)
    return _run(require_program("keytool"), "-importkeystore", "-noprompt", "-srckeystore",
                str(path), "-srcstoretype", "PKCS12", "-srcstorepass", password,
                "-destkeystore", str(destination), "-deststoretype", "PKCS12",
                "-deststorepass", "Other-Pass-1")


@pytest.mark.parametrize("compatibility", [COMPATIBLE, MODERN])
@pytest.mark.parametrize("key_type", KEY_TYPES)
def test_the_measured_compatibility_table(tmp_path, key_type, compatibility):
    path = _bundle(tmp_path, key_type, compatibility)
    (tmp_path / "wrong").mkdir()
    for tool in TOOLS:
        opened = import_with(tool, path, PASSWORD, tmp_path)
        expected = (tool, key_type) not in DOES_NOT_IMPORT
        assert (opened.returncode == 0) == expected, (tool, opened.stdout + opened.stderr)
        assert import_with(tool, path, "Wrong-Pass-1", tmp_path / "wrong").returncode != 0, tool


def test_compatible_refuses_the_key_types_nss_cannot_import():
    with pytest.raises(PolicyViolation, match="cannot hold an ed25519 key") as refused:
        check_bundle_options(PASSWORD, COMPATIBLE, "ed25519")
    assert refused.value.field == "compatibility"
    check_bundle_options(PASSWORD, MODERN, "ed25519")
    for key_type in ("ec-p256", "ec-p384", "rsa-2048", "rsa-3072", "rsa-4096"):
        check_bundle_options(PASSWORD, COMPATIBLE, key_type)


@pytest.mark.parametrize("compatibility", [COMPATIBLE, MODERN])
def test_java_opens_both_modes_with_an_ascii_password_only(tmp_path, compatibility):
    ascii_password = "Aa0 !\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~"
    opened = import_with("keytool", _bundle(tmp_path, "ec-p256", compatibility, ascii_password),
                         ascii_password, tmp_path)
    assert opened.returncode == 0, opened.stdout + opened.stderr
    # Why compatible refuses non-ASCII: keytool cannot open such a file, in either mode.
    accented = "Pässwörd-9"
    refused = import_with("keytool", _bundle(tmp_path, "ec-p256", compatibility, accented),
                          accented, tmp_path)
    assert refused.returncode != 0 and "password was incorrect" in refused.stdout


@pytest.mark.parametrize("password", ["Correct\x00Horse", "Correct\nHorse", "Correct\tHorse",
                                      "Correct\x7fHorse", "Correct\x85Horse"])
@pytest.mark.parametrize("compatibility", [COMPATIBLE, MODERN, None])
def test_nul_and_control_characters_are_refused_everywhere(password, compatibility):
    with pytest.raises(PolicyViolation, match="NUL byte") as refused:
        check_bundle_password(password, compatibility)
    assert refused.value.field == "password"


def test_non_ascii_is_refused_for_compatible_only():
    with pytest.raises(PolicyViolation, match="ASCII") as refused:
        check_bundle_password("Pässwörd-9", COMPATIBLE)
    assert refused.value.field == "password"
    assert check_bundle_password("Pässwörd-9", MODERN) == "Pässwörd-9".encode()


@pytest.mark.parametrize("compatibility", [COMPATIBLE, MODERN])
def test_the_iteration_counts_are_the_ones_documented(tmp_path, compatibility):
    """The key bags use KDF_ROUNDS and the MAC uses MAC_ITERATIONS, as openssl reads them."""
    info = _run(require_program("openssl"), "pkcs12", "-info", "-noout", "-in",
                str(_bundle(tmp_path, "ec-p256", compatibility)), "-passin", f"pass:{PASSWORD}")
    assert info.returncode == 0, info.stderr
    text = info.stdout + info.stderr
    assert re.findall(r"^MAC: \w+, Iteration (\d+)$", text, re.M) == [str(MAC_ITERATIONS)]
    bags = re.findall(r"^(?:Shrouded Keybag|PKCS7 Encrypted data): .*Iteration (\d+)", text,
                      re.M)
    assert bags == [str(KDF_ROUNDS)] * 2


def test_why_nul_is_refused_a_file_with_one_opens_nowhere(tmp_path):
    """Built anyway (the builder does not check): openssl opens it neither with the whole
    password (read from a file, where it ends at the NUL) nor with the part before the NUL."""
    password = "Correct\x00Horse-9"
    path = _bundle(tmp_path, "ec-p256", MODERN, password)
    (tmp_path / "password").write_bytes(password.encode() + b"\n")
    for source in (f"file:{tmp_path / 'password'}", "pass:Correct"):
        opened = _run(require_program("openssl"), "pkcs12", "-in", str(path), "-passin", source,
                      "-nodes", "-out", str(tmp_path / "out.pem"))
        assert opened.returncode != 0 and "Mac verify error" in opened.stderr, source
