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
from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.http import http_date, is_resource_modified
from werkzeug.wrappers import Request

from ..ca.ocsp import MAX_REQUEST_BYTES, unsuccessful
from ..extensions import csrf
from ..services.ocsp_answer import Answer, answer

bp = Blueprint("ocsp", __name__)
csrf.exempt(bp)  # machines post DER here; no cookie is ever read

OCSP_REQUEST = "application/ocsp-request"
OCSP_RESPONSE = "application/ocsp-response"
_PATH = re.compile(r"/(?:ca/(?P<name>[A-Za-z0-9][A-Za-z0-9._-]{0,63})/)?ocsp(?:/(?P<b64>.*))?",
                   re.DOTALL)


def _plain(status: int, message: str, **headers) -> Response:
    response = Response(message + "\n", status=status, mimetype="text/plain", headers=headers)
    response.cache_control.no_store = True
    return response


def _ocsp(result: Answer, environ: dict) -> Response:
    """The response with RFC 5019 cache headers when it may be cached, else no-store."""
    response = Response(result.der, content_type=OCSP_RESPONSE)
    if not result.cacheable:
        response.cache_control.no_store = True
        return response
    now = datetime.now(UTC)
    etag = hashlib.sha256(result.der).hexdigest()
    max_age = max(0, int((result.next_update - now).total_seconds()))
    response.headers["ETag"] = f'"{etag}"'
    response.headers["Last-Modified"] = http_date(result.this_update)
    response.headers["Expires"] = http_date(result.next_update)
    response.headers["Cache-Control"] = f"max-age={max_age}, public, no-transform, must-revalidate"
    if environ.get("REQUEST_METHOD") in ("GET", "HEAD") and not is_resource_modified(
            environ, etag=etag, last_modified=result.this_update):
        response.status_code = 304
        response.set_data(b"")
        del response.headers["Content-Type"]
    return response


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


def respond(environ: dict, name: str | None, encoded: str | None) -> Response:
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
        incoming = Request(environ)
        kind = incoming.mimetype
        if kind and kind != OCSP_REQUEST:
            return _plain(415, f"an OCSP request is posted as {OCSP_REQUEST}, not {kind[:60]}")
        incoming.max_content_length = MAX_REQUEST_BYTES
        try:
            der = incoming.get_data(cache=False)
        except RequestEntityTooLarge:
            return _plain(413, f"an OCSP request is at most {MAX_REQUEST_BYTES} bytes")
    else:
        allow = "POST" if not encoded else "GET, HEAD"
        return _plain(405, f"{method} is not answered here", Allow=allow)
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
                response = respond(environ, match["name"], match["b64"])
        except Exception:
            self.app.logger.exception("OCSP request failed")
            response = Response(unsuccessful("internalError"), status=500,
                                content_type=OCSP_RESPONSE)
            response.cache_control.no_store = True
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        return response(environ, start_response)


@bp.record_once
def _install_fast_path(state) -> None:
    state.app.wsgi_app = OCSPFastPath(state.app, state.app.wsgi_app)


@bp.route("/ocsp", methods=["POST"], defaults={"name": None, "encoded": None})
@bp.route("/ocsp/<path:encoded>", methods=["GET"], defaults={"name": None})
@bp.route("/ca/<name>/ocsp", methods=["POST"], defaults={"encoded": None})
@bp.route("/ca/<name>/ocsp/<path:encoded>", methods=["GET"])
def ocsp_view(name: str | None, encoded: str | None):
    """The OCSP responder (the middleware answers these URLs first; this is for url_for)."""
    return respond(request.environ, name, encoded)
