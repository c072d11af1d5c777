"""Who may do what in the self-service area, over HTTP: only one's own, and no admin's work.

Someone else's certificate or request is a 404 (its existence does not leak), exactly like one
that does not exist; admin pages are a 403 for signed-in users, as the other admin areas are
(require_admin); anonymous visitors are sent to sign in.
"""

import pytest
from sqlalchemy import select

from portal.extensions import db
from portal.models import AuditEvent, Certificate, CertificateRequest, EnrollmentLink
from portal.services import enrollment, selfservice
from tests.web.conftest import USER_PASSWORD, sign_in
from tests.web.selfhelp import certificate_for, near_expiry, person, post_form


@pytest.fixture
def carol_things(app, admin, root_ca):
    """Carol's certificate (renewable), her pending request, and an enrollment link."""
    carol = person("carol", email="carol@example.com")
    certificate = certificate_for(carol)
    near_expiry(certificate)
    request = selfservice.create_request(carol, profile_name="client", method="generate",
                                         common_name="carol", actor="test")
    link, _token = enrollment.create_link(common_name="Someone", actor="test")
    return {"certificate": certificate.id, "request": request.id, "link": link.id}


@pytest.fixture
def bob_web(web, carol_things):
    """Bob, a plain user, signed in; he owns one certificate of his own."""
    bob = person("bob", email="bob@example.com")
    certificate_for(bob)
    assert sign_in(web, "bob", USER_PASSWORD).headers["Location"] == "/account"
    return web


def _their_paths(ids):
    cert, request = ids["certificate"], ids["request"]
    gets = [f"/account/certificates/{cert}", f"/account/certificates/{cert}/pem",
            f"/account/certificates/{cert}/der", f"/account/certificates/{cert}/chain",
            f"/account/requests/{request}"]
    posts = [
        (f"/account/certificates/{cert}/revoke", {"reason": "keyCompromise", "confirm": "y"}),
        (f"/account/certificates/{cert}/renew", {"method": "generate", "key_type": "ec-p256"}),
        (f"/account/requests/{request}/download",
         {"password": "long-enough-1", "compatibility": "modern"}),
        (f"/account/requests/{request}/cancel", {}),
    ]
    return gets, posts


def test_someone_elses_certificate_and_request_are_404_like_missing_ones(bob_web, carol_things):
    gets, posts = _their_paths(carol_things)
    missing_gets, missing_posts = _their_paths({"certificate": 999999, "request": 999999})
    for path in gets + missing_gets:
        response = bob_web.get(path)
        assert response.status_code == 404, path
        assert "carol" not in response.get_data(as_text=True), path
    for path, data in posts + missing_posts:
        response = post_form(bob_web, path, data, token_from="/account")
        assert response.status_code == 404, path
    body = bob_web.get("/account").get_data(as_text=True)
    assert "carol" not in body and "bob" in body
    db.session.expire_all()
    assert db.session.get(Certificate, carol_things["certificate"]).status == "issued"
    request = db.session.get(CertificateRequest, carol_things["request"])
    assert request.status == "pending" and request.certificate_id is None
    assert db.session.scalar(select(CertificateRequest.id).where(
        CertificateRequest.requester_id != request.requester_id)) is None  # no renewal by bob


def test_a_user_cannot_approve_reject_or_reach_the_admin_pages(bob_web, carol_things):
    request, link = carol_things["request"], carol_things["link"]
    for path in ("/requests", f"/requests/{request}", "/policies", "/policies?profile=server",
                 "/enrollment", "/certificates", f"/certificates/{carol_things['certificate']}"):
        assert bob_web.get(path).status_code == 403, path
    for path, data in [
        (f"/requests/{request}", {"decision": "approve", "comment": "mine now"}),
        (f"/requests/{request}", {"decision": "reject", "comment": "no"}),
        ("/policies?profile=client", {"self_service": "y", "approval": "auto",
                                      "common_name_rule": "any", "email_rule": "own"}),
        ("/enrollment", {"common_name": "Bob Again", "profile": "client",
                         "key_type": "ec-p256", "hours": "72"}),
        (f"/enrollment/{link}/cancel", {}),
        (f"/certificates/{carol_things['certificate']}/revoke",
         {"reason": "keyCompromise", "confirm": "y"}),
    ]:
        assert post_form(bob_web, path, data, token_from="/account").status_code == 403, path
    db.session.expire_all()
    assert db.session.get(CertificateRequest, request).status == "pending"
    assert db.session.get(EnrollmentLink, link).cancelled_at is None
    assert db.session.scalar(select(EnrollmentLink.id).where(EnrollmentLink.id != link)) is None
    assert db.session.scalar(select(AuditEvent.id).where(
        AuditEvent.actor == "web:bob", AuditEvent.action.in_(
            ["request.approve", "request.reject", "policy.update", "enroll.create"]))) is None
    navigation = bob_web.get("/account").get_data(as_text=True)
    assert 'href="/requests"' not in navigation and 'href="/enrollment"' not in navigation


def test_the_self_area_is_only_ones_own_even_for_an_admin(admin_web, carol_things):
    gets, _posts = _their_paths(carol_things)
    for path in gets:
        assert admin_web.get(path).status_code == 404, path
    assert admin_web.get(f"/certificates/{carol_things['certificate']}").status_code == 200


def test_anonymous_visitors_are_sent_to_sign_in(web, carol_things):
    gets, posts = _their_paths(carol_things)
    for path in ["/account/request", *gets, "/requests", "/policies", "/enrollment"]:
        response = web.get(path)
        assert response.status_code == 302, path
        assert response.headers["Location"].startswith("/login?next="), path
    for path, data in posts + [(f"/requests/{carol_things['request']}",
                                {"decision": "approve"})]:
        response = post_form(web, path, data, token_from="/login")
        assert response.status_code == 302 and "/login" in response.headers["Location"], path
    db.session.expire_all()
    assert db.session.get(CertificateRequest, carol_things["request"]).status == "pending"


def test_the_new_pages_carry_the_security_headers_and_no_inline_code(app, admin_web,
                                                                      carol_things):
    from tests.web.selfhelp import signed_in_client

    carol = signed_in_client(app, "carol")
    _link, token = enrollment.create_link(common_name="Dee", actor="test")
    pages = [(carol, "/account"), (carol, "/account/request"),
             (carol, f"/account/certificates/{carol_things['certificate']}"),
             (carol, f"/account/requests/{carol_things['request']}"),
             (admin_web, "/requests"), (admin_web, f"/requests/{carol_things['request']}"),
             (admin_web, "/policies"), (admin_web, "/enrollment"),
             (app.test_client(), f"/enroll/{token}")]
    refused = [(app.test_client(), "/enroll/" + "x" * 43)]  # a token that is no link's
    for client, path in pages + refused:
        response = client.get(path)
        body = response.get_data(as_text=True)
        assert response.status_code == (404 if (client, path) in refused else 200), path
        assert "default-src 'none'" in response.headers["Content-Security-Policy"], path
        assert response.headers["Cache-Control"] == "no-store", path
        assert response.headers["X-Frame-Options"] == "DENY", path
        assert "<script>" not in body and "<style" not in body and " style=" not in body, path
