"""The ACME server's HTTP resources at /acme/<name>/ (RFC 8555): JSON, JWS, problem documents.

The views parse the HTTP request and render the service's reply. Every answer, refusals
included, carries a fresh Replay-Nonce.
"""

import json

from flask import Blueprint, Response, current_app, request
from werkzeug.exceptions import HTTPException

from ..acme.problems import AcmeProblem
from ..errors import PortalError
from ..limiter import limiter
from ..services import acme_protocol as protocol
from ..services.acme_nonces import new_nonce
from ..services.transaction import roll_back
from ..web_extensions import csrf
from .errors import status_of

bp = Blueprint("acme", __name__, url_prefix="/acme/<name>")
ACME_PREFIX = "/acme/"
csrf.exempt(bp)  # every request is a JWS signed by the account key: no cookie is ever used
limiter.skip(bp)
JOSE = "application/jose+json"


@bp.record_once
def _install_fast_path(state) -> None:
    from .acme_fast import init_app  # it imports this module

    init_app(state.app)


def _base(name: str) -> str:
    return request.url_root.rstrip("/") + f"/acme/{name}"


def _body() -> bytes:
    """The request JWS; 415 unless sent as application/jose+json."""
    if request.mimetype != JOSE:
        raise AcmeProblem("malformed", f"send the JWS as {JOSE}", status=415)
    return request.get_data(cache=False)


def reply_parts(reply: protocol.Reply) -> tuple[int, list, bytes]:
    """A Reply as the status, headers and body sent (here and by the fast path, acme_fast.py)."""
    if isinstance(reply.body, bytes):
        body, headers = reply.body, [("Content-Type", reply.content_type)]
    elif reply.body is None:
        body, headers = b"", []
    else:
        body = json.dumps(reply.body, indent=1).encode()
        headers = [("Content-Type", reply.content_type)]
    headers.extend(reply.headers.items())
    return reply.status, headers, body


def _render(reply: protocol.Reply) -> Response:
    status, headers, body = reply_parts(reply)
    return Response(body, status=status, headers=headers)


def _signed(handler, name: str, *args) -> Response:
    return _render(handler(name, _body(), request.url, _base(name), *args))


@bp.get("/directory")
def directory(name: str):
    """The directory."""
    return _render(protocol.directory(name, _base(name)))


@bp.route("/new-nonce", methods=["HEAD", "GET"])
def new_nonce_view(name: str):
    """newNonce: 200 to HEAD, 204 to GET; the nonce is in the header."""
    response = Response(b"", status=200 if request.method == "HEAD" else 204)
    response.headers["Replay-Nonce"] = protocol.nonce(name)
    return response


@bp.post("/new-account")
def new_account(name: str):
    """NewAccount."""
    return _signed(protocol.new_account, name)


@bp.post("/account/<int:account_id>")
def account(name: str, account_id: int):
    """An account."""
    return _signed(protocol.account, name, account_id)


@bp.post("/account/<int:account_id>/orders")
def account_orders(name: str, account_id: int):
    """An account's orders list."""
    after = request.args.get("after", "0")
    return _signed(protocol.account_orders, name, account_id,
                   int(after) if after.isdigit() and len(after) < 19 else 0)


@bp.post("/key-change")
def key_change(name: str):
    """KeyChange."""
    return _signed(protocol.key_change, name)


@bp.post("/new-order")
def new_order(name: str):
    """NewOrder."""
    return _signed(protocol.new_order, name)


@bp.post("/order/<int:order_id>")
def order(name: str, order_id: int):
    """An order."""
    return _signed(protocol.order, name, order_id)


@bp.post("/order/<int:order_id>/finalize")
def finalize(name: str, order_id: int):
    """An order's finalize URL."""
    return _signed(protocol.finalize, name, order_id)


@bp.post("/authz/<int:authz_id>")
def authorization(name: str, authz_id: int):
    """An authorization."""
    return _signed(protocol.authorization, name, authz_id)


@bp.post("/chall/<int:challenge_id>")
def challenge(name: str, challenge_id: int):
    """A challenge."""
    return _signed(protocol.challenge, name, challenge_id)


@bp.post("/cert/<int:order_id>")
def certificate(name: str, order_id: int):
    """An order's certificate chain."""
    return _signed(protocol.certificate, name, order_id)


@bp.post("/revoke-cert")
def revoke_cert(name: str):
    """RevokeCert."""
    return _signed(protocol.revoke_cert, name)


@bp.get("/renewal-info/<cert_id>")
def renewal_info(name: str, cert_id: str):
    """ARI renewalInfo."""
    return _render(protocol.renewal_info(name, cert_id))


def problem_parts(problem: AcmeProblem) -> tuple[int, list, bytes]:
    """A problem document (RFC 7807) with the RFC 8555 type: status, headers, body."""
    roll_back()
    headers = [("Content-Type", "application/problem+json")]
    if problem.location:
        headers.append(("Location", problem.location))
    return problem.status_code, headers, json.dumps(problem.document(), indent=1).encode()


def problem_response(problem: AcmeProblem) -> Response:
    """A problem document (RFC 7807) with the RFC 8555 type."""
    status, headers, body = problem_parts(problem)
    return Response(body, status=status, headers=headers)


@bp.errorhandler(AcmeProblem)
def handle_problem(problem: AcmeProblem):
    """A refusal from the protocol."""
    return problem_response(problem)


@bp.errorhandler(PortalError)
def handle_portal_error(error: PortalError):
    """A typed error from a shared service (a CA that cannot sign, say)."""
    status = status_of(error)
    kind = "serverInternal" if status >= 500 or status == 409 else "malformed"
    return problem_response(AcmeProblem(kind, error.message, status=status))


@bp.errorhandler(HTTPException)
def handle_http_error(error: HTTPException):
    """405, 413 and friends as problem documents, with a nonce (also for unmatched routes)."""
    response = problem_response(AcmeProblem("malformed", error.description or error.name,
                                            status=error.code or 400))
    if error.code == 405 and getattr(error, "valid_methods", None):
        response.headers["Allow"] = ", ".join(error.valid_methods)
    if request.blueprint != bp.name:  # the blueprint's after_request does not run then
        response = replay_nonce(response)
    return response


@bp.after_request
def replay_nonce(response: Response) -> Response:
    """Every answer carries a fresh nonce, the directory link and no caching (§6.5, §7.1)."""
    if "Replay-Nonce" not in response.headers:
        try:
            response.headers["Replay-Nonce"] = new_nonce()
        except Exception:  # the database is gone: the answer itself says what happened
            roll_back()
            current_app.logger.exception("acme: no nonce could be stored")
    name = request.view_args.get("name") if request.view_args else None
    if name:
        response.headers.add("Link", f'<{_base(name)}/directory>;rel="index"')
    response.headers["Cache-Control"] = "no-store"
    return response
