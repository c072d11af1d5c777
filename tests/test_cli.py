"""Every command of the foundation, driven as a user would: Flask's CliRunner or the real script.

Each command that changes something must leave exactly its audit event; errors are one line on
stderr with a non-zero exit; read-only commands write nothing.
"""

import hashlib
import json
import os
import re
import sqlite3
import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from werkzeug.security import check_password_hash

from tests.conftest import run_portal
from tests.pki import make_csr, openssl_verify

SERIAL_HEX = re.compile(r"^(?:[0-9A-F]{2})+$")


def sql(instance: Path, query: str, *params) -> list[tuple]:
    """Rows of a query on the instance database, read directly from the file."""
    connection = sqlite3.connect(instance / "portal.sqlite3")
    try:
        return connection.execute(query, params).fetchall()
    finally:
        connection.close()


def audit_actions(instance: Path) -> list[str]:
    """The audit log's actions, oldest first."""
    return [row[0] for row in sql(instance, "SELECT action FROM audit_events ORDER BY id")]


def snapshot(instance: Path) -> dict[str, list[tuple]]:
    """Every row of every table (the logical content of the database)."""
    tables = [row[0] for row in sql(instance, "SELECT name FROM sqlite_master WHERE type='table'")]
    return {table: sorted(map(repr, sql(instance, f'SELECT * FROM "{table}"'))) for table in tables}


def invoke(runner, *args, input=None, ok=True):
    """Run a command in-process; by default insist that it succeeds."""
    result = runner.invoke(args=list(args), input=input)
    if ok:
        assert result.exit_code == 0, (args, result.output, result.exception)
    return result


def assert_one_line_error(result, says: str) -> None:
    """Exit status 1 and one line on stderr that says what is wrong; nothing on stdout."""
    assert result.exit_code == 1, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("Error: ") and says in lines[0], lines[0]
    assert "Traceback" not in result.output
    assert result.stdout == ""


def outside_ca(common_name: str = "Outside CA", *, ca: bool = True):
    """A certificate and key made elsewhere (a CA by default)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = datetime.now(UTC)
    certificate = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name)
        .public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5)).not_valid_after(now + timedelta(days=365))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(not ca, False, False, False, False, ca, ca, False, False),
                       critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()),
                       critical=False)
        .sign(key, hashes.SHA256())
    )
    return certificate, key


def key_pem(key, password: bytes | None = None) -> bytes:
    """A private key as PKCS#8 PEM, encrypted when a password is given."""
    encryption = (serialization.BestAvailableEncryption(password) if password
                  else serialization.NoEncryption())
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             encryption)


# --- portal init -----------------------------------------------------------------------------

