"""Signing in and out: one message for every failure, a throttle, safe redirects, CSRF, roles."""

import pytest
from sqlalchemy import select

from portal import create_app
from portal.extensions import db
from portal.models import AuditEvent
from portal.services import users
from tests.web.conftest import ADMIN_PASSWORD, USER_PASSWORD, HttpsClient, csrf_token, sign_in

ADMIN_PAGES = ["/", "/certificates", "/issue", "/generate", "/cas", "/users", "/audit"]


def test_wrong_password_and_unknown_user_get_the_same_answer(web, admin):
    wrong_password = sign_in(web, "alice", "not-the-password")
    unknown_user = sign_in(web, "mallory", "not-the-password")
    assert wrong_password.status_code == unknown_user.status_code == 200
    for response in (wrong_password, unknown_user):
        body = response.get_data(as_text=True)
        assert "Wrong user name or password." in body
        assert "mallory" not in body.replace('value="mallory"', "")
    denied = db.session.scalars(select(AuditEvent).filter_by(action="auth.login")).all()
    assert [event.outcome for event in denied] == ["denied", "denied"]


def test_sign_in_redirects_home_and_sign_out_needs_a_post(web, admin):
    response = sign_in(web, "alice", ADMIN_PASSWORD)
    assert response.status_code == 302 and response.headers["Location"] == "/"
    assert web.get("/").status_code == 200
    assert web.get("/logout").status_code == 405
    response = web.post("/logout", data={"csrf_token": csrf_token(web, "/")})
    assert response.status_code == 302
    assert web.get("/").status_code == 302  # back to the sign-in page


def test_the_sixth_failed_attempt_in_a_minute_is_refused(web, admin):
    for _attempt in range(5):
        assert sign_in(web, "alice", "wrong-password-x").status_code == 200
    refused = sign_in(web, "alice", ADMIN_PASSWORD)  # even the right password, now
    assert refused.status_code == 429
    assert "Too many failed sign-ins" in refused.get_data(as_text=True)


def test_successful_sign_ins_do_not_count(web, admin):
    for _attempt in range(7):
        assert sign_in(web, "alice", ADMIN_PASSWORD).status_code == 302
        web.post("/logout", data={"csrf_token": csrf_token(web, "/")})


def test_the_throttle_holds_across_worker_processes(app, instance, admin):
    """Two apps on one database stand for two gunicorn workers: they share the count."""
    other = create_app({"TESTING": True})
    other.test_client_class = app.test_client_class = HttpsClient
    first, second = app.test_client(), other.test_client()
    for client in (first, second):
        client.environ_base["HTTP_REFERER"] = "https://localhost/"
    for client in (first, second, first, second, first):
        assert sign_in(client, "alice", "wrong-password-x").status_code == 200
    assert sign_in(second, "alice", ADMIN_PASSWORD).status_code == 429


def test_one_account_is_throttled_whatever_the_address(web, app, admin):
    for number in range(5):
        web.environ_base["REMOTE_ADDR"] = f"192.0.2.{number + 1}"
        assert sign_in(web, "alice", "wrong-password-x").status_code == 200
    web.environ_base["REMOTE_ADDR"] = "192.0.2.99"
    assert sign_in(web, "alice", ADMIN_PASSWORD).status_code == 429


def test_sign_in_starts_a_fresh_session(web, admin):
    with web.session_transaction() as session:
        session["planted"] = "by an attacker"
    sign_in(web, "alice", ADMIN_PASSWORD)
    with web.session_transaction() as session:
        assert "planted" not in session
        assert session["_user_id"].startswith(f"{admin.id}:")


def test_session_cookie_flags(web, admin):
    response = sign_in(web, "alice", ADMIN_PASSWORD)
    cookie = next(v for k, v in response.headers.items()
                  if k == "Set-Cookie" and v.startswith("session="))
    assert "; Secure" in cookie and "; HttpOnly" in cookie and "; SameSite=Lax" in cookie


@pytest.mark.parametrize("target, expected", [
    ("/certificates?status=revoked", "/certificates?status=revoked"),
    ("//evil.example/", "/"),
    ("https://evil.example/", "/"),
    ("/\\evil.example", "/"),
    ("javascript:alert(1)", "/"),
    ("/%0d%0aSet-Cookie:x=1", "/"),  # decoded: a CR LF in the path is refused
])
def test_next_only_leads_within_the_site(web, admin, target, expected):
    response = sign_in(web, "alice", ADMIN_PASSWORD, next_url=target)
    assert response.status_code == 302
    assert response.headers["Location"] == expected


def test_a_post_without_csrf_token_is_refused(web, admin):
    response = web.post("/login", data={"username": "alice", "password": ADMIN_PASSWORD})
    assert response.status_code == 400
    assert "did not come from this site" in response.get_data(as_text=True)
    sign_in(web, "alice", ADMIN_PASSWORD)
    response = web.post("/users", data={"username": "eve", "role": "admin"})
    assert response.status_code == 400
    assert [u.username for u in users.list_users()] == ["alice"]


def test_anonymous_visitors_are_sent_to_sign_in(web):
    for path in ADMIN_PAGES + ["/account", "/certificates/1"]:
        response = web.get(path)
        assert response.status_code == 302, path
        assert response.headers["Location"].startswith("/login?next="), path


def test_a_plain_user_cannot_reach_admin_pages(web, plain_user, root_ca):
    assert sign_in(web, "bob", USER_PASSWORD).headers["Location"] == "/account"
    assert web.get("/").headers["Location"] == "/account"
    for path in ADMIN_PAGES[1:] + ["/certificates/1", "/cas/1"]:
        assert web.get(path).status_code == 403, path
    response = web.post("/users", data={"csrf_token": csrf_token(web, "/account"),
                                        "username": "eve", "role": "admin"})
    assert response.status_code == 403
    assert web.get("/account").status_code == 200


def test_disabled_users_are_signed_out_and_cannot_sign_in(web, admin, plain_user):
    sign_in(web, "bob", USER_PASSWORD)
    assert web.get("/account").status_code == 200
    users.set_active(plain_user.id, False, actor="test")
    assert web.get("/account").status_code == 302
    response = sign_in(web, "bob", USER_PASSWORD)
    assert "Wrong user name or password." in response.get_data(as_text=True)


def test_a_password_reset_ends_the_sessions_of_that_user(web, admin, plain_user):
    sign_in(web, "bob", USER_PASSWORD)
    users.reset_password(plain_user.id, actor="test")
    assert web.get("/account").status_code == 302
