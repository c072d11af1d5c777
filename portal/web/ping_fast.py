"""WSGI middleware: a plain "pong" for /ping, answered before Flask's request pipeline.

Every /ping of a monitoring client is a new TLS connection and one GET; through Flask it also
paid for the request context, routing, the session interface, every extension's hooks and
the response object, about as much CPU as the certificate check itself. A GET /ping without
a cookie, a query string or a preference for JSON is checked here with the same service call
as the view in ping.py (the leaf, and every CA above it, read from the database on every
request; a forwarded certificate believed only from an authenticated proxy connection) and,
when the certificate is good, answered with the bytes the view sends. Every other request,
and every refusal (401, 403: their text is in the reader's language), goes on to Flask
untouched, which then makes the check again and answers as before.
"""

from flask import Flask

from ..errors import PortalError
from ..proxies import resolve_client
from ..services.client_auth import authenticate_connection
from .ping import FORWARDED_CERT_KEY, peer_certificate, wants_json
from .security import SECURITY_HEADERS

PONG = b"pong"
# The view's answer, header for header (tests/web/test_ping_fast.py compares the bytes).
_PONG_HEADERS = [
    ("Content-Type", "text/plain; charset=utf-8"),
    ("Content-Length", str(len(PONG))),
    *SECURITY_HEADERS.items(),
]
_HSTS = ("Strict-Transport-Security", "max-age=31536000")
# Flask-Login reads the (empty) session on every request: Flask adds this.
_VARY = ("Vary", "Cookie")


class PingFastPath:
    """Answer a good certificate's plain GET /ping; pass every other request on unchanged."""

    def __init__(self, app: Flask, wsgi_app):
        self.app = app
        self.wsgi_app = wsgi_app
        self.networks = app.extensions.get("portal.trusted_proxies", ())

    def __call__(self, environ, start_response):
        """Pong for a good client certificate, or the request passed on to Flask."""
        if environ.get("PATH_INFO") != "/ping" or not self._plain(environ):
            return self.wsgi_app(environ, start_response)
        try:
            with self.app.app_context():
                # The connection's own peer: TrustedProxies has not run yet (see resolve_client).
                authenticate_connection(peer_certificate(environ),
                                        environ.get(FORWARDED_CERT_KEY),
                                        environ.get("REMOTE_ADDR"))
        except PortalError:  # refused: the view says why, in the reader's language
            return self.wsgi_app(environ, start_response)
        except Exception:  # whatever failed fails again there and gets the app's 500 page
            return self.wsgi_app(environ, start_response)
        resolve_client(environ, self.networks)  # the access log's client, as for every request
        headers = list(_PONG_HEADERS)
        if environ.get("wsgi.url_scheme") in ("https", "wss"):  # request.is_secure
            headers.append(_HSTS)
        headers.append(_VARY)
        start_response("200 OK", headers)
        return [PONG]

    @staticmethod
    def _plain(environ) -> bool:
        """A GET whose answer Flask would give as text, with no cookie to open."""
        return (environ.get("REQUEST_METHOD") == "GET" and "HTTP_COOKIE" not in environ
                and not environ.get("QUERY_STRING") and not wants_json(environ))


def init_app(app: Flask) -> None:
    """Put the fast path in front of the app's WSGI pipeline."""
    app.wsgi_app = PingFastPath(app, app.wsgi_app)
