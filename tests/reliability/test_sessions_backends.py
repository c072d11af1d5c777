"""Sessions on both databases: what ends them, and their idle clock, on SQLite and PostgreSQL."""

from datetime import timedelta

import pytest
from sqlalchemy import select, update

from portal.extensions import db
from portal.models import WebSession
from portal.services import users
from tests.reliability.conftest import BACKENDS
from tests.web.conftest import HttpsClient, csrf_token, sign_in

pytestmark = pytest.mark.parametrize("backend", BACKENDS, indirect=True)
PASSWORD = "bob-password-0123"


@pytest.fixture
def browser(app):
    """An HTTPS test client signed in as the user bob."""
    users.create_user("bob", password=PASSWORD, actor="t")
    app.test_client_class = HttpsClient
    client = app.test_client()
    client.environ_base["HTTP_REFERER"] = "https://localhost/"
    assert sign_in(client, "bob", PASSWORD).status_code == 302
    return client


def copy_of(app, client):
    """Another browser with a copy of the client's session cookie."""
    other = app.test_client()
    other.environ_base.update(client.environ_base)
    other.set_cookie("session", client.get_cookie("session").value, domain="localhost",
                     secure=True)
    return other


def test_sign_out_ends_the_copies_and_a_disable_the_rest(app, browser):
    thief = copy_of(app, browser)
    assert thief.get("/account").status_code == 200
    browser.post("/logout", data={"csrf_token": csrf_token(browser, "/account")})
    assert thief.get("/account").status_code == 302
    sign_in(browser, "bob", PASSWORD)
    users.set_active(users.list_users()[0].id, False, actor="t")
    users.set_active(users.list_users()[0].id, True, actor="t")
    assert browser.get("/account").status_code == 302
    db.session.remove()
    assert db.session.scalars(select(WebSession)).all() == []


def test_the_idle_clock_is_kept_and_enforced(app, browser):
    db.session.remove()
    first = db.session.scalars(select(WebSession)).one().last_seen_at
    db.session.execute(update(WebSession).values(last_seen_at=first - timedelta(minutes=5)))
    db.session.commit()
    assert browser.get("/account").status_code == 200
    db.session.remove()
    assert db.session.scalars(select(WebSession)).one().last_seen_at >= first
    db.session.execute(update(WebSession).values(last_seen_at=first - timedelta(minutes=61)))
    db.session.commit()
    assert browser.get("/account").status_code == 302
