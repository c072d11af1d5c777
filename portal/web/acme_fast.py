"""WSGI middleware: the ACME requests every order makes, answered before Flask's request pipeline.

A complete order is about seven signed POSTs (newOrder, the authorization, the challenge, the
order polled, finalize, the certificate). Through Flask each paid for the request context,
routing, the cookie-session interface, every extension's before/after hooks and the URL
worked out twice: more CPU than the resource itself. Those POSTs, when they are what the
protocol expects (application/jose+json with a Content-Length within MAX_CONTENT_LENGTH, an
id without leading zeros), are answered here with the same service calls, problem documents
and headers as the blueprint in acme.py (a fresh Replay-Nonce, the directory Link,
Cache-Control: no-store, the security headers). Everything else (other methods, malformed
ids, other content types, the other resources) goes on to Flask as before.
"""

import re

from flask import Flask
from werkzeug.http import HTTP_STATUS_CODES
from werkzeug.wsgi import get_current_url

from ..acme.problems import AcmeProblem
from ..errors import PortalError
from ..proxies import TrustedProxies
from ..services import acme_protocol as protocol
from ..services.acme_nonces import new_nonce
from ..services.transaction import roll_back
from .acme import JOSE, problem_parts, reply_parts
from .errors import status_of
from .security import SECURITY_HEADERS

_PATH = re.compile(
    r"/acme/(?P<name>[a-z0-9][a-z0-9_-]{0,63})/(?:(?P<new_order>new-order)"
    r"|(?P<kind>order|authz|chall|cert)/(?P<id>[1-9][0-9]{0,17})(?P<finalize>/finalize)?)"
)
_HANDLERS = {"order": protocol.order, "authz": protocol.authorization,
             "chall": protocol.challenge, "cert": protocol.certificate}


def _status_line(code: int) -> str:
    """The status line as werkzeug writes it ("404 NOT FOUND")."""
    return f"{code} {HTTP_STATUS_CODES.get(code, 'unknown').upper()}"


class AcmeFastPath:
    """Answer the hot ACME POSTs; pass every other request on to `wsgi_app` unchanged."""

    def __init__(self, app: Flask, wsgi_app):
        self.app = app
        self.wsgi_app = wsgi_app
        # The forwarded client address is worked out as for every other request.
        self._answer_proxied = TrustedProxies(self._answer,
                                              app.extensions.get("portal.trusted_proxies", ()))

    def __call__(self, environ, start_response):
        """Answer a hot ACME POST here, or pass the request on."""
        path = environ.get("PATH_INFO", "")
        if not path.startswith("/acme/") or environ.get("REQUEST_METHOD") != "POST":
            return self.wsgi_app(environ, start_response)
        match = _PATH.fullmatch(path)
        if match is None or (match["finalize"] and match["kind"] != "order") \
                or not self._plain_body(environ):
            return self.wsgi_app(environ, start_response)
        environ["portal.acme.route"] = match
        return self._answer_proxied(environ, start_response)

    def _plain_body(self, environ) -> bool:
        """A JWS with a length the blueprint would have read as it is."""
        content_type = environ.get("CONTENT_TYPE", "")
        if content_type.split(";", 1)[0].strip().lower() != JOSE:
            return False
        length = environ.get("CONTENT_LENGTH", "")
        limit = self.app.config.get("MAX_CONTENT_LENGTH")
        return length.isdigit() and (limit is None or int(length) <= limit) \
            and not environ.get("HTTP_TRANSFER_ENCODING")

    def _answer(self, environ, start_response):
        match = environ.pop("portal.acme.route")
        name = match["name"]
        root = get_current_url(environ, root_only=True)
        # The path matched _PATH (ASCII, nothing to decode): the URL is the root and the path,
        # as werkzeug writes it, unless there is a query string to add.
        url = get_current_url(environ) if environ.get("QUERY_STRING") \
            else root + environ["PATH_INFO"].lstrip("/")
        base = root.rstrip("/") + f"/acme/{name}"
        with self.app.app_context():
            status, headers, body = self._reply(environ, match, name, url, base)
            try:
                headers.append(("Replay-Nonce", new_nonce()))
            except Exception:  # the database is gone: the answer itself says what happened
                roll_back()
                self.app.logger.exception("acme: no nonce could be stored")
        headers.append(("Link", f'<{base}/directory>;rel="index"'))
        headers.append(("Cache-Control", "no-store"))
        headers.extend(SECURITY_HEADERS.items())
        if environ.get("wsgi.url_scheme") == "https":
            headers.append(("Strict-Transport-Security", "max-age=31536000"))
        headers.append(("Content-Length", str(len(body))))
        start_response(_status_line(status), headers)
        return [body]

    def _reply(self, environ, match, name: str, url: str, base: str) -> tuple[int, list, bytes]:
        try:
            body = environ["wsgi.input"].read(int(environ["CONTENT_LENGTH"]))
        except Exception:  # the client went away, or its body came too late
            return problem_parts(AcmeProblem("malformed", "the request body did not arrive"))
        try:
            if match["new_order"]:
                reply = protocol.new_order(name, body, url, base)
            elif match["finalize"]:
                reply = protocol.finalize(name, body, url, base, int(match["id"]))
            else:
                reply = _HANDLERS[match["kind"]](name, body, url, base, int(match["id"]))
        except AcmeProblem as problem:
            return problem_parts(problem)
        except PortalError as error:  # a typed error from a shared service (a CA that cannot sign)
            status = status_of(error)
            kind = "serverInternal" if status >= 500 or status == 409 else "malformed"
            return problem_parts(AcmeProblem(kind, error.message, status=status))
        except Exception:
            self.app.logger.exception("ACME request %s failed", environ.get("PATH_INFO"))
            return problem_parts(AcmeProblem("serverInternal", "an internal error", status=500))
        return reply_parts(reply)


def init_app(app: Flask) -> None:
    """Put the fast path in front of the app's WSGI pipeline."""
    app.wsgi_app = AcmeFastPath(app, app.wsgi_app)
