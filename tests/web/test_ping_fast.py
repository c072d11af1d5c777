"""/ping's fast path answers a good certificate's "pong" before Flask, with the view's bytes.

Each case sends the same request to the app (fast path in front) and to the pipeline behind
the fast path (the blueprint's view alone), and compares status, headers, body and what the
access log reads from the environ.
"""

from urllib.parse import quote

import pytest
from cryptography import x509
from flask import request_started
from werkzeug.test import EnvironBuilder, run_wsgi_app

from portal import create_app
from portal.ca.pem import to_pem
from portal.ca.serials import serial_to_hex
from portal.proxies import PEER_ADDRESS
from portal.services import certificates
from portal.services.authorities import create_ca
from portal.services.issuance import issue_from_csr
from portal.web.ping_fast import PingFastPath
from tests.peer import presenting
from tests.pki import make_csr

# What gunicorn's access log reads from the environ that the proxies' handling changes.
LOGGED_KEYS = ("REMOTE_ADDR", PEER_ADDRESS, "HTTP_X_FORWARDED_FOR", "HTTP_X_REAL_IP")
PONG_HEADERS = [
    ("Content-Type", "text/plain; charset=utf-8"),
    ("Content-Length", "4"),
    ("Content-Security-Policy", "default-src 'none'; script-src 'self'; style-src 'self'; "
     "img-src 'self' data:; font-src 'self'; connect-src 'self'; form-action 'self'; "
     "base-uri 'none'; frame-ancestors 'none'"),
    ("X-Content-Type-Options", "nosniff"),
    ("X-Frame-Options", "DENY"),
    ("Referrer-Policy", "same-origin"),
    ("Cross-Origin-Opener-Policy", "same-origin"),
    ("Permissions-Policy", "camera=(), microphone=(), geolocation=(), payment=()"),
    ("Strict-Transport-Security", "max-age=31536000"),
    ("Vary", "Cookie"),
]


def _leaf(ca_name: str | None = None) -> str:
    issued = issue_from_csr(make_csr("alice"), "client", ca_name=ca_name, actor="test")
    return to_pem(issued.certificate).decode()


def _serial(pem: str) -> str:
    return serial_to_hex(x509.load_pem_x509_certificate(pem.encode()).serial_number)


def _behind_the_fast_path(app):
    layer = app.wsgi_app
    while not isinstance(layer, PingFastPath):
        layer = layer.wsgi_app
    return layer.wsgi_app


def _send(wsgi_app, environ: dict, headers: dict, scheme: str):
    builder = EnvironBuilder("/ping", base_url=f"{scheme}://localhost/", headers=headers,
                             environ_base={"REMOTE_ADDR": "127.0.0.1", **environ})
    seen = []

    def recording(environ, start_response):  # run_wsgi_app passes on a copy of the environ
        seen.append(environ)
        return wsgi_app(environ, start_response)

    try:
        body, status, answer_headers = run_wsgi_app(recording, builder.get_environ())
        data = b"".join(body)
        if hasattr(body, "close"):
            body.close()
    finally:
        builder.close()
    logged = {key: seen[0].get(key) for key in LOGGED_KEYS}
    return status, list(answer_headers.to_wsgi_list()), data, logged


def answers(app, environ: dict | None = None, headers: dict | None = None, *,
            scheme: str = "https"):
    """The app's answer and the blueprint's to the same request: they must be the same."""
    dispatched = []

    def started(sender, **extra):
        dispatched.append(sender)

    request_started.connect(started, app)
    try:
        fast = _send(app.wsgi_app, environ or {}, headers or {}, scheme)
    finally:
        request_started.disconnect(started, app)
    view = _send(_behind_the_fast_path(app), environ or {}, headers or {}, scheme)
    assert fast == view
    return fast, bool(dispatched)


