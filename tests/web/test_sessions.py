"""Server-side sessions: a copied cookie dies with sign-out, disable, role change and reset."""

import hashlib
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from portal.extensions import db
from portal.models import ApiToken, AuditEvent, WebSession
from portal.services import tokens, users
from tests.web.conftest import ADMIN_PASSWORD, USER_PASSWORD, csrf_token, post, sign_in

TOKENS_PAGE = "/account/tokens"


def copy_of(client, app, cookie: str | None = None):
    """A second browser holding a copy of a session cookie (what a thief replays)."""
    thief = app.test_client()
    thief.environ_base.update(client.environ_base)
    thief.set_cookie("session", cookie or client.get_cookie("session").value,
                     domain="localhost", secure=True)
    return thief


def live_tokens(user_id: int) -> int:
    """How many unrevoked API tokens a user has."""
    db.session.remove()
    return len(db.session.scalars(
        select(ApiToken.id).filter_by(user_id=user_id, revoked_at=None)).all())


def sessions_of(user_id: int) -> int:
    """How many session rows a user has."""
    db.session.remove()
    return len(db.session.scalars(select(WebSession.id).filter_by(user_id=user_id)).all())


def create_token_with(client, csrf: str):
    """POST the API-token form with a given CSRF token, as a replayed request would."""
    return client.post(TOKENS_PAGE, data={"name": "stolen", "csrf_token": csrf})


def test_a_copied_cookie_and_csrf_token_replayed_after_sign_out_are_refused(web, app, plain_user):
    sign_in(web, "bob", USER_PASSWORD)
    csrf = csrf_token(web, TOKENS_PAGE)
    copied = web.get_cookie("session").value
    assert copy_of(web, app, copied).get("/account").status_code == 200  # works while signed in
    assert web.post("/logout", data={"csrf_token": csrf}).status_code == 302
    replayed = copy_of(web, app, copied).get("/account")
    assert replayed.status_code == 302
    assert replayed.headers["Location"].startswith("/login?next=")
    refused = create_token_with(copy_of(web, app, copied), csrf)
    assert refused.status_code == 400  # the CSRF token ended with the session
    assert live_tokens(plain_user.id) == 0
    assert sessions_of(plain_user.id) == 0


def test_the_cookie_from_before_sign_out_fails_even_from_the_same_browser(web, app, plain_user):
    """The exact replay: the cookie and CSRF token bob held, sent again after he signed out."""
    sign_in(web, "bob", USER_PASSWORD)
    csrf = csrf_token(web, TOKENS_PAGE)
    saved = web.get_cookie("session").value
    web.post("/logout", data={"csrf_token": csrf})
    web.set_cookie("session", saved, domain="localhost", secure=True)
    assert web.get("/account").status_code == 302
    web.set_cookie("session", saved, domain="localhost", secure=True)
    response = create_token_with(web, csrf)
    assert response.status_code == 400  # the CSRF token went with the session
    assert live_tokens(plain_user.id) == 0


def test_sign_out_ends_every_session_of_that_user(web, app, plain_user):
    sign_in(web, "bob", USER_PASSWORD)
    laptop = app.test_client()
    laptop.environ_base.update(web.environ_base)
    sign_in(laptop, "bob", USER_PASSWORD)
    assert sessions_of(plain_user.id) == 2
    web.post("/logout", data={"csrf_token": csrf_token(web, "/account")})
    assert laptop.get("/account").status_code == 302
    assert sessions_of(plain_user.id) == 0


def test_disable_then_enable_brings_back_neither_cookies_nor_tokens(admin_web, app, plain_user):
    _row, token = tokens.create_token("bob", actor="test")
    bob = app.test_client()
    bob.environ_base.update(admin_web.environ_base)
    sign_in(bob, "bob", USER_PASSWORD)
    thief = copy_of(bob, app)
    disabled = post(admin_web, f"/users/{plain_user.id}/active", {"active": "0"},
                    token_from="/users", follow_redirects=True)
    assert "every API token of theirs is revoked" in disabled.get_data(as_text=True)
    post(admin_web, f"/users/{plain_user.id}/active", {"active": "1"}, token_from="/users")
    assert thief.get("/account").status_code == 302
    assert bob.get("/account").status_code == 302
    assert app.test_client().get("/api/v1/certificates",
                                 headers={"Authorization": f"Bearer {token}"}).status_code == 401
    assert live_tokens(plain_user.id) == 0


def test_a_role_change_ends_the_sessions_of_that_user(admin_web, app, plain_user):
    bob = app.test_client()
    bob.environ_base.update(admin_web.environ_base)
    sign_in(bob, "bob", USER_PASSWORD)
    assert bob.get("/account").status_code == 200
    post(admin_web, f"/users/{plain_user.id}/role", {"role": "admin"}, token_from="/users")
    assert bob.get("/account").status_code == 302
    assert sessions_of(plain_user.id) == 0