def test_init_twice_does_no_harm(tmp_path, monkeypatch):
    folder = tmp_path / "fresh-instance"
    folder.mkdir()
    folder.chmod(0o755)  # as a git checkout leaves instance/: init must close it
    for name in list(os.environ):
        if name.startswith("PORTAL_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("PORTAL_INSTANCE", str(folder))

    first = run_portal("init", check=True)
    printed = first.stdout.decode()
    passwords = re.findall(r"password: (\S+)", printed)
    assert len(passwords) == 1, printed
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    for secret_file in ("ca-secret", "secret-key"):
        assert stat.S_IMODE((folder / secret_file).stat().st_mode) == 0o600
        assert len((folder / secret_file).read_text().strip()) >= 32
    stored_hash = sql(folder, "SELECT password_hash FROM users WHERE role = 'admin'")
    assert len(stored_hash) == 1 and check_password_hash(stored_hash[0][0], passwords[0])
    assert [row[0] for row in sql(folder, "SELECT name FROM certificate_authorities")] == ["root"]

    files = {path.name: hashlib.sha256(path.read_bytes()).hexdigest()
             for path in folder.iterdir() if not path.name.startswith("portal.sqlite3")}
    content = snapshot(folder)
    second = run_portal("init", check=True)
    again = second.stdout.decode()
    assert "password" not in again and "created" not in again, again
    assert second.stderr.decode().count("\n") <= 1
    assert snapshot(folder) == content
    assert {path.name: hashlib.sha256(path.read_bytes()).hexdigest()
            for path in folder.iterdir() if not path.name.startswith("portal.sqlite3")} == files
    listing = run_portal("ca", "list", check=True).stdout.decode()
    assert "root (default)" in listing and "key ok" in listing


# --- portal ca ... ---------------------------------------------------------------------------

def test_ca_create_root_and_intermediate(runner, instance, tmp_path):
    created = invoke(runner, "ca", "create", "--name", "top", "--key-type", "ec-p384",
                     "--days", "400", "--org", "Example Org")
    assert "created CA 'top'" in created.stdout
    invoke(runner, "ca", "create", "--name", "mid", "--key-type", "rsa-2048", "--parent", "top",
           "--cn", "Example Issuing CA")
    assert audit_actions(instance) == ["ca.create_root", "ca.create_intermediate"]

    top = x509.load_pem_x509_certificate(invoke(runner, "ca", "export", "--name", "top")
                                         .stdout_bytes)
    mid = x509.load_pem_x509_certificate(invoke(runner, "ca", "export", "--name", "mid")
                                         .stdout_bytes)
    assert top.subject.rfc4514_string() == "CN=top,O=Example Org"
    assert isinstance(top.public_key(), ec.EllipticCurvePublicKey)
    assert top.public_key().curve.name == "secp384r1"
    lifetime = top.not_valid_after_utc - top.not_valid_before_utc
    assert timedelta(days=400) <= lifetime <= timedelta(days=400, minutes=2)
    assert mid.issuer == top.subject
    assert mid.subject.rfc4514_string() == "CN=Example Issuing CA"
    assert mid.extensions.get_extension_for_class(x509.BasicConstraints).value.path_length == 0
    (tmp_path / "top.pem").write_bytes(top.public_bytes(serialization.Encoding.PEM))
    (tmp_path / "mid.pem").write_bytes(mid.public_bytes(serialization.Encoding.PEM))
    result = openssl_verify(tmp_path / "top.pem", tmp_path / "mid.pem")
    assert result.returncode == 0, result.stdout + result.stderr

    listing = invoke(runner, "ca", "list").stdout.splitlines()
    assert listing[0].startswith("top (default)\t") and "ec-p384" in listing[0]
    assert listing[1].startswith("mid\t") and "rsa-2048" in listing[1]
    assert all(line.endswith("key ok") for line in listing)


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["--name", "top"], "already exists"),
        (["--name", "x", "--parent", "nope"], "no CA named 'nope'"),
        (["--name", "bad name!"], "a CA name is"),
        (["--name", "leaf-ca", "--parent", "mid"], "may not have intermediates"),
    ],
)
def test_ca_create_refusals_are_one_line_and_write_nothing(runner, instance, args, says):
    invoke(runner, "ca", "create", "--name", "top")
    invoke(runner, "ca", "create", "--name", "mid", "--parent", "top")
    before = snapshot(instance)
    assert_one_line_error(invoke(runner, "ca", "create", *args, ok=False), says)
    assert snapshot(instance) == before


def test_ca_import_plain_and_encrypted_keys(runner, instance, tmp_path):
    certificate, key = outside_ca("Outside CA")
    (tmp_path / "ca.pem").write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    (tmp_path / "ca.key").write_bytes(key_pem(key))
    invoke(runner, "ca", "import", "--cert", str(tmp_path / "ca.pem"), "--key",
           str(tmp_path / "ca.key"))

    other, other_key = outside_ca("Other CA")
    (tmp_path / "other.der").write_bytes(other.public_bytes(serialization.Encoding.DER))
    (tmp_path / "other.key").write_bytes(key_pem(other_key, b"s3cret password"))
    (tmp_path / "password").write_text("s3cret password\n")
    result = invoke(runner, "ca", "import", "--cert", str(tmp_path / "other.der"), "--key",
                    str(tmp_path / "other.key"), "--key-password-file", str(tmp_path / "password"),
                    "--name", "other")
    assert "imported CA 'other'" in result.stdout
    assert audit_actions(instance) == ["ca.import", "ca.import"]
    listing = invoke(runner, "ca", "list").stdout
    assert "Outside-CA (default)" in listing and "\nother\t" in "\n" + listing

    # The imported key signs: a certificate from it verifies against the outside certificate.
    (tmp_path / "req.csr").write_bytes(make_csr("imp.example.com",
                                                sans=[x509.DNSName("imp.example.com")]))
    invoke(runner, "cert", "issue", "--csr", str(tmp_path / "req.csr"), "--profile", "server",
           "--ca", "other", "--out", str(tmp_path / "leaf.pem"))
    (tmp_path / "other.pem").write_bytes(other.public_bytes(serialization.Encoding.PEM))
    result = openssl_verify(tmp_path / "other.pem", tmp_path / "leaf.pem")
    assert result.returncode == 0, result.stdout + result.stderr


