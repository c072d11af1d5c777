"""API tokens: from `portal token create` or the page, shown once, stored hashed, revocable."""

import json
import re

from sqlalchemy import select

from portal.extensions import db
from portal.models import ApiToken, AuditEvent
from portal.services import tokens, users
from tests.reliability.conftest import bearer
from tests.web.conftest import HttpsClient, csrf_token, sign_in

TOKEN = re.compile(r"pt_[A-Za-z0-9_-]{43}")


def test_cli_creates_lists_and_revokes_and_the_database_keeps_only_a_hash(app, runner, instance):
    users.create_user("bot", role="user", password="bot-password-0123", actor="t")
    created = runner.invoke(args=["token", "create", "bot", "--name", "deploys"])
    assert created.exit_code == 0, created.output
    token = TOKEN.search(created.output).group(0)
    client = app.test_client()
    assert client.get("/api/v1/certificates", headers=bearer(token)).status_code == 200

    listed = runner.invoke(args=["token", "list", "--json"])
    items = json.loads(listed.output)
    assert [(i["user"], i["name"], i["revoked_at"]) for i in items] == [("bot", "deploys", None)]
    assert token not in listed.output and token.startswith(items[0]["prefix"])
    db.session.remove()
    db.engine.dispose()
    database = (instance / "portal.sqlite3").read_bytes() + (
        (instance / "portal.sqlite3-wal").read_bytes()
        if (instance / "portal.sqlite3-wal").exists() else b"")
    assert token.encode() not in database
    assert tokens.digest(token).encode() in database

    revoked = runner.invoke(args=["token", "revoke", str(items[0]["id"])])
    assert revoked.exit_code == 0 and "revoked token" in revoked.output
    assert client.get("/api/v1/certificates", headers=bearer(token)).status_code == 401
    again = runner.invoke(args=["token", "revoke", str(items[0]["id"])])
    assert again.exit_code == 1 and "already revoked" in again.output
    unknown = runner.invoke(args=["token", "create", "nobody"])
    assert unknown.exit_code == 1 and "no user named" in unknown.output
    actions = db.session.scalars(select(AuditEvent.action)).all()
    assert actions.count("token.create") == 1 and actions.count("token.revoke") == 1


def _signed_in(app, name: str, password: str):
    app.test_client_class = HttpsClient
    client = app.test_client()
    client.environ_base["HTTP_REFERER"] = "https://localhost/"
    assert sign_in(client, name, password).status_code == 302
    return client


def test_the_page_shows_a_new_token_once_and_revokes_only_your_own(app, root_ca):
    users.create_user("bob", role="user", password="bob-password-0123", actor="t")
    users.create_user("eve", role="user", password="eve-password-0123", actor="t")
    bob = _signed_in(app, "bob", "bob-password-0123")
    page = bob.get("/account/tokens")
    assert page.status_code == 200 and "API tokens" in page.get_data(as_text=True)
    created = bob.post("/account/tokens", data={
        "name": "laptop", "csrf_token": csrf_token(bob, "/account/tokens")})
    assert created.status_code == 200
    assert created.headers["Cache-Control"] == "no-store"
    token = TOKEN.search(created.get_data(as_text=True)).group(0)
    assert all(token not in cookie for cookie in created.headers.getlist("Set-Cookie"))
    assert TOKEN.search(bob.get("/account/tokens").get_data(as_text=True)) is None  # once
    assert app.test_client().get("/api/v1/certificates", headers=bearer(token)).status_code == 200

    refused = bob.post("/account/tokens", data={"name": "laptop"})  # no CSRF token
    assert refused.status_code == 400
    row_id = db.session.scalar(select(ApiToken.id).filter_by(name="laptop"))
    eve = _signed_in(app, "eve", "eve-password-0123")
    eve.post(f"/account/tokens/{row_id}/revoke",
             data={"csrf_token": csrf_token(eve, "/account/tokens")})
    db.session.remove()
    assert db.session.get(ApiToken, row_id).revoked_at is None
    bob.post(f"/account/tokens/{row_id}/revoke",
             data={"csrf_token": csrf_token(bob, "/account/tokens")})
    db.session.remove()
    assert db.session.get(ApiToken, row_id).revoked_at is not None
    assert app.test_client().get("/api/v1/certificates", headers=bearer(token)).status_code == 401