def test_pong_is_the_views_pong_without_flasks_pipeline(app, root_ca):
    alice = _leaf()
    (status, headers, body, logged), through_flask = answers(app, presenting(alice))
    assert (status, headers, body) == ("200 OK", PONG_HEADERS, b"pong")
    assert not through_flask
    assert logged["REMOTE_ADDR"] == "127.0.0.1" and logged[PEER_ADDRESS] == "127.0.0.1"
    # Over plain HTTP (behind a proxy that ends TLS, say) there is no HSTS, as from the view.
    (status, headers, body, _), through_flask = answers(app, presenting(alice), scheme="http")
    assert headers == [h for h in PONG_HEADERS if h[0] != "Strict-Transport-Security"]
    assert not through_flask
    # curl's "Accept: */*" is text too; a JSON reader gets the view's JSON.
    (_, _, body, _), through_flask = answers(app, presenting(alice), {"Accept": "*/*"})
    assert body == b"pong" and not through_flask
    (_, headers, body, _), through_flask = answers(app, presenting(alice),
                                                   {"Accept": "application/json"})
    assert b'"subject":"CN=alice"' in body and through_flask


def test_no_certificate_gets_the_views_401(app, root_ca):
    (status, _, body, _), through_flask = answers(app, presenting(None))
    assert (status, body) == ("401 UNAUTHORIZED", b"a client certificate is required: "
                              b"present one issued by this portal\n")
    assert through_flask


def test_a_revoked_leaf_is_refused_on_the_next_request(app, root_ca):
    alice = _leaf()
    assert answers(app, presenting(alice))[0][2] == b"pong"
    certificates.revoke_certificate(_serial(alice), actor="test")
    (status, _, body, _), _ = answers(app, presenting(alice))
    assert status == "403 FORBIDDEN" and b"has been revoked" in body


def test_a_leaf_of_a_revoked_intermediate_is_refused_on_the_next_request(app, root_ca):
    issuing = create_ca("issuing", key_type="ec-p256", parent=root_ca.name, actor="test")
    alice = _leaf("issuing")
    assert answers(app, presenting(alice))[0][2] == b"pong"
    certificates.revoke_certificate(issuing.serial, reason="cACompromise", actor="test")
    (status, _, body, _), _ = answers(app, presenting(alice))
    assert status == "403 FORBIDDEN"
    assert b"issued by CA issuing" in body and b"revoked" in body


@pytest.fixture
def proxied(runner, root_ca, instance):
    """An app that trusts 127.0.0.1 as its proxy, and the proxy's certificate (PEM)."""
    result = runner.invoke(args=["webserver-config", "nginx"])
    assert result.exit_code == 0, result.output
    return (create_app({"TESTING": True, "PORTAL_TRUSTED_PROXIES": "127.0.0.1"}),
            (instance / "proxy-client.crt").read_text())


def test_a_forwarded_certificate_counts_only_from_the_authenticated_proxy(proxied):
    app, proxy = proxied
    alice = _leaf()
    forwarded = {"X-SSL-Client-Cert": quote(alice), "X-Forwarded-For": "192.0.2.7"}
    (status, headers, body, logged), through_flask = answers(app, presenting(proxy), forwarded)
    assert (status, headers, body) == ("200 OK", PONG_HEADERS, b"pong") and not through_flask
    assert logged == {"REMOTE_ADDR": "192.0.2.7", PEER_ADDRESS: "127.0.0.1",
                      "HTTP_X_FORWARDED_FOR": "192.0.2.7", "HTTP_X_REAL_IP": None}
    # The proxy's certificate from another address, or the header without it: not believed.
    (status, _, _, logged), _ = answers(app, {"REMOTE_ADDR": "192.0.2.1", **presenting(proxy)},
                                        forwarded)
    assert status == "403 FORBIDDEN" and logged["REMOTE_ADDR"] == "192.0.2.1"
    (status, _, _, _), _ = answers(app, presenting(None), forwarded)
    assert status == "401 UNAUTHORIZED"
    certificates.revoke_certificate(_serial(proxy), actor="test")
    (status, _, body, _), _ = answers(app, presenting(proxy), forwarded)
    assert status == "403 FORBIDDEN" and b"revoked" in body
