"""/ping: the area only a valid, unrevoked client certificate of this portal's CA reaches."""

from flask import Blueprint, current_app, jsonify, request

from ..errors import PortalError
from ..limiter import limiter
from ..proxies import PEER_ADDRESS
from ..services.client_auth import authenticate_connection, presented_certificate
from .errors import status_of
from .mod_wsgi_peer import mod_wsgi_client_certificate

bp = Blueprint("ping", __name__)
limiter.skip(bp)  # /ping has no limit: spare every handshake the limiter's work

FORWARDED_CERT_HEADER = "X-SSL-Client-Cert"


def _peer_certificate():
    """The certificate of this connection's TLS peer (gunicorn, Werkzeug's server, mod_wsgi).

    An `SSL_CLIENT_CERT` environ key is believed only under mod_wsgi (see mod_wsgi_peer).
    """
    environ = request.environ
    sock = environ.get("gunicorn.socket") or environ.get("werkzeug.socket")
    if sock is not None and hasattr(sock, "getpeercert"):
        der = sock.getpeercert(binary_form=True)
        return presented_certificate(der) if der else None
    return mod_wsgi_client_certificate(environ)


def _wants_json() -> bool:
    if "HTTP_ACCEPT" not in request.environ:  # no Accept header: text, as best_match says
        return False
    best = request.accept_mimetypes.best_match(["text/plain", "application/json"])
    return best == "application/json" and request.accept_mimetypes[best] > (
        request.accept_mimetypes["text/plain"]
    )


@bp.get("/ping")
def ping():
    """Pong for a good client certificate; 401 without one; 403 with the reason otherwise."""
    try:
        identity = authenticate_connection(
            _peer_certificate(),
            request.headers.get(FORWARDED_CERT_HEADER),
            request.environ.get(PEER_ADDRESS, request.remote_addr),
        )
    except PortalError as exc:
        if _wants_json():
            response = jsonify({"error": exc.message})
        else:
            response = current_app.response_class(exc.message + "\n", mimetype="text/plain")
        response.status_code = status_of(exc)
        return response
    if _wants_json():
        return jsonify(
            subject=identity.subject,
            serial=identity.serial,
            issuer=identity.issuer,
            notAfter=identity.not_after.strftime("%Y-%m-%dT%H:%M:%SZ"),
        )
    return current_app.response_class("pong", mimetype="text/plain")
