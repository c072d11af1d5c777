"""Public, unauthenticated publication of CA certificates and CRLs, at the URLs certificates carry.

The default CA is at /ca.crt, /ca.pem, /crl.der and /crl.pem; every CA (the default too) at
/ca/<name>/... . CRLs are served from stored bytes, kept per process and checked against the
database with one small query per request; a request signs only when it finds a CRL due
(services/crl_serving.py).
"""

from datetime import datetime
from hashlib import sha256

from flask import Blueprint, Flask, Response, request
from werkzeug.http import http_date, parse_date, parse_etags

from ..ca.crl import der_to_pem
from ..ca.pem import to_pem
from ..clock import utcnow
from ..errors import NotFound
from ..services import crl_cache, crl_serving
from ..services.authorities import chain_of, get_ca

bp = Blueprint("publish", __name__)

PKIX_CERT = "application/pkix-cert"
PKIX_CRL = "application/pkix-crl"
PEM_FILE = "application/x-pem-file"
# Caches may keep a CRL until its re-signing point, and at most this long: a revocation is
# re-signed at once, and a client that revalidates gets a cheap 304 when nothing changed.
CRL_MAX_AGE_SECONDS = 3600
CA_MAX_AGE_SECONDS = 3600
RETRY_AFTER_SECONDS = 60


def _plain(status: int, message: str) -> Response:
    response = Response(message + "\n", status=status, mimetype="text/plain")
    response.cache_control.no_store = True
    if status == 503:
        response.headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response


def _not_modified(environ: dict, etag: str, last_modified: datetime) -> bool:
    """RFC 9110 13.2.2: If-None-Match decides when present, else If-Modified-Since."""
    if_none_match = environ.get("HTTP_IF_NONE_MATCH")
    if if_none_match is not None:
        return parse_etags(if_none_match).contains_weak(etag)
    if_modified_since = environ.get("HTTP_IF_MODIFIED_SINCE")
    if if_modified_since is not None:
        since = parse_date(if_modified_since)
        return since is not None and last_modified.replace(microsecond=0) <= since
    return False


def serve_crl(name: str | None, environ: dict, *, pem: bool) -> Response:
    """A CA's CRL: one small query, cached bytes, headers written out directly."""
    state = crl_serving.current_crl(name)
    if state is None:
        return _plain(404, f"no CA named {name!r}" if name else "there is no CA yet")
    now = utcnow()
    if not state.published:
        return _plain(503, f"CA {state.ca_name} has no CRL yet and its key cannot sign one: "
                           "the CA secret is missing or wrong (see /healthz).")
    if state.is_expired(now):
        # An expired CRL makes nginx and openssl reject every certificate of the CA; serving it
        # with a 200 would hide the outage from monitors and let caches keep it.
        return _plain(503, f"the CRL of CA {state.ca_name} expired at "
                           f"{state.next_update:%Y-%m-%dT%H:%M:%SZ} and cannot be re-signed: "
                           "the CA secret is missing or wrong (see /healthz). An expired CRL "
                           "is not served.")
    state, cached = crl_cache.crl_bytes(state)
    until_resign = int((state.refresh_at - now).total_seconds())
    if until_resign > 0:
        cache_control = f"public, max-age={min(CRL_MAX_AGE_SECONDS, until_resign)}"
    else:  # due but could not be re-signed: still valid, yet nobody should keep it
        cache_control = "public, no-cache, max-age=0"
    etag = state.sha256 + "-pem" if pem else state.sha256
    headers = [("ETag", f'"{etag}"'), ("Last-Modified", http_date(state.this_update)),
               ("Cache-Control", cache_control)]
    if _not_modified(environ, etag, state.this_update):
        return Response(status=304, headers=headers)
    if pem:
        if cached.pem is None:
            cached.pem = der_to_pem(cached.der)
        return Response(cached.pem, headers=headers, content_type=PEM_FILE)
    return Response(cached.der, headers=headers, content_type=PKIX_CRL)


def serve_ca(name: str | None, environ: dict, *, chain: bool) -> Response:
    """A CA certificate (DER) or its chain up to the root (PEM)."""
    try:
        ca = get_ca(name)
    except NotFound as exc:
        return _plain(404, exc.message)
    if chain:
        body = b"".join(to_pem(certificate) for certificate in chain_of(ca))
        response = Response(body, mimetype=PEM_FILE)
        response.set_etag(sha256(body).hexdigest())
    else:
        response = Response(ca.certificate_der, mimetype=PKIX_CERT)
        response.set_etag(ca.fingerprint_sha256)
    response.last_modified = ca.created_at
    response.cache_control.public = True
    response.cache_control.max_age = CA_MAX_AGE_SECONDS
    return response.make_conditional(environ)


_FILES = {
    "crl.der": lambda name, environ: serve_crl(name, environ, pem=False),
    "crl.pem": lambda name, environ: serve_crl(name, environ, pem=True),
    "ca.crt": lambda name, environ: serve_ca(name, environ, chain=False),
    "ca.pem": lambda name, environ: serve_ca(name, environ, chain=True),
}


class PublicationFastPath:
    """WSGI middleware: GET and HEAD of the publication URLs skip Flask's request pipeline.

    CRLs and CA certificates are public files fetched by machines, often many times a second;
    sessions, CSRF, rate limits and page headers do not apply to them, and cost several times
    what serving the stored bytes does. Like a static-file middleware, this answers them
    directly inside an app context; the blueprint's routes below stay as the same views for
    url_for and for apps without the middleware.
    """

    def __init__(self, app: Flask, wsgi_app):
        self.app = app
        self.wsgi_app = wsgi_app

    def __call__(self, environ, start_response):
        """Answer a publication URL, or pass the request on."""
        target = _publication_target(environ)
        if target is None:
            return self.wsgi_app(environ, start_response)
        name, serve = target
        try:
            with self.app.app_context():
                response = serve(name, environ)
        except Exception:
            self.app.logger.exception("serving %s failed", environ.get("PATH_INFO"))
            response = _plain(500, "internal error while serving this file")
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        return response(environ, start_response)


def _publication_target(environ):
    if environ.get("REQUEST_METHOD") not in ("GET", "HEAD"):
        return None
    path = environ.get("PATH_INFO", "")
    if path.startswith("/ca/"):
        name, _, file = path[4:].partition("/")
        if not name or "/" in file:
            return None
    else:
        name, file = None, path[1:]
    serve = _FILES.get(file)
    return None if serve is None else (name, serve)


@bp.record_once
def _install_fast_path(state) -> None:
    state.app.wsgi_app = PublicationFastPath(state.app, state.app.wsgi_app)


@bp.get("/crl.der", defaults={"name": None})
@bp.get("/ca/<name>/crl.der")
def crl_der(name: str | None):
    """The CA's current CRL, DER (what certificates' CRL distribution points name)."""
    return serve_crl(name, request.environ, pem=False)


@bp.get("/crl.pem", defaults={"name": None})
@bp.get("/ca/<name>/crl.pem")
def crl_pem(name: str | None):
    """The CA's current CRL, PEM."""
    return serve_crl(name, request.environ, pem=True)


@bp.get("/ca.crt", defaults={"name": None})
@bp.get("/ca/<name>/ca.crt")
def ca_crt(name: str | None):
    """The CA certificate, DER (what certificates' caIssuers URL names)."""
    return serve_ca(name, request.environ, chain=False)


@bp.get("/ca.pem", defaults={"name": None})
@bp.get("/ca/<name>/ca.pem")
def ca_pem(name: str | None):
    """The CA certificate and its parents up to the root, PEM."""
    return serve_ca(name, request.environ, chain=True)
