"""/ping: the area only a valid, unrevoked client certificate of this portal's CA reaches.

Its most common answer, a plain "pong", is given by ping_fast.py before Flask's request
pipeline, with the same service call and the same bytes; this view gives every other one.
"""

from flask import Blueprint, current_app, jsonify, request
from werkzeug.datastructures import MIMEAccept
from werkzeug.http import parse_accept_header

from ..errors import PortalError
from ..limiter import limiter
from ..proxies import PEER_ADDRESS
from ..services.client_auth import authenticate_connection, presented_certificate
from .errors import status_of
from .mod_wsgi_peer import mod_wsgi_client_certificate

bp = Blueprint("ping", __name__)
limiter.skip(bp)  # /ping has no limit: spare every handshake the limiter's work

FORWARDED_CERT_HEADER = "X-SSL-Client-Cert"
FORWARDED_CERT_KEY = "HTTP_X_SSL_CLIENT_CERT"  # the header's environ key


@bp.record_once
def _install_fast_path(state) -> None:
    from .ping_fast import init_app  # it imports this module

    init_app(state.app)


def peer_certificate(environ: dict):
    """The certificate of this connection's TLS peer (gunicorn, Werkzeug's server, mod_wsgi).

    An `SSL_CLIENT_CERT` environ key is believed only under mod_wsgi (see mod_wsgi_peer).
    """
    sock = environ.get("gunicorn.socket") or environ.get("werkzeug.socket")
    if sock is not None and hasattr(sock, "getpeercert"):
        der = sock.getpeercert(binary_form=True)
        return presented_certificate(der) if der else None
    return mod_wsgi_client_certificate(environ)


def wants_json(environ: dict) -> bool:
    """Whether the Accept header prefers JSON to text (no Accept header: text)."""
    if "HTTP_ACCEPT" not in environ:  # no Accept header: text, as best_match says
        return False
    accept = parse_accept_header(environ["HTTP_ACCEPT"], MIMEAccept)  # request.accept_mimetypes
    best = accept.best_match(["text/plain", "application/json"])
    return best == "application/json" and accept[best] > accept["text/plain"]


@bp.get("/ping")
def ping():
    """Pong for a good client certificate; 401 without one; 403 with the reason otherwise."""
    environ = request.environ
    try:
        identity = authenticate_connection(
            peer_certificate(environ),
            request.headers.get(FORWARDED_CERT_HEADER),
            environ.get(PEER_ADDRESS, request.remote_addr),
        )
    except PortalError as exc:
        if wants_json(environ):
            response = jsonify({"error": exc.message})
        else:
            response = current_app.response_class(exc.message + "\n", mimetype="text/plain")
        response.status_code = status_of(exc)
        return response
    if wants_json(environ):
        return jsonify(
            subject=identity.subject,
            serial=identity.serial,
            issuer=identity.issuer,
            notAfter=identity.not_after.strftime("%Y-%m-%dT%H:%M:%SZ"),
        )
    return current_app.response_class("pong", mimetype="text/plain")
