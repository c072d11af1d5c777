"""The OCSP responder over HTTP (RFC 6960 appendix A, RFC 5019): /ocsp and /ca/<name>/ocsp.

`POST /ocsp` takes a DER request (application/ocsp-request); `GET /ocsp/<base64 request>`
the same, URL-encoded. /ocsp answers for every CA of the portal, /ca/<name>/ocsp for that CA
only. Like the CRLs, these skip Flask's request pipeline (a WSGI middleware answers them in an
app context): machines ask many times a second, and sessions, CSRF and page headers do not
apply. Stored answers carry RFC 5019's cache headers, computed from the response's own times.
"""

import base64
import binascii
import hashlib
import re
from datetime import UTC, datetime

from flask import Blueprint, Flask, Response, request
from werkzeug.http import http_date, is_resource_modified

from ..ca.ocsp import MAX_REQUEST_BYTES, unsuccessful
from ..services.ocsp_answer import Answer, answer
from ..web_extensions import csrf

bp = Blueprint("ocsp", __name__)
csrf.exempt(bp)  # machines post DER here; no cookie is ever read

OCSP_REQUEST = "application/ocsp-request"
OCSP_RESPONSE = "application/ocsp-response"
_PATH = re.compile(r"/(?:ca/(?P<name>[A-Za-z0-9][A-Za-z0-9._-]{0,63})/)?ocsp(?:/(?P<b64>.*))?",
                   re.DOTALL)


_REASONS = {200: "200 OK", 304: "304 Not Modified", 400: "400 Bad Request",
            405: "405 Method Not Allowed", 413: "413 Content Too Large",
            415: "415 Unsupported Media Type", 500: "500 Internal Server Error"}
_NO_STORE = ("Cache-Control", "no-store")
_NOSNIFF = ("X-Content-Type-Options", "nosniff")


class Reply(tuple):
    """(status line, headers, body): what the fast path hands to start_response as it is."""

    __slots__ = ()

    def __new__(cls, status: int, headers: list, body: bytes):
        """A reply; Content-Length and nosniff are added here."""
        headers.append(("Content-Length", str(len(body))))
        headers.append(_NOSNIFF)
        return super().__new__(cls, (_REASONS[status], headers, body))


def _plain(status: int, message: str, *extra) -> Reply:
    return Reply(status, [("Content-Type", "text/plain; charset=utf-8"), _NO_STORE, *extra],
                 (message + "\n").encode())


# The headers that depend only on a stored response (ETag, Last-Modified, Expires), made once
# per response and process: http_date() and the hash cost more than the rest of the request.
_HEADERS_CACHE_SIZE = 4096
_static_headers: dict[bytes, tuple] = {}


def _cache_headers(result: Answer) -> tuple:
    key = result.der
    found = _static_headers.get(key)
    if found is None:
        if len(_static_headers) >= _HEADERS_CACHE_SIZE:
            _static_headers.clear()
        etag = hashlib.sha256(result.der).hexdigest()
        found = _static_headers[key] = (
            etag, ("ETag", f'"{etag}"'), ("Last-Modified", http_date(result.this_update)),
            ("Expires", http_date(result.next_update)),
        )
    return found


def _ocsp(result: Answer, environ: dict) -> Reply:
    """The response with RFC 5019 cache headers when it may be cached, else no-store."""
    if not result.cacheable:
        return Reply(200, [("Content-Type", OCSP_RESPONSE), _NO_STORE], result.der)
    etag, *headers = _cache_headers(result)
    max_age = max(0, int((result.next_update - datetime.now(UTC)).total_seconds()))
    headers.append(("Cache-Control", f"max-age={max_age}, public, no-transform, must-revalidate"))
    if environ.get("REQUEST_METHOD") in ("GET", "HEAD") and (
            "HTTP_IF_NONE_MATCH" in environ or "HTTP_IF_MODIFIED_SINCE" in environ) and not \
            is_resource_modified(environ, etag=etag, last_modified=result.this_update):
        return Reply(304, headers, b"")
    headers.insert(0, ("Content-Type", OCSP_RESPONSE))
    return Reply(200, headers, result.der)


