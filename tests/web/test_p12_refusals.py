"""Every page that makes a .p12 refuses what no importer could open, before anything is used.

A NUL or another control character in the password (no importer opens the file), a non-ASCII
password for *compatible* (Java cannot open it) and an Ed25519 key for *compatible* (NSS,
macOS, Android and Windows cannot import it) are refused on their field: nothing is issued,
an approved request stays downloadable and an enrollment link stays usable.
"""

import re

import pytest
from sqlalchemy import select

from portal.extensions import db
from portal.models import Certificate, CertificateRequest, EnrollmentLink
from tests.web.conftest import HttpsClient, csrf_token
from tests.web.selfhelp import P12_PASSWORD, page_errors, person, post_form, signed_in_client

REFUSALS = [
    ({"password": "Correct\x00Horse-9"}, "password", "NUL byte"),
    ({"password": "Correct\rHorse-9"}, "password", "control character"),
    ({"password": "Pässwörd-99"}, "password", "ASCII"),
]
LINK = re.compile(r'id="new-link">https://[^<]+/enroll/([A-Za-z0-9_-]+)<')


def _field_error(response, field: str, says: str) -> None:
    body = response.get_data(as_text=True)
    assert response.status_code == 400, body[:2000]
    fields, _form = page_errors(body)
    assert list(fields) == [field] and says in " ".join(fields[field]), fields


@pytest.mark.parametrize("changes, field, says", [
    *REFUSALS, ({"key_type": "ed25519"}, "compatibility", "cannot hold an ed25519 key")])
def test_the_generate_page_refuses_on_the_field(admin_web, changes, field, says):
    data = {"common_name": "Jane Doe", "email": "jane@example.com", "profile": "client",
            "key_type": "ec-p256", "password": P12_PASSWORD, "compatibility": "compatible",
            "output": "p12", "ca": "root", **changes}
    data["csrf_token"] = csrf_token(admin_web, "/generate")
    _field_error(admin_web.post("/generate", data=data), field, says)
    assert db.session.scalar(select(Certificate.id)) is None


def test_the_generate_page_says_what_refuses_ed25519(admin_web):
    for page in ("/generate", "/enrollment", "/cas"):
        assert "not imported by Firefox/NSS" in admin_web.get(page).get_data(as_text=True), page


@pytest.fixture
def approved(app, admin_web):
    """Bob's approved request for a key the portal makes; (his client, the request id)."""
    person("bob", email="bob@example.com")
    bob_web = signed_in_client(app, "bob")
    response = post_form(bob_web, "/account/request", {
        "profile": "client", "method": "generate", "common_name": "bob",
        "email": "bob@example.com", "key_type": "ed25519"})
    request_id = int(response.headers["Location"].rstrip("/").rsplit("/", 1)[1])
    assert "not imported by Firefox/NSS" in bob_web.get("/account/request").get_data(
        as_text=True)
    decided = post_form(admin_web, f"/requests/{request_id}", {"decision": "approve",
                                                               "comment": ""})
    assert decided.status_code == 302
    return bob_web, request_id


@pytest.mark.parametrize("changes, field, says", [
    *REFUSALS, ({"password": P12_PASSWORD}, "compatibility", "cannot hold an ed25519 key")])
def test_the_self_service_download_refuses_and_stays_downloadable(approved, changes, field,
                                                                   says):
    bob_web, request_id = approved
    data = {"password": P12_PASSWORD, "compatibility": "compatible", **changes}
    path = f"/account/requests/{request_id}"
    _field_error(post_form(bob_web, f"{path}/download", data, token_from=path), field, says)
    assert db.session.get(CertificateRequest, request_id).status == "approved"
    assert db.session.scalar(select(Certificate.id)) is None
    done = post_form(bob_web, f"{path}/download",
                     {"password": P12_PASSWORD, "compatibility": "modern"}, token_from=path)
    assert done.status_code == 200 and done.mimetype == "application/x-pkcs12"


@pytest.mark.parametrize("changes, field, says", [
    *REFUSALS, ({"password": P12_PASSWORD}, "compatibility", "cannot hold an ed25519 key")])
def test_an_enrollment_link_refuses_before_it_is_used_up(app, admin_web, changes, field, says):
    created = post_form(admin_web, "/enrollment", {
        "common_name": "Jane Doe", "email": "jane@example.com", "profile": "client",
        "key_type": "ed25519", "hours": "72"})
    token = LINK.search(created.get_data(as_text=True)).group(1)
    app.test_client_class = HttpsClient
    stranger = app.test_client()
    stranger.environ_base["HTTP_REFERER"] = "https://localhost/"
    data = {"password": P12_PASSWORD, "compatibility": "compatible", **changes}
    _field_error(post_form(stranger, f"/enroll/{token}", data), field, says)
    link = db.session.scalar(select(EnrollmentLink))
    db.session.refresh(link)
    assert link.used_at is None and db.session.scalar(select(Certificate.id)) is None
    done = post_form(stranger, f"/enroll/{token}",
                     {"password": P12_PASSWORD, "compatibility": "modern"})
    assert done.status_code == 200 and done.mimetype == "application/x-pkcs12"
