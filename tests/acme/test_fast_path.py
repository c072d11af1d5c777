"""The hot ACME POSTs: answered before Flask's pipeline, on the driver path, like the blueprint."""

import json

from flask import request_started
from sqlalchemy import event
from werkzeug.test import EnvironBuilder, run_wsgi_app

from portal.extensions import db
from portal.web.acme_fast import AcmeFastPath

from .flow import finalize, order_ready
from .jwsclient import JOSE, Client, flask_transport


def complete_order(client, http01, name):
    """A whole order, as a client makes it; the certificate chain's reply."""
    order_url = order_ready(client, http01, [name])
    reply = finalize(client, order_url, [name])
    assert reply.status == 200, reply
    chain = client.post(reply.json["certificate"])
    assert chain.status == 200, chain
    return chain


def test_an_order_skips_flasks_request_pipeline(acme, acme_app, http01):
    complete_order(acme, http01, "www.acme.test")  # first uses (the CA's signer) done
    dispatched = []

    def started(sender, **extra):
        dispatched.append(sender)

    request_started.connect(started, acme_app)
    try:
        complete_order(acme, http01, "api.acme.test")
    finally:
        request_started.disconnect(started, acme_app)
    assert dispatched == []


def test_an_order_runs_no_statement_through_the_orm_session(acme, acme_app, http01):
    complete_order(acme, http01, "www.acme.test")  # first uses (the CA's signer) done
    statements = []

    def executed(conn, cursor, statement, parameters, context, executemany):
        statements.append(statement)

    engine = db.engine
    event.listen(engine, "before_cursor_execute", executed)
    try:
        complete_order(acme, http01, "api.acme.test")
    finally:
        event.remove(engine, "before_cursor_execute", executed)
    assert statements == []


def _pipeline_behind_the_fast_path(app):
    layer = app.wsgi_app
    while not isinstance(layer, AcmeFastPath):
        layer = layer.wsgi_app
    return layer.wsgi_app


def _send(wsgi_app, url: str, body: bytes):
    builder = EnvironBuilder(url, method="POST", data=body, headers={"Content-Type": JOSE})
    try:
        body_iter, status, headers = run_wsgi_app(wsgi_app, builder.get_environ())
        data = b"".join(body_iter)
    finally:
        builder.close()
    return status, headers, data


def _compare(client, app, url: str, payload=None):
    """The same request answered by the fast path and by the blueprint behind it."""
    fast = _send(app.wsgi_app, url, client.sign(url, payload))
    client.nonce = None
    flask = _send(_pipeline_behind_the_fast_path(app), url, client.sign(url, payload))
    client.nonce = None
    for answer in (fast, flask):
        assert answer[1]["Replay-Nonce"]
    assert fast[0] == flask[0]
    assert fast[2] == flask[2] or json.loads(fast[2]) == json.loads(flask[2])
    names = {name.lower() for name, _ in fast[1]} - {"content-length"}
    assert names == {name.lower() for name, _ in flask[1]} - {"content-length"}
    for name in names - {"replay-nonce"}:
        assert fast[1].getlist(name) == flask[1].getlist(name), name
    return fast


def test_the_fast_path_answers_as_the_blueprint_does(acme, acme_app, http01):
    order_url = order_ready(acme, http01, ["www.acme.test"])
    order = _compare(acme, acme_app, order_url)
    assert order[0] == "200 OK"
    authz_url = json.loads(order[2])["authorizations"][0]
    _compare(acme, acme_app, authz_url)
    challenge_url = json.loads(_send(acme_app.wsgi_app, authz_url, acme.sign(authz_url, None))[2]
                               )["challenges"][0]["url"]
    acme.nonce = None
    assert _compare(acme, acme_app, challenge_url)[1]["Link"]


def test_the_fast_path_refuses_as_the_blueprint_does(acme, acme_app, http01):
    order_url = order_ready(acme, http01, ["www.acme.test"])
    stranger = Client(flask_transport(acme_app.test_client()), acme.directory["newAccount"]
                      .replace("new-account", "directory"))
    assert stranger.register().status == 201
    refused = _compare(stranger, acme_app, order_url)
    assert refused[0].startswith("404")
    assert refused[1]["Content-Type"] == "application/problem+json"
    finalize_url = order_url + "/finalize"
    not_ready = _compare(acme, acme_app, finalize_url, {"csr": "AAAA"})
    assert json.loads(not_ready[2])["type"].endswith(":badCSR")
