"""The validity that will be signed, and why: on the preview page, the CLI and the API."""

import re
from datetime import timedelta

from cryptography import x509

from portal.services import tokens
from tests.pki import make_csr
from tests.reliability.openapi_check import check
from tests.web.conftest import csrf_token

CSR = make_csr("www.example.com", sans=[x509.DNSName("www.example.com")])


def _preview(client, **fields):
    data = {"csr": CSR.decode(), "profile": "server", "ca": "root", "step": "preview", **fields}
    data["csrf_token"] = csrf_token(client, "/issue")
    response = client.post("/issue", data=data)
    assert response.status_code == 200, response.get_data(as_text=True)
    body = response.get_data(as_text=True)
    return re.search(r"<dt>Validity</dt><dd>(.*?)</dd>", body, re.S).group(1)


def test_the_preview_states_the_capped_validity_and_why(admin_web):
    shown = _preview(admin_web, days="5000")
    assert "825 days, until" in shown and "5000 days" not in shown.split("until")[0]
    assert "5000 days requested, capped at the maximum of 825 days (PORTAL_MAX_DAYS)" in shown


def test_the_preview_states_the_requested_or_default_validity(admin_web):
    assert _preview(admin_web, days="30").startswith("30 days, until")
    default = _preview(admin_web)
    assert default.startswith("397 days, until") and "server profile" in default


def test_the_preview_says_when_the_ca_ends_first(admin_web, app):
    from portal.services.authorities import create_ca
    create_ca("short", key_type="ec-p256", parent="root", days=100, actor="test")
    shown = _preview(admin_web, days="300", ca="short")
    assert re.match(r"(99|100) days, until", shown), shown
    assert "end with the certificate of the issuing CA short, on " in shown


def test_cert_issue_notes_the_cap_on_stderr(runner, root_ca, tmp_path):
    (tmp_path / "www.csr").write_bytes(CSR)
    result = runner.invoke(args=["cert", "issue", "--csr", str(tmp_path / "www.csr"),
                                 "--profile", "server", "--days", "5000"])
    assert result.exit_code == 0, result.output
    certificate = x509.load_pem_x509_certificate(result.stdout_bytes)
    lifetime = certificate.not_valid_after_utc - certificate.not_valid_before_utc
    assert timedelta(days=825) <= lifetime <= timedelta(days=825, minutes=10)
    lines = result.stderr.splitlines()
    assert lines[0] == ("note: 5000 days requested, capped at the maximum of 825 days "
                        "(PORTAL_MAX_DAYS)")
    assert lines[1].startswith("issued ")
    plain = runner.invoke(args=["cert", "issue", "--csr", str(tmp_path / "www.csr"),
                                "--profile", "server", "--days", "30"])
    assert plain.exit_code == 0 and plain.stderr.startswith("issued "), plain.stderr


def test_the_api_answer_says_what_was_signed(client, admin, root_ca):
    _row, token = tokens.create_token("alice", actor="test")
    headers = {"Authorization": f"Bearer {token}"}
    capped = client.post("/api/v1/certificates", headers=headers,
                         json={"csr": CSR.decode(), "profile": "server", "days": 5000})
    body = check(capped, "/certificates", "POST")
    assert capped.status_code == 201
    assert body["validity"] == {
        "requested_days": 5000, "days": 825, "capped": True,
        "note": "5000 days requested, capped at the maximum of 825 days (PORTAL_MAX_DAYS)"}
    asked = client.post("/api/v1/certificates", headers=headers,
                        json={"csr": CSR.decode(), "profile": "server", "days": 30})
    assert check(asked, "/certificates", "POST")["validity"] == {
        "requested_days": 30, "days": 30, "capped": False, "note": None}


def test_cert_generate_notes_the_cap_too(runner, root_ca, tmp_path):
    (tmp_path / "pw").write_text("jane-password-0123\n")
    result = runner.invoke(args=["cert", "generate", "--cn", "Jane Doe", "--profile", "client",
                                 "--out", str(tmp_path / "jane.p12"), "--password-file",
                                 str(tmp_path / "pw"), "--days", "5000"])
    assert result.exit_code == 0, result.output
    lines = result.stderr.splitlines()
    assert lines[0] == ("note: 5000 days requested, capped at the maximum of 825 days "
                        "(PORTAL_MAX_DAYS)")
    assert lines[1].startswith("generated ")
