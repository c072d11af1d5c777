"""Public, unauthenticated publication of CA certificates and CRLs, at the URLs certificates carry.

The default CA is at /ca.crt, /ca.pem, /crl.der and /crl.pem; every CA (the default too) at
/ca/<name>/... . CRLs are served from stored bytes, kept per process and checked against the
database with one small query per request; a request signs only when it finds a CRL due.
"""

from dataclasses import dataclass
from hashlib import sha256

from flask import Blueprint, Response, current_app, request

from ..ca.crl import der_to_pem
from ..ca.pem import to_pem
from ..errors import NotFound
from ..services import crl as crl_service
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


@dataclass
class _CachedCRL:
    sha256: str
    der: bytes
    pem: bytes | None = None


def _plain(status: int, message: str) -> Response:
    response = Response(message + "\n", status=status, mimetype="text/plain")
    response.cache_control.no_store = True
    if status == 503:
        response.headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response


def _crl_bytes(state: crl_service.CRLState) -> tuple[crl_service.CRLState, _CachedCRL]:
    """The CRL's bytes from this process's cache, or loaded once from the database."""
    cache: dict[int, _CachedCRL] = current_app.extensions.setdefault("portal.crl_bytes", {})
    cached = cache.get(state.ca_id)
    while cached is None or cached.sha256 != state.sha256:
        der = crl_service.stored_der(state)
        if der is None:  # replaced by a newer CRL meanwhile: take that one
            state = crl_service.crl_state(ca_id=state.ca_id)
            continue
        cached = cache[state.ca_id] = _CachedCRL(state.sha256, der)
    return state, cached


def _serve_crl(name: str | None, *, pem: bool) -> Response:
    try:
        state = crl_service.crl_state(name)
    except NotFound as exc:
        return _plain(404, exc.message)
    now = crl_service.utcnow()
    if state.is_due(now):
        state = crl_service.ensure_fresh(state, now=now)
        now = crl_service.utcnow()
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
    state, cached = _crl_bytes(state)
    if pem:
        if cached.pem is None:
            cached.pem = der_to_pem(cached.der)
        response = Response(cached.pem, mimetype=PEM_FILE)
        response.set_etag(state.sha256 + "-pem")
    else:
        response = Response(cached.der, mimetype=PKIX_CRL)
        response.set_etag(state.sha256)
    response.last_modified = state.this_update
    until_resign = int((state.refresh_at - now).total_seconds())
    response.cache_control.public = True
    response.cache_control.max_age = max(0, min(CRL_MAX_AGE_SECONDS, until_resign))
    if until_resign <= 0:  # due but could not be re-signed: valid, yet nobody should keep it
        response.cache_control.no_cache = True
    return response.make_conditional(request)


def _serve_ca(name: str | None, *, chain: bool) -> Response:
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
    return response.make_conditional(request)


@bp.get("/crl.der", defaults={"name": None})
@bp.get("/ca/<name>/crl.der")
def crl_der(name: str | None):
    """The CA's current CRL, DER (what certificates' CRL distribution points name)."""
    return _serve_crl(name, pem=False)


@bp.get("/crl.pem", defaults={"name": None})
@bp.get("/ca/<name>/crl.pem")
def crl_pem(name: str | None):
    """The CA's current CRL, PEM."""
    return _serve_crl(name, pem=True)


@bp.get("/ca.crt", defaults={"name": None})
@bp.get("/ca/<name>/ca.crt")
def ca_crt(name: str | None):
    """The CA certificate, DER (what certificates' caIssuers URL names)."""
    return _serve_ca(name, chain=False)


@bp.get("/ca.pem", defaults={"name": None})
@bp.get("/ca/<name>/ca.pem")
def ca_pem(name: str | None):
    """The CA certificate and its parents up to the root, PEM."""
    return _serve_ca(name, chain=True)

