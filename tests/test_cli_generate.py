"""`portal cert generate`: the same key generation as the web page, from the shell."""

import os
import stat

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.serialization import pkcs12
from sqlalchemy import select

from portal.extensions import db
from portal.models import Certificate
from tests.ca.test_pkcs12 import openssl_info


@pytest.mark.parametrize("flag", ["--compatible", "--modern"])
def test_generate_writes_a_private_p12(runner, root_ca, tmp_path, flag):
    (tmp_path / "pw").write_text("cli-password-123\n")
    out = tmp_path / "jane.p12"
    result = runner.invoke(args=[
        "cert", "generate", "--cn", "Jane Doe", "--email", "jane@example.com",
        "--profile", "client", "--out", str(out), "--password-file", str(tmp_path / "pw"), flag,
    ])
    assert result.exit_code == 0, result.output
    assert stat.S_IMODE(os.stat(out).st_mode) == 0o600
    bundle = pkcs12.load_pkcs12(out.read_bytes(), b"cli-password-123")
    assert bundle.cert.certificate.subject.rfc4514_string() == "CN=Jane Doe"
    assert openssl_info(out, "cli-password-123").returncode == 0
    row = db.session.scalar(select(Certificate))
    assert row.status == "issued" and row.profile == "client"


def test_generate_a_server_p12_with_sans(runner, root_ca, tmp_path):
    (tmp_path / "pw").write_text("cli-password-123")
    out = tmp_path / "api.p12"
    result = runner.invoke(args=[
        "cert", "generate", "--cn", "api.example.com", "--san", "DNS:api.example.com",
        "--san", "IP:192.0.2.1", "--profile", "server", "--out", str(out),
        "--password-file", str(tmp_path / "pw"),
    ])
    assert result.exit_code == 0, result.output
    certificate = pkcs12.load_pkcs12(out.read_bytes(), b"cli-password-123").cert.certificate
    sans = certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert sans.get_values_for_type(x509.DNSName) == ["api.example.com"]


def test_an_empty_password_file_is_one_clear_error(runner, root_ca, tmp_path):
    (tmp_path / "pw").write_text("\n")
    result = runner.invoke(args=[
        "cert", "generate", "--cn", "x", "--profile", "client", "--out", str(tmp_path / "x.p12"),
        "--password-file", str(tmp_path / "pw"),
    ])
    assert result.exit_code == 1
    assert "a password is required" in result.output
    assert "Traceback" not in result.output
    assert not (tmp_path / "x.p12").exists()
    assert db.session.scalar(select(Certificate.id)) is None


@pytest.mark.parametrize("key_type", ["rsa-2048", "ec-p256"])
def test_the_generated_key_is_stored_nowhere_but_the_file(runner, root_ca, instance, tmp_path,
                                                         key_type):
    from tests.keyscan import places_holding_key

    (tmp_path / "pw").write_text("cli-password-123\n")
    out = tmp_path / "out" / "jane.p12"
    out.parent.mkdir()
    result = runner.invoke(args=[
        "cert", "generate", "--cn", "Jane Doe", "--profile", "client", "--key-type", key_type,
        "--out", str(out), "--password-file", str(tmp_path / "pw"),
    ])
    assert result.exit_code == 0, result.output
    p12 = out.read_bytes()
    key = pkcs12.load_pkcs12(p12, b"cli-password-123").key
    db.session.remove()
    assert places_holding_key(key, engine=db.engine, folders=[instance], p12=p12,
                              password="cli-password-123") == []
    assert "cli-password-123" not in result.output


def _generate(runner, tmp_path, *extra, password: bytes = b"cli-password-123\n",
              out: str | None = None):
    (tmp_path / "pw").write_bytes(password)
    return runner.invoke(args=[
        "cert", "generate", "--cn", "Jane Doe", "--profile", "client", "--out",
        out or str(tmp_path / "jane.p12"), "--password-file", str(tmp_path / "pw"), *extra,
    ])


def _one_line_error(result, says: str) -> None:
    assert result.exit_code == 1, result.output
    assert result.stderr.strip().count("\n") == 0 and says in result.stderr, result.stderr
    assert "Traceback" not in result.output


def test_an_output_that_cannot_be_written_is_refused_before_anything_is_signed(
        runner, root_ca, tmp_path):
    result = _generate(runner, tmp_path, out="/nonexistent/x.p12")
    _one_line_error(result, "cannot write '/nonexistent/x.p12': No such file or directory")
    assert "revoke" not in result.stderr
    assert db.session.scalar(select(Certificate.id)) is None


def test_a_refused_request_leaves_no_empty_output_file(runner, root_ca, tmp_path):
    result = _generate(runner, tmp_path, "--key-type", "ed25519")
    _one_line_error(result, "cannot hold an ed25519 key")
    assert not (tmp_path / "jane.p12").exists()
    assert db.session.scalar(select(Certificate.id)) is None


def test_a_write_that_fails_after_signing_revokes_the_certificate(runner, root_ca, tmp_path):
    """/dev/full opens but every write fails (ENOSPC), as a full disk does."""
    result = _generate(runner, tmp_path, out="/dev/full")
    _one_line_error(result, "was revoked (cessationOfOperation), as its key is lost")
    row = db.session.scalar(select(Certificate))
    assert row.status == "revoked" and row.revocation_reason == "cessationOfOperation"
    assert row.serial in result.stderr


@pytest.mark.parametrize("password, says", [
    (b"cli\x00password-123\n", "NUL byte"),
    (b"cli\x1bpassword-123\n", "control character"),
    ("clí-pässword-123\n".encode(), "ASCII"),
    (b"cli-\xffpassword-123\n", "is not UTF-8 text"),
])
def test_unusable_passwords_are_one_line_and_nothing_is_issued(runner, root_ca, tmp_path,
                                                               password, says):
    _one_line_error(_generate(runner, tmp_path, password=password), says)
    assert not (tmp_path / "jane.p12").exists()
    assert db.session.scalar(select(Certificate.id)) is None


def test_modern_keeps_a_non_ascii_password_and_an_ed25519_key(runner, root_ca, tmp_path):
    result = _generate(runner, tmp_path, "--modern", "--key-type", "ed25519",
                       password="clí-pässword-123\n".encode())
    assert result.exit_code == 0, result.output
    bundle = pkcs12.load_pkcs12((tmp_path / "jane.p12").read_bytes(),
                                "clí-pässword-123".encode())
    assert bundle.cert.certificate.subject.rfc4514_string() == "CN=Jane Doe"


def test_the_key_type_help_says_what_does_not_accept_ed25519(runner, root_ca):
    for command in (["cert", "generate"], ["ca", "create"], ["enroll", "create"]):
        text = " ".join(runner.invoke(args=[*command, "--help"]).output.split())
        assert "Ed25519: not imported by Firefox/NSS" in text, command