def _with_version(certificate: x509.Certificate, version: int) -> bytes:
    """The certificate's DER with its version field set to `version` (signature now wrong)."""
    der = bytearray(certificate.public_bytes(serialization.Encoding.DER))
    at = der.index(b"\xa0\x03\x02\x01\x02")  # [0] EXPLICIT INTEGER 2 (v3)
    der[at + 4] = version
    return bytes(der)


def test_ca_import_refusals_are_one_line_and_write_nothing(runner, root_ca, instance, tmp_path):
    ca_certificate, ca_key = outside_ca("Outside CA")
    leaf_certificate, leaf_key = outside_ca("not a CA", ca=False)
    files = {
        "ca.pem": ca_certificate.public_bytes(serialization.Encoding.PEM),
        "ca.key": key_pem(ca_key),
        "ca-encrypted.key": key_pem(ca_key, b"right password"),
        "leaf.pem": leaf_certificate.public_bytes(serialization.Encoding.PEM),
        "leaf.key": key_pem(leaf_key),
        "wrong-password": b"wrong password\n",
        "garbage.key": b"\x00\x01 not a key",
        # X.509 has versions 1 to 3 (0 to 2): cryptography raises its own InvalidVersion here.
        "version-8.der": _with_version(ca_certificate, 7),
    }
    for name, data in files.items():
        (tmp_path / name).write_bytes(data)
    cases = [
        (["leaf.pem", "leaf.key"], "not a CA certificate"),
        (["ca.pem", "leaf.key"], "does not belong to this certificate"),
        (["ca.pem", "ca-encrypted.key"], "give its password"),
        (["ca.pem", "ca-encrypted.key", "wrong-password"], "wrong password"),
        (["ca.pem", "ca.key", "wrong-password"], "not encrypted"),
        (["ca.pem", "garbage.key"], "not a private key"),
        (["leaf.key", "ca.key"], "not a certificate"),
        (["version-8.der", "ca.key"], "not a valid X509 version"),
    ]
    before = snapshot(instance)
    for names, says in cases:
        args = ["ca", "import", "--cert", str(tmp_path / names[0]), "--key",
                str(tmp_path / names[1])]
        if len(names) == 3:
            args += ["--key-password-file", str(tmp_path / names[2])]
        assert_one_line_error(invoke(runner, *args, ok=False), says)
    assert snapshot(instance) == before


def test_ca_export_pem_and_der(runner, root_ca):
    pem = invoke(runner, "ca", "export").stdout_bytes
    der = invoke(runner, "ca", "export", "--der").stdout_bytes
    assert pem.startswith(b"-----BEGIN CERTIFICATE-----")
    assert x509.load_pem_x509_certificate(pem) == x509.load_der_x509_certificate(der)
    assert der == root_ca.certificate_der
    assert invoke(runner, "ca", "export", "--name", "root").stdout_bytes == pem
    assert_one_line_error(invoke(runner, "ca", "export", "--name", "nope", ok=False),
                          "no CA named 'nope'")


def test_ca_commands_before_any_ca_say_what_to_do(runner, instance):
    assert invoke(runner, "ca", "list").stdout == ""
    assert_one_line_error(invoke(runner, "ca", "export", ok=False), "portal init")


# --- portal cert ... -------------------------------------------------------------------------

