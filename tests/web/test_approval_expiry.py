"""An approved request for a key made here expires when nobody downloads it in time."""

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select, update

from portal.extensions import db
from portal.models import AuditEvent, Certificate, CertificateRequest
from tests.web.selfhelp import P12_PASSWORD, person, post_form, signed_in_client


@pytest.fixture
def approved(app, admin_web):
    """Bob's approved request for a key the portal makes; (his client, the request id)."""
    person("bob", email="bob@example.com")
    bob_web = signed_in_client(app, "bob")
    response = post_form(bob_web, "/account/request", {
        "profile": "client", "method": "generate", "common_name": "bob",
        "email": "bob@example.com", "key_type": "ec-p256"})
    request_id = int(response.headers["Location"].rstrip("/").rsplit("/", 1)[1])
    decided = post_form(admin_web, f"/requests/{request_id}", {"decision": "approve",
                                                               "comment": ""})
    assert decided.status_code == 302
    return bob_web, request_id


def _age(request_id: int, days: float) -> None:
    db.session.execute(update(CertificateRequest).where(CertificateRequest.id == request_id)
                       .values(decided_at=datetime.now(UTC) - timedelta(days=days)))
    db.session.commit()
    db.session.expire_all()


def _download(client, request_id):
    path = f"/account/requests/{request_id}"
    return post_form(client, f"{path}/download",
                     {"password": P12_PASSWORD, "compatibility": "compatible"}, token_from=path)


def test_the_page_says_until_when_the_approval_can_be_downloaded(app, approved):
    bob_web, request_id = approved
    assert app.config["PORTAL_APPROVAL_DOWNLOAD_DAYS"] == 14
    row = db.session.get(CertificateRequest, request_id)
    deadline = (row.decided_at.replace(tzinfo=UTC) + timedelta(days=14)).strftime("%Y-%m-%d")
    page = bob_web.get(f"/account/requests/{request_id}").get_data(as_text=True)
    assert 'id="download-deadline"' in page and deadline in page
    assert deadline in bob_web.get("/account").get_data(as_text=True)


def test_an_approval_within_its_window_still_downloads(approved):
    bob_web, request_id = approved
    _age(request_id, 13.9)
    response = _download(bob_web, request_id)
    assert response.status_code == 200 and response.mimetype == "application/x-pkcs12"


def test_an_expired_approval_cannot_be_downloaded_says_so_and_is_audited(approved):
    bob_web, request_id = approved
    _age(request_id, 14.1)
    response = _download(bob_web, request_id)
    body = response.get_data(as_text=True)
    assert response.status_code == 410, body[:1000]
    assert "This approval expired on" in body and "Request the certificate again" in body
    assert db.session.scalar(select(Certificate.id)) is None
    assert db.session.get(CertificateRequest, request_id).status == "expired"
    expiries = list(db.session.scalars(select(AuditEvent).filter_by(action="request.expire")))
    assert len(expiries) == 1 and f"request {request_id} of bob" in expiries[0].detail
    denied = db.session.scalar(select(AuditEvent).filter_by(action="request.download",
                                                            outcome="denied"))
    assert denied is not None and denied.actor == "web:bob"
    page = bob_web.get(f"/account/requests/{request_id}").get_data(as_text=True)
    assert "expired (not downloaded)" in page and "Download .p12" not in page
    account = bob_web.get("/account").get_data(as_text=True)
    assert "Choose a password and download" not in account
    assert len(list(db.session.scalars(select(AuditEvent).filter_by(
        action="request.expire")))) == 1  # expired once, however often it is looked at


def test_the_window_is_a_setting(app, approved):
    bob_web, request_id = approved
    app.config["PORTAL_APPROVAL_DOWNLOAD_DAYS"] = 30
    _age(request_id, 20)
    assert _download(bob_web, request_id).status_code == 200