def _from_get(encoded: str) -> bytes | None:
    """The DER request of a GET path: base64 (standard or URL-safe), padding optional."""
    text = encoded.strip().replace("-", "+").replace("_", "/").replace(" ", "+")
    if len(text) > MAX_REQUEST_BYTES * 2:
        return None
    text += "=" * (-len(text) % 4)
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        return None


def _posted(environ: dict) -> bytes | Reply:
    """The body of a POST, at most MAX_REQUEST_BYTES (413 past that)."""
    kind = environ.get("CONTENT_TYPE", "").split(";", 1)[0].strip().lower()
    if kind and kind != OCSP_REQUEST:
        return _plain(415, f"an OCSP request is posted as {OCSP_REQUEST}, not {kind[:60]}")
    too_big = _plain(413, f"an OCSP request is at most {MAX_REQUEST_BYTES} bytes")
    length = environ.get("CONTENT_LENGTH")
    if length:
        try:
            size = int(length)
        except ValueError:
            return _plain(400, "the Content-Length is not a number")
        if size > MAX_REQUEST_BYTES:
            return too_big
        if size < 0:
            return _plain(400, "the Content-Length is negative")
        return environ["wsgi.input"].read(size) if size else b""
    if not environ.get("wsgi.input_terminated"):
        return b""  # no length and no end of input: nothing can be read safely
    data = environ["wsgi.input"].read(MAX_REQUEST_BYTES + 1)  # chunked, ended by the server
    return too_big if len(data) > MAX_REQUEST_BYTES else data


def respond(environ: dict, name: str | None, encoded: str | None) -> Reply:
    """Answer one OCSP HTTP request (GET with the request in the path, or POST)."""
    method = environ.get("REQUEST_METHOD")
    if method in ("GET", "HEAD"):
        if not encoded:
            return _plain(400, "an OCSP GET carries the base64 DER request in the path "
                               "(/ocsp/<request>); or POST it as application/ocsp-request")
        der = _from_get(encoded)
        if der is None:
            return _ocsp(Answer(unsuccessful("malformedRequest")), environ)
    elif method == "POST" and not encoded:
        der = _posted(environ)
        if isinstance(der, Reply):
            return der
        if len(der) > MAX_REQUEST_BYTES:
            return _plain(413, f"an OCSP request is at most {MAX_REQUEST_BYTES} bytes")
    else:
        allow = "POST" if not encoded else "GET, HEAD"
        return _plain(405, f"{method} is not answered here", ("Allow", allow))
    return _ocsp(answer(der, ca_name=name), environ)


class OCSPFastPath:
    """WSGI middleware: /ocsp and /ca/<name>/ocsp answered before Flask's request pipeline."""

    def __init__(self, app: Flask, wsgi_app):
        self.app = app
        self.wsgi_app = wsgi_app

    def __call__(self, environ, start_response):
        """Answer an OCSP URL, or pass the request on."""
        path = environ.get("PATH_INFO", "")
        if "ocsp" not in path:
            return self.wsgi_app(environ, start_response)
        match = _PATH.fullmatch(path)
        if match is None:
            return self.wsgi_app(environ, start_response)
        try:
            with self.app.app_context():
                status, headers, body = respond(environ, match["name"], match["b64"])
        except Exception:
            self.app.logger.exception("OCSP request failed")
            status, headers, body = Reply(500, [("Content-Type", OCSP_RESPONSE), _NO_STORE],
                                          unsuccessful("internalError"))
        start_response(status, headers)
        return [] if environ.get("REQUEST_METHOD") == "HEAD" else [body]


@bp.record_once
def _install_fast_path(state) -> None:
    state.app.wsgi_app = OCSPFastPath(state.app, state.app.wsgi_app)


@bp.route("/ocsp", methods=["POST"], defaults={"name": None, "encoded": None})
@bp.route("/ocsp/<path:encoded>", methods=["GET"], defaults={"name": None})
@bp.route("/ca/<name>/ocsp", methods=["POST"], defaults={"encoded": None})
@bp.route("/ca/<name>/ocsp/<path:encoded>", methods=["GET"])
def ocsp_view(name: str | None, encoded: str | None):
    """The OCSP responder (the middleware answers these URLs first; this is for url_for)."""
    status, headers, body = respond(request.environ, name, encoded)
    return Response(body, status=int(status.split()[0]), headers=headers)