def test_cert_issue_list_show_revoke(runner, root_ca, instance, tmp_path):
    (tmp_path / "carol.csr").write_bytes(
        make_csr("Carol Example", sans=[x509.RFC822Name("carol@example.com")]))
    issued = invoke(runner, "cert", "issue", "--csr", str(tmp_path / "carol.csr"), "--profile",
                    "client", "--out", str(tmp_path / "carol.pem"))
    assert issued.stdout == ""
    assert issued.stderr.startswith("issued ") and issued.stderr.count("\n") == 1
    carol = x509.load_pem_x509_certificate((tmp_path / "carol.pem").read_bytes())
    assert list(carol.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value) == [
        ExtendedKeyUsageOID.CLIENT_AUTH]

    # The CSR from stdin, the certificate on stdout; a DER CSR is fine too.
    csr = x509.load_pem_x509_csr(make_csr("www.example.com",
                                          sans=[x509.DNSName("www.example.com")]))
    server = invoke(runner, "cert", "issue", "--csr", "-", "--profile", "server", "--days", "30",
                    input=csr.public_bytes(serialization.Encoding.DER))
    www = x509.load_pem_x509_certificate(server.stdout_bytes)
    assert www.not_valid_after_utc - www.not_valid_before_utc <= timedelta(days=30, minutes=1)

    listed = json.loads(invoke(runner, "cert", "list", "--json").stdout)
    assert [entry["subject"] for entry in listed] == ["CN=www.example.com", "CN=Carol Example"]
    for entry, certificate, profile in ((listed[0], www, "server"), (listed[1], carol, "client")):
        assert SERIAL_HEX.match(entry["serial"]) and int(entry["serial"], 16) == (
            certificate.serial_number)
        assert entry["profile"] == profile and entry["status"] == "issued"
        assert entry["not_after"] == certificate.not_valid_after_utc.strftime("%Y-%m-%dT%H:%M:%SZ")
    header, *text_lines = invoke(runner, "cert", "list").stdout.splitlines()
    assert header == "SERIAL\tSTATUS\tPROFILE\tEXPIRES\tSUBJECT"
    assert invoke(runner, "cert", "list", "--no-header").stdout.splitlines() == text_lines
    assert [line.split("\t")[0] for line in text_lines] == [e["serial"] for e in listed]

    serial = listed[1]["serial"]
    colons = ":".join(serial[i:i + 2] for i in range(0, len(serial), 2)).lower()
    shown = invoke(runner, "cert", "show", colons).stdout
    assert re.search(rf"^serial\s+{serial}$", shown, re.MULTILINE)
    assert re.search(r"^status\s+issued$", shown, re.MULTILINE)
    assert re.search(r"^sans\s+email:carol@example.com$", shown, re.MULTILINE)
    assert invoke(runner, "cert", "show", f"serial={serial}", "--pem").stdout_bytes == (
        tmp_path / "carol.pem").read_bytes()

    revoked = invoke(runner, "cert", "revoke", serial, "--reason", "keyCompromise")
    assert f"revoked {serial} (keyCompromise)" in revoked.stdout
    shown = invoke(runner, "cert", "show", serial).stdout
    assert re.search(r"^status\s+revoked$", shown, re.MULTILINE)
    assert re.search(r"^revocation_reason\s+keyCompromise$", shown, re.MULTILINE)
    assert json.loads(invoke(runner, "cert", "list", "--json", "--status", "revoked").stdout)[0][
        "serial"] == serial
    before = snapshot(instance)
    assert_one_line_error(invoke(runner, "cert", "revoke", serial, ok=False), "already revoked")
    assert snapshot(instance) == before
    assert audit_actions(instance).count("certificate.issue") == 2
    assert audit_actions(instance).count("certificate.revoke") == 1


def test_cert_errors_are_one_line(runner, root_ca, instance, tmp_path):
    before = snapshot(instance)
    assert_one_line_error(invoke(runner, "cert", "show", "0BADC0DE", ok=False),
                          "no certificate with serial 0BADC0DE")
    assert_one_line_error(invoke(runner, "cert", "show", "not-hex", ok=False),
                          "not a serial number")
    assert_one_line_error(invoke(runner, "cert", "revoke", "0BADC0DE", ok=False),
                          "no certificate with serial")
    (tmp_path / "req.csr").write_bytes(make_csr("x.example.com",
                                                sans=[x509.DNSName("x.example.com")]))
    assert_one_line_error(invoke(runner, "cert", "issue", "--csr", str(tmp_path / "req.csr"),
                                 "--profile", "server", "--ca", "nope", ok=False), "no CA named")
    assert snapshot(instance) == before


def test_revoking_twice_through_the_real_script(root_ca, instance, tmp_path):
    (tmp_path / "req.csr").write_bytes(make_csr("x.example.com",
                                                sans=[x509.DNSName("x.example.com")]))
    issued = run_portal("cert", "issue", "--csr", str(tmp_path / "req.csr"), "--profile",
                        "server", check=True)
    serial = x509.load_pem_x509_certificate(issued.stdout).serial_number
    run_portal("cert", "revoke", f"{serial:x}", "--reason", "superseded", check=True)
    again = run_portal("cert", "revoke", f"{serial:x}")
    stderr = again.stderr.decode()
    assert again.returncode == 1 and len(stderr.strip().splitlines()) == 1, stderr
    assert "already revoked" in stderr and "Traceback" not in stderr


# --- portal user ... -------------------------------------------------------------------------