def test_a_password_reset_ends_sessions_and_revokes_tokens_and_says_so(admin_web, app,
                                                                         plain_user):
    _row, token = tokens.create_token("bob", actor="test")
    bob = app.test_client()
    bob.environ_base.update(admin_web.environ_base)
    sign_in(bob, "bob", USER_PASSWORD)
    page = post(admin_web, f"/users/{plain_user.id}/password", token_from="/users")
    assert "every API" in page.get_data(as_text=True) and "token of theirs is revoked" in (
        page.get_data(as_text=True))
    assert bob.get("/account").status_code == 302
    assert app.test_client().get("/api/v1/certificates",
                                 headers={"Authorization": f"Bearer {token}"}).status_code == 401
    detail = db.session.scalars(select(AuditEvent.detail)
                                .filter_by(action="user.password_reset")).one()
    assert "1 session(s) ended, 1 API token(s) revoked" in detail


def test_the_services_revoke_tokens_on_disable_and_reset(app, plain_user):
    for end in (lambda: users.set_active(plain_user.id, False, actor="t"),
                lambda: users.reset_password(plain_user.id, actor="t")):
        users.set_active(plain_user.id, True, actor="t")
        tokens.create_token("bob", actor="t")
        assert live_tokens(plain_user.id) == 1
        end()
        assert live_tokens(plain_user.id) == 0


def test_a_spoofed_x_forwarded_for_changes_nothing(web, app, plain_user):
    web.environ_base["REMOTE_ADDR"] = "192.0.2.10"
    sign_in(web, "bob", USER_PASSWORD)
    csrf = csrf_token(web, TOKENS_PAGE)
    saved = web.get_cookie("session").value
    # No binding to the address: the same session from elsewhere is the same session...
    elsewhere = copy_of(web, app)
    elsewhere.environ_base["REMOTE_ADDR"] = "198.51.100.7"
    assert elsewhere.get("/account").status_code == 200
    web.post("/logout", data={"csrf_token": csrf})
    # ...and claiming to be the victim's address after sign-out gets nothing.
    for replay in (web, elsewhere):
        replay.environ_base["HTTP_X_FORWARDED_FOR"] = "192.0.2.10"
        replay.set_cookie("session", saved, domain="localhost", secure=True)
        assert replay.get("/account").status_code == 302
        replay.set_cookie("session", saved, domain="localhost", secure=True)
        assert create_token_with(replay, csrf).status_code == 400
    assert live_tokens(plain_user.id) == 0


@pytest.mark.parametrize("column, age", [
    ("last_seen_at", timedelta(minutes=61)),  # idle longer than PORTAL_SESSION_IDLE_MINUTES
    ("created_at", timedelta(hours=12, minutes=1)),  # older than PORTAL_SESSION_LIFETIME_HOURS
])
def test_idle_and_old_sessions_end(web, plain_user, column, age):
    sign_in(web, "bob", USER_PASSWORD)
    assert web.get("/account").status_code == 200
    db.session.remove()
    row = db.session.scalars(select(WebSession)).one()
    db.session.execute(update(WebSession).values({column: getattr(row, column) - age}))
    db.session.commit()
    assert web.get("/account").status_code == 302
    assert sessions_of(plain_user.id) == 0


def test_the_idle_clock_restarts_on_use(web, plain_user):
    sign_in(web, "bob", USER_PASSWORD)
    db.session.remove()
    before = db.session.scalars(select(WebSession)).one().last_seen_at
    db.session.execute(update(WebSession).values(last_seen_at=before - timedelta(minutes=59)))
    db.session.commit()
    assert web.get("/account").status_code == 200
    db.session.remove()
    touched = db.session.scalars(select(WebSession)).one().last_seen_at
    assert touched >= before
    db.session.execute(update(WebSession).values(last_seen_at=touched - timedelta(minutes=59)))
    db.session.commit()
    assert web.get("/account").status_code == 200  # 59 + 59 minutes, but never 60 idle


def test_the_database_keeps_only_the_hash_of_the_session_id(web, admin):
    from flask.sessions import SecureCookieSessionInterface

    sign_in(web, "alice", ADMIN_PASSWORD)
    serializer = SecureCookieSessionInterface().get_signing_serializer(web.application)
    session_id = serializer.loads(web.get_cookie("session").value)["_sid"]
    db.session.remove()
    stored = db.session.scalars(select(WebSession.session_sha256)).one()
    assert stored == hashlib.sha256(session_id.encode()).hexdigest() != session_id
