"""The hostile corpus (tests/data/hostile) through the web form, the API and the CLI.

Every case gets a 4xx (or one clear CLI error line), never a 500 or a traceback, and nothing is
written: the rows of certificates, certificate_names and audit_events are the same before and
after. Refused attempts are deliberately not audited: the issue asks that nothing be written,
and an unauthenticated flood of garbage must not be able to grow the database.
"""

import io
import json
from pathlib import Path

import pytest
from sqlalchemy import func, select

from portal.extensions import db
from portal.models import AuditEvent, Certificate, CertificateName
from portal.services import tokens, users
from tests.reliability.conftest import BACKENDS, bearer
from tests.web.conftest import HttpsClient, csrf_token, sign_in
from tests.web.selfhelp import page_errors

CORPUS = Path(__file__).resolve().parent.parent / "data" / "hostile"
CASES = json.loads((CORPUS / "manifest.json").read_text())["cases"]
CSR_CASES = [case for case in CASES if case["kind"] == "csr"]
BODY_CASES = [case for case in CASES if case["kind"] == "body"]
ADMIN_PASSWORD = "admin-password-0123"


def test_the_corpus_is_large_enough():
    assert len(CASES) >= 40
    assert all((CORPUS / case["file"]).is_file() for case in CASES)


def rows() -> tuple[int, int, int]:
    counts = tuple(db.session.scalar(select(func.count()).select_from(model))
                   for model in (Certificate, CertificateName, AuditEvent))
    db.session.remove()
    return counts


@pytest.fixture
def admin_token(app, root_ca):
    """An admin (for the form) with an API token; the counts start after this set-up."""
    users.create_user("alice", role="admin", password=ADMIN_PASSWORD, actor="t")
    return tokens.create_token("alice", actor="t")[1]


@pytest.fixture
def admin_web(app, admin_token):
    """A test client signed in as the admin over HTTPS."""
    app.test_client_class = HttpsClient
    client = app.test_client()
    client.environ_base["HTTP_REFERER"] = "https://localhost/"
    assert sign_in(client, "alice", ADMIN_PASSWORD).status_code == 302
    return client


def _as_text(data: bytes) -> str | None:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return None


# The fields a refusal of the CSR itself names (never an authentication or CSRF problem).
CSR_FIELDS = {"csr", "subject", "sans", "email"}


def _expected_body_status(case: dict) -> int:
    """413 for a body over the limit, 415 for one that is not JSON, 400 for bad JSON content."""
    if case.get("repeat", 1) * (CORPUS / case["file"]).stat().st_size > 256 * 1024:
        return 413
    if not case["content_type"].startswith("application/json"):
        return 415
    return 400


def test_every_csr_case_is_refused_by_the_issue_form(app, admin_web):
    before = rows()
    for case in CSR_CASES:
        data = (CORPUS / case["file"]).read_bytes()
        form = {"profile": "server", "ca": "root", "step": "sign",
                "csrf_token": csrf_token(admin_web, "/issue")}
        text = _as_text(data)
        if text is not None and "\x00" not in text:
            form["csr"] = text
        else:
            form["csr_file"] = (io.BytesIO(data), case["file"])
        response = admin_web.post("/issue", data=form, content_type="multipart/form-data")
        body = response.get_data(as_text=True)
        assert response.status_code == 400, (case["file"], response.status_code)
        # Refused by the CSR checks, shown on the form: not a CSRF or sign-in failure.
        fields, form_errors = page_errors(body)
        assert fields or form_errors, case["file"]
        assert 'name="csr"' in body and "CSRF" not in body, case["file"]
        assert "Traceback" not in body
    assert rows() == before


@pytest.mark.parametrize("backend", BACKENDS, indirect=True)
def test_every_case_is_refused_by_the_api_with_a_json_message(app, admin_token):
    client = app.test_client()
    before = rows()
    for case in CSR_CASES:
        data = (CORPUS / case["file"]).read_bytes()
        body = json.dumps({"csr": data.decode("utf-8", "surrogateescape"), "profile": "server"})
        response = client.post("/api/v1/certificates", data=body,
                               content_type="application/json", headers=bearer(admin_token))
        assert response.status_code == 400, (case["file"], response.status_code)
        assert response.json["status"] == 400 and response.json["message"], case["file"]
        assert response.json["field"] in CSR_FIELDS, (case["file"], response.json)
    for case in BODY_CASES:
        data = (CORPUS / case["file"]).read_bytes() * case.get("repeat", 1)
        response = client.post("/api/v1/certificates", data=data,
                               content_type=case["content_type"], headers=bearer(admin_token))
        assert response.status_code == _expected_body_status(case), (case["file"],
                                                                     response.status_code)
        assert response.is_json and response.json["message"], case["file"]
        assert response.json["status"] == response.status_code
    assert rows() == before


def test_every_csr_case_is_refused_by_the_cli_with_one_line(app, admin_token):
    runner = app.test_cli_runner()
    before = rows()
    for case in CSR_CASES:
        result = runner.invoke(args=["cert", "issue", "--csr", str(CORPUS / case["file"]),
                                     "--profile", "server"])
        assert result.exit_code == 1, (case["file"], result.output)
        assert isinstance(result.exception, SystemExit), (case["file"], result.exception)
        lines = result.output.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("Error: "), (case["file"], lines)
    assert rows() == before