def test_user_create(runner, instance, tmp_path):
    (tmp_path / "password").write_text("correct horse battery\n")
    created = invoke(runner, "user", "create", "alice", "--role", "admin", "--password-file",
                     str(tmp_path / "password"))
    assert created.stdout == "created admin 'alice'\n"
    generated = invoke(runner, "user", "create", "bob", "--role", "user").stdout
    password = re.fullmatch(r"created user 'bob'\npassword \(shown once\): (\S+)\n", generated)
    assert password, generated
    rows = dict(sql(instance, "SELECT username, password_hash FROM users"))
    assert check_password_hash(rows["alice"], "correct horse battery")
    assert check_password_hash(rows["bob"], password.group(1))
    assert dict(sql(instance, "SELECT username, role FROM users")) == {"alice": "admin",
                                                                       "bob": "user"}
    assert audit_actions(instance) == ["user.create", "user.create"]

    before = snapshot(instance)
    assert_one_line_error(invoke(runner, "user", "create", "alice", "--role", "user", ok=False),
                          "already exists")
    (tmp_path / "short").write_text("short\n")
    assert_one_line_error(invoke(runner, "user", "create", "carol", "--role", "user",
                                 "--password-file", str(tmp_path / "short"), ok=False),
                          "at least 10 characters")
    assert_one_line_error(invoke(runner, "user", "create", "bad name", "--role", "user",
                                 ok=False), "a user name is")
    (tmp_path / "empty").write_text("\n")
    assert_one_line_error(invoke(runner, "user", "create", "erin", "--role", "user",
                                 "--password-file", str(tmp_path / "empty"), ok=False),
                          "is empty")
    assert snapshot(instance) == before


# --- audit, read-only commands, Flask's own commands -----------------------------------------

def test_every_change_writes_its_audit_event_and_reads_write_nothing(runner, instance,
                                                                     tmp_path):
    (tmp_path / "req.csr").write_bytes(make_csr("a.example.com",
                                                sans=[x509.DNSName("a.example.com")]))
    (tmp_path / "password").write_text("a long enough password\n")
    certificate, key = outside_ca()
    (tmp_path / "ca.pem").write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    (tmp_path / "ca.key").write_bytes(key_pem(key))
    changes = [
        (["ca", "create", "--name", "root"], "ca.create_root"),
        (["ca", "create", "--name", "sub", "--parent", "root"], "ca.create_intermediate"),
        (["ca", "import", "--cert", str(tmp_path / "ca.pem"), "--key", str(tmp_path / "ca.key")],
         "ca.import"),
        (["cert", "issue", "--csr", str(tmp_path / "req.csr"), "--profile", "server"],
         "certificate.issue"),
        (["user", "create", "dave", "--role", "user", "--password-file",
          str(tmp_path / "password")], "user.create"),
    ]
    for args, action in changes:
        before = audit_actions(instance)
        result = invoke(runner, *args)
        assert audit_actions(instance) == [*before, action], args
        if action == "certificate.issue":
            serial = f"{x509.load_pem_x509_certificate(result.stdout_bytes).serial_number:X}"
    before = audit_actions(instance)
    invoke(runner, "cert", "revoke", serial)
    added = audit_actions(instance)[len(before):]
    # The revocation, then whatever CRL publishing it triggers records on its own.
    assert added[0] == "certificate.revoke" and all(a.startswith("crl.") for a in added[1:])
    actors = {row[0] for row in sql(instance, "SELECT actor FROM audit_events")}
    assert len(actors) == 1 and actors.pop().startswith("cli:")

    content = snapshot(instance)
    for args in (["ca", "list"], ["ca", "export"], ["ca", "export", "--der"], ["cert", "list"],
                 ["cert", "list", "--json"], ["cert", "show", serial]):
        invoke(runner, *args)
    assert snapshot(instance) == content


def test_flask_commands_db_upgrade_and_routes(instance):
    upgraded = run_portal("db", "upgrade")
    assert upgraded.returncode == 0, upgraded.stderr.decode()
    routes = run_portal("routes")
    assert routes.returncode == 0, routes.stderr.decode()
    assert re.search(r"GET\s+/\s*$", routes.stdout.decode(), re.MULTILINE)
    helped = run_portal("--help", check=True).stdout.decode()
    for command in ("init", "ca", "cert", "user", "db", "routes"):
        assert re.search(rf"^\s+{command}\s", helped, re.MULTILINE), command
