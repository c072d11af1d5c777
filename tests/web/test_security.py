"""Response headers on every page, error pages without internals, and service errors as 4xx."""

import pytest

from portal.errors import PolicyViolation
from portal.web.security import is_safe_next
from tests.web.conftest import csrf_token

HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
}


def _check_headers(response):
    policy = response.headers.get("Content-Security-Policy", "")
    assert "default-src 'none'" in policy
    assert "script-src 'self'" in policy and "style-src 'self'" in policy
    assert "frame-ancestors 'none'" in policy
    assert "unsafe-inline" not in policy and "unsafe-eval" not in policy
    for name, value in HEADERS.items():
        assert response.headers.get(name) == value, name


@pytest.mark.parametrize("path, status", [
    ("/", 200), ("/certificates", 200), ("/certificates?q=x&status=revoked", 200),
    ("/issue", 200), ("/generate", 200), ("/cas", 200), ("/cas/1", 200), ("/users", 200),
    ("/audit", 200), ("/account", 200), ("/no-such-page", 404), ("/certificates/999", 404),
    ("/static/portal.css", 200), ("/static/portal.js", 200),
])
def test_every_page_carries_the_security_headers(admin_web, path, status):
    response = admin_web.get(path)
    response.close()  # static files are streamed from an open file
    assert response.status_code == status
    _check_headers(response)
    if not path.startswith("/static"):
        assert response.headers["Cache-Control"] == "no-store"


def test_sign_in_page_and_errors_carry_them_too(web):
    _check_headers(web.get("/login"))
    _check_headers(web.post("/login", data={}))  # CSRF refusal
    _check_headers(web.get("/"))  # redirect to sign in


def test_pages_hold_no_inline_script_or_style(admin_web):
    for path in ("/", "/certificates", "/issue", "/generate", "/cas", "/users", "/audit"):
        body = admin_web.get(path).get_data(as_text=True)
        assert "<script>" not in body and "<style" not in body, path
        assert " style=" not in body and " onclick=" not in body, path


def test_an_unexpected_error_shows_no_stack_trace(admin_web, monkeypatch, app):
    from portal.services import dashboard

    def explode():
        raise RuntimeError("internal detail that must not leak /etc/secret")

    monkeypatch.setattr(dashboard, "status_counts", explode)
    response = admin_web.get("/")
    body = response.get_data(as_text=True)
    assert response.status_code == 500
    assert "Something went wrong" in body
    assert "Traceback" not in body and "internal detail" not in body and ".py" not in body
    _check_headers(response)


def test_a_service_error_is_a_4xx_with_its_sentence(admin_web, monkeypatch):
    from portal.services import users

    def refuse(*args, **kwargs):
        raise PolicyViolation("this is the reason", field="username")

    monkeypatch.setattr(users, "create_user", refuse)
    response = admin_web.post("/users", data={
        "csrf_token": csrf_token(admin_web, "/users"), "username": "carol", "role": "user",
    })
    assert response.status_code == 400
    assert "this is the reason" in response.get_data(as_text=True)


def test_unknown_pages_are_a_plain_404(admin_web):
    response = admin_web.get("/certificates/424242")
    assert response.status_code == 404
    assert "There is nothing here" in response.get_data(as_text=True)


@pytest.mark.parametrize("target, safe", [
    ("/", True), ("/certificates?q=a", True), ("", False), (None, False),
    ("//evil.example", False), ("/\\evil.example", False), ("https://evil.example", False),
    ("/a\r\nb", False), ("evil.example", False), ("/\tx", False),
])
def test_is_safe_next(target, safe):
    assert is_safe_next(target) is safe
