"""Malformed names refused over the API, the /issue form and the CLI, with nothing written.

Finding 7 (a CSR with an 8-byte iPAddress was signed) and finding 8 (`$` let a trailing
newline through; invisible characters were taken in names) of issue 11.
"""

import ipaddress
import re
import sqlite3

import pytest
from cryptography import x509

from portal.services import tokens, users
from tests.conftest import run_portal
from tests.pki import make_csr
from tests.web.conftest import csrf_token

TABLES = ("certificates", "certificate_names", "audit_events", "users", "certificate_authorities")

MALFORMED = [
    ("ip-8-bytes", [x509.IPAddress(ipaddress.ip_network("10.0.0.0/8"))],
     "IP:10.0.0.0/8 is 8 bytes long"),
    ("dns-empty-label", [x509.DNSName("a..example.com")], "empty label"),
    ("dns-underscore", [x509.DNSName("a_b.example.com")], "'a_b'"),
    ("wildcard-in-the-middle", [x509.DNSName("a.*.example.com")], "'*'"),
    ("duplicate", [x509.DNSName("a.example.com"), x509.DNSName("A.example.com")],
     "DNS:a.example.com twice"),
    ("uri", [x509.UniformResourceIdentifier("https://a.example.com/")],
     "UniformResourceIdentifier"),
]


def counts(instance) -> dict[str, int]:
    """Rows per table, read from the database file."""
    connection = sqlite3.connect(instance / "portal.sqlite3")
    try:
        return {table: connection.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
                for table in TABLES}
    finally:
        connection.close()


@pytest.mark.parametrize(("case", "sans", "says"), MALFORMED, ids=[m[0] for m in MALFORMED])
def test_api_refuses_a_malformed_san_with_400_naming_it(app, root_ca, instance, case, sans,
                                                        says):
    users.create_user("alice", role="admin", password="correct horse battery", actor="t")
    _, token = tokens.create_token("alice", actor="t")
    before = counts(instance)
    response = app.test_client().post(
        "/api/v1/certificates", headers={"Authorization": f"Bearer {token}"},
        json={"csr": make_csr("ok.example.com", sans=sans).decode(), "profile": "server"})
    assert response.status_code == 400, response.get_data(as_text=True)
    assert says in response.json["message"]
    assert response.json["field"] == "sans"
    assert counts(instance) == before


@pytest.mark.parametrize(("case", "sans", "says"), MALFORMED, ids=[m[0] for m in MALFORMED])
def test_issue_form_refuses_a_malformed_san_on_the_field(admin_web, instance, case, sans,
                                                         says):
    before = counts(instance)
    for step in ("preview", "sign"):
        response = admin_web.post("/issue", data={
            "csr": make_csr("ok.example.com", sans=sans).decode(), "profile": "server",
            "ca": "root", "step": step, "csrf_token": csrf_token(admin_web, "/issue")})
        body = response.get_data(as_text=True)
        assert response.status_code == 400
        message = re.search(r'<p class="error" role="alert">([^<]*)</p>', body)
        assert message, body
        assert says.replace("'", "&#39;") in message.group(1)
    assert counts(instance) == before


@pytest.mark.parametrize("name", ["admin\n", "admin\r\n", "ad\u200bmin", "admin\u202e",
                                  "\ufeffadmin"])
def test_cli_user_create_refuses_hidden_characters_and_newlines(root_ca, instance, name):
    run_portal("user", "create", "admin", "--role", "admin", check=True)
    before = counts(instance)
    result = run_portal("user", "create", name, "--role", "admin")
    lines = result.stderr.decode().strip().splitlines()
    assert result.returncode == 1 and len(lines) == 1, result.stderr
    assert "a user name is" in lines[0]
    assert counts(instance) == before


def test_invisible_characters_are_named_in_the_user_name_error(app):
    with pytest.raises(Exception) as raised:
        users.create_user("ad\u200bmin", actor="t")
    assert "U+200B" in raised.value.message


@pytest.mark.parametrize("name", ["issuing\n", "issuing\u200b", "root\n"])
def test_cli_ca_create_refuses_a_trailing_newline(root_ca, instance, name):
    before = counts(instance)
    result = run_portal("ca", "create", "--name", name)
    lines = result.stderr.decode().strip().splitlines()
    assert result.returncode == 1 and len(lines) == 1, result.stderr
    assert "a CA name is" in lines[0]
    assert counts(instance) == before


@pytest.mark.parametrize(("common_name", "says"), [
    ("evil\u202eexe.example.com", "U+202E"), ("ad\u200bmin", "U+200B"),
    ("a\u2060b", "U+2060"), ("a\u00adb", "U+00AD"),
])
def test_ca_common_name_refuses_format_characters(root_ca, instance, common_name, says):
    before = counts(instance)
    result = run_portal("ca", "create", "--name", "other", "--cn", common_name)
    lines = result.stderr.decode().strip().splitlines()
    assert result.returncode == 1 and len(lines) == 1, result.stderr
    assert says in lines[0]
    assert counts(instance) == before


@pytest.mark.parametrize("email", ["bob@example.com\n", "bob@exa\u200bmple.com", "bob"])
def test_user_email_is_checked(app, email):
    with pytest.raises(Exception) as raised:
        users.create_user("bob", email=email, password="correct horse battery", actor="t")
    assert "e-mail" in raised.value.message or "host name" in raised.value.message \
        or "non-ASCII" in raised.value.message
