"""Fixtures for the web tests: users, a signed-in client, and reading CSRF tokens from pages."""

import re

import pytest
from flask import g
from flask.testing import FlaskClient

from portal.services.users import create_user
from tests.web.browser_failures import pytest_runtest_makereport  # noqa: F401 (a pytest hook)

ADMIN_PASSWORD = "admin-password-0123"
USER_PASSWORD = "user-password-0123"
_TOKEN = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')


def csrf_token(client, path: str = "/login") -> str:
    """The CSRF token from a page's form (the session cookie that goes with it stays in client)."""
    page = client.get(path)
    match = _TOKEN.search(page.get_data(as_text=True))
    assert match, f"no CSRF token on {path} ({page.status_code})"
    return match.group(1)


def sign_in(client, username: str, password: str, *, next_url: str | None = None):
    """Post the sign-in form as a browser would."""
    data = {"username": username, "password": password, "csrf_token": csrf_token(client)}
    path = "/login" + (f"?next={next_url}" if next_url else "")
    if next_url:
        data["next"] = next_url
    return client.post(path, data=data)


def post(client, path: str, data: dict | None = None, *, token_from: str | None = None, **kw):
    """POST with the CSRF token of the page the form lives on."""
    data = dict(data or {})
    data["csrf_token"] = csrf_token(client, token_from or path)
    return client.post(path, data=data, **kw)


@pytest.fixture
def admin(app):
    """An admin account."""
    user, _ = create_user("alice", role="admin", password=ADMIN_PASSWORD,
                          email="alice@example.com", actor="test")
    return user


@pytest.fixture
def plain_user(app):
    """An account without admin rights."""
    user, _ = create_user("bob", role="user", password=USER_PASSWORD, actor="test")
    return user


class HttpsClient(FlaskClient):
    """A test client whose requests arrive over HTTPS, as the portal is served."""

    def open(self, *args, **kwargs):
        kwargs.setdefault("base_url", "https://localhost")
        # The `app` fixture keeps one app context for the whole test, so `g` would outlive a
        # request (with the signed-in user and the CSRF token cached in it); in production
        # every request starts with an empty `g`, so empty it here too.
        vars(g).clear()
        return super().open(*args, **kwargs)


@pytest.fixture
def web(app):
    """A test client that speaks HTTPS (the session cookie is Secure)."""
    app.test_client_class = HttpsClient
    client = app.test_client()
    # Browsers send a same-origin Referer (Referrer-Policy: same-origin); Flask-WTF checks it
    # on HTTPS.
    client.environ_base["HTTP_REFERER"] = "https://localhost/"
    return client


@pytest.fixture
def admin_web(web, admin, root_ca):
    """A client signed in as an admin, with a root CA in place."""
    response = sign_in(web, "alice", ADMIN_PASSWORD)
    assert response.status_code == 302, response.get_data(as_text=True)
    return web
