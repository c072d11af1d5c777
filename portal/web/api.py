"""The JSON API for machines: issue, look up, search and revoke certificates with a bearer token.

Every request carries `Authorization: Bearer <token>` (made with `portal token create` or on
the API tokens page). A token acts for its user with the pages' rules: an admin's token sees
every certificate, a user's token only that user's (anyone else's is a 404). Errors are JSON
with a message. No cookies are read, so the blueprint is exempt from CSRF.
"""

import json
import ssl

from flask import Blueprint, current_app, g, jsonify, request, url_for
from flask_babel import gettext
from werkzeug.exceptions import HTTPException, MethodNotAllowed, NotFound

from ..errors import InvalidInput, PortalError
from ..errors import NotFound as PortalNotFound
from ..limiter import limiter
from ..models import STATUS_ISSUED, STATUS_PENDING, STATUS_REVOKED
from ..services import authorities, certificates, selfservice, token_requests, tokens, validity
from ..services.search import SORTS, CertificateQuery, search_certificates
from ..services.transaction import roll_back
from ..translatable import N_
from ..web_extensions import csrf
from .errors import Unauthorized, UnsupportedMediaType, status_of
from .i18n import translate_error
from .openapi import openapi_document

bp = Blueprint("api", __name__, url_prefix="/api/v1")
API_PREFIX = bp.url_prefix + "/"
csrf.exempt(bp)  # bearer tokens, never cookies: no cross-site request can carry one
limiter.skip(bp)  # no per-address limits here (yet), and no limiter work per request

MAX_BODY_BYTES = 256 * 1024  # a CSR is at most 64 KB; JSON escaping adds a little
MAX_PAGE = 200
STATUSES = (STATUS_PENDING, STATUS_ISSUED, STATUS_REVOKED)
ISSUE_FIELDS = {"csr", "profile", "ca", "days"}
PUBLIC_ENDPOINTS = {"api.openapi"}


# --- request plumbing -------------------------------------------------------------------------


@bp.before_request
def authenticate():
    """Bound the body, then find the token's user (401 without a valid bearer token)."""
    request.max_content_length = MAX_BODY_BYTES
    if request.endpoint in PUBLIC_ENDPOINTS or request.endpoint is None:
        return
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized(N_("send an API token: Authorization: Bearer <token>"))
    owner = tokens.authenticate(token.strip())
    if owner is None:
        raise Unauthorized(N_("the API token is unknown or revoked, or its user is disabled"))
    g.api_user = owner


def _error(status: int, message: str, field: str | None = None):
    response = jsonify({"status": status, "message": message, "field": field})
    response.status_code = status
    if status == 401:
        response.headers["WWW-Authenticate"] = 'Bearer realm="portal"'
    return response


@bp.errorhandler(PortalError)
def portal_error(error: PortalError):
    """A typed error: its status code and its sentence, as JSON."""
    roll_back()
    return _error(status_of(error), translate_error(error), error.field)


@bp.errorhandler(HTTPException)
def http_error(error: HTTPException):
    """404, 405, 413 and friends, as JSON."""
    roll_back()
    if isinstance(error, MethodNotAllowed) and request.url_rule is None:
        # TRACE or another method no rule takes: routing failed before the blueprint, and
        # the catch-all's methods would be listed as if every path took them.
        error = method_error(request.path)
    messages = {
        413: gettext("the request body is larger than %(limit)s bytes", limit=MAX_BODY_BYTES)
    }
    response = _error(error.code or 500, messages.get(error.code) or gettext(error.description))
    if isinstance(error, MethodNotAllowed) and error.valid_methods:
        response.headers["Allow"] = ", ".join(error.valid_methods)
    return response


@bp.errorhandler(Exception)
def unexpected_error(error: Exception):
    """Anything else: logged for the operator; the client gets a calm 500 without details."""
    roll_back()
    current_app.logger.exception("unhandled API error on %s %s", request.method, request.path)
    return _error(500, "internal error; nothing was issued or changed by this request")


API_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")


def allowed_methods(path: str) -> list[str]:
    """The methods some API endpoint takes at this path (the catch-all below not counted)."""
    adapter = current_app.url_map.bind("localhost")
    allowed = []
    for method in API_METHODS:
        try:
            endpoint, _ = adapter.match(path, method=method)
        except HTTPException:
            continue
        if endpoint != "api.unknown":
            allowed.append(method)
    if "GET" in allowed:
        allowed.insert(allowed.index("GET") + 1, "HEAD")
    return allowed + ["OPTIONS"] if allowed else []


def method_error(path: str) -> HTTPException:
    """A 405 that lists the methods the path takes, or a 404 when no endpoint is there."""
    allowed = allowed_methods(path)
    if allowed:
        return MethodNotAllowed(valid_methods=allowed)
    return NotFound(N_("no such API endpoint"))


@bp.route("/<path:anything>", methods=list(API_METHODS))
def unknown(anything: str):
    """Paths under /api/v1 that match nothing: a JSON 404 (or 405), not the HTML page."""
    raise method_error(request.path)


def _json_body(*, required: bool = True) -> dict:
    """The request's JSON object (415 for another content type, 400 for malformed JSON)."""
    raw = request.get_data(cache=False)
    if request.content_length is None:  # chunked: get_data() stops at the limit, silently
        request.stream.read(1)  # 413 if the body goes on
    if not raw.strip() and not required:
        return {}
    if not request.is_json:
        raise UnsupportedMediaType(N_("send the body as JSON with Content-Type: application/json"))
    try:
        data = json.loads(raw)
    except (ValueError, RecursionError):
        raise InvalidInput(N_("the body is not valid JSON")) from None
    if not isinstance(data, dict):
        raise InvalidInput(N_("the body must be a JSON object"))
    return data


def _text(data: dict, name: str, *, required: bool = False, limit: int = 256) -> str | None:
    value = data.get(name)
    if value is None and not required:
        return None
    if not isinstance(value, str) or not value.strip():
        raise InvalidInput(N_("%(name)r must be a non-empty string"), field=name,
            name=name)
    if len(value) > limit:
        raise InvalidInput(N_("%(name)r is longer than %(limit)s characters"), field=name,
            name=name, limit=limit)
    return value


# --- what a certificate looks like in JSON ----------------------------------------------------


def certificate_json(row, *, owners: dict[int, str] | None = None, with_pem: bool) -> dict:
    """A certificate as the API shows it: its summary, its URL, and its PEM when asked for."""
    return _with_links([row], owners=owners, with_pem=with_pem)[0]


def _with_links(rows, *, owners: dict[int, str] | None = None, with_pem: bool) -> list[dict]:
    bodies = certificates.summaries(rows, owners=owners)
    for row, body in zip(rows, bodies, strict=True):
        body["url"] = url_for("api.show_certificate", serial=row.serial)
        if with_pem:
            body["certificate"] = ssl.DER_cert_to_PEM_cert(row.der) if row.der else None
    return bodies


def _find(serial: str):
    """A certificate the token's user may see, by serial: 404 for unknown or someone else's."""
    owner = g.api_user
    return certificates.find_certificate(
        serial, ca_name=request.args.get("ca", "")[:64] or None,
        owner_id=None if owner.is_admin else owner.id, name_the_ca="add ?ca=NAME",
    )


def _actor() -> str:
    return f"api:{g.api_user.username}"


# --- endpoints --------------------------------------------------------------------------------


@bp.get("/openapi.json")
def openapi():
    """The OpenAPI 3 description of this API (no token needed)."""
    return jsonify(openapi_document())


@bp.post("/certificates")
def issue_certificate():
    """Issue a certificate from a CSR for the token's user: 201 with the PEM."""
    data = _json_body()
    unknown_fields = set(data) - ISSUE_FIELDS
    if unknown_fields:
        name = sorted(unknown_fields)[0][:40]
        raise InvalidInput(N_("unknown field %(name)r; expected %(ISSUE_FIELDS)s"), field=name,
            name=name, ISSUE_FIELDS=sorted(ISSUE_FIELDS))
    csr_text = _text(data, "csr", required=True, limit=MAX_BODY_BYTES)
    profile = _text(data, "profile", required=True, limit=16)
    ca_name = _text(data, "ca", limit=64)
    days = data.get("days")
    if days is not None and (type(days) is not int or not 1 <= days <= 20000):
        raise InvalidInput(N_("'days' must be a whole number from 1 to 20000"), field="days")
    owner = g.api_user
    outcome = token_requests.request_certificate(
        owner, csr_text, profile, ca_name=ca_name, days=days, actor=_actor()
    )
    if outcome.certificate is None:  # the profile's policy waits for an admin: accepted
        return _accepted_request(outcome.request)
    body = certificate_json(outcome.certificate, owners={owner.id: owner.username}, with_pem=True)
    # what was signed, and why when it is less than was asked (read after issuing: a bad CSR
    # is still the first error reported)
    body["validity"] = validity.plan_validity(profile, days, ca_name=ca_name).as_json()
    response = jsonify(body)
    response.status_code = 201
    response.headers["Location"] = body["url"]
    return response


def _accepted_request(row):
    response = jsonify(request=row.id, status=row.status, profile=row.profile,
                       subject=row.subject,
                       message=gettext("the profile's policy needs an admin's approval: the "
                                       "certificate appears under your account once approved"))
    response.status_code = 202
    return response


@bp.get("/certificates/<serial>")
def show_certificate(serial: str):
    """One certificate with its PEM (null while pending)."""
    return jsonify(certificate_json(_find(serial), with_pem=True))


def _int_arg(name: str, low: int, high: int, default: int | None = None) -> int | None:
    raw = request.args.get(name)
    if raw in (None, ""):
        return default
    try:
        value = int(raw)
    except ValueError:
        value = None
    if value is None or not low <= value <= high:
        raise InvalidInput(N_("%(name)r must be a whole number from %(low)s to %(high)s"),
                           field=name, name=name, low=low, high=high)
    return value


def _choice_arg(name: str, allowed) -> str | None:
    value = request.args.get(name) or None
    if value is not None and value not in allowed:
        raise InvalidInput(N_("%(name)r must be one of %(values)s"), field=name,
            name=name, values=', '.join(allowed))
    return value


@bp.get("/certificates")
def list_certificates():
    """Search certificates, newest first by default, a page at a time (keyset cursors)."""
    owner = g.api_user
    ca_id = None
    if request.args.get("ca"):
        try:
            ca_id = authorities.get_ca(request.args["ca"][:64]).id
        except PortalNotFound as exc:
            raise InvalidInput(exc.msgid, field="ca", **exc.params) from None
    after = request.args.get("after") or None
    if after is not None and len(after) > 64:
        raise InvalidInput(N_("'after' is not a cursor this API handed out"), field="after")
    query = CertificateQuery(
        q=request.args.get("q", "")[:200],
        status=_choice_arg("status", STATUSES),
        profile=_choice_arg("profile", ("client", "server", "ca")),
        ca_id=ca_id,
        expiring_days=_int_arg("expiring", 1, 3650),
        owner_id=None if owner.is_admin else owner.id,
        sort=_choice_arg("sort", tuple(SORTS)) or "newest",
        after=after,
    )
    page = search_certificates(query, page_size=_int_arg("limit", 1, MAX_PAGE, 50))
    next_url = None
    if page.next_cursor:
        args = {**request.args.to_dict(), "after": page.next_cursor}
        next_url = url_for("api.list_certificates", **args)
    return jsonify({
        "items": _with_links(page.rows, with_pem=False),
        "count": page.count,
        "count_capped": page.count_capped,
        "next_cursor": page.next_cursor,
        "next": next_url,
    })


@bp.post("/certificates/<serial>/revoke")
def revoke_certificate(serial: str):
    """Revoke a certificate (pending ones too); the CRL lists it before this returns."""
    data = _json_body(required=False)
    unknown_fields = set(data) - {"reason"}
    if unknown_fields:
        name = sorted(unknown_fields)[0][:40]
        raise InvalidInput(N_("unknown field %(name)r; expected ['reason']"), field=name,
            name=name)
    reason = _text(data, "reason", limit=40)
    row = _find(serial)
    if g.api_user.is_admin:
        row = certificates.revoke_certificate(
            row.serial, reason=reason, ca_name=certificates.ca_name_of(row.ca_id), actor=_actor()
        )
    else:  # a user's token revokes as the user's own pages do, with the same reasons
        row = selfservice.revoke_own(row.id, g.api_user.id, reason=reason, actor=_actor())
    return jsonify(certificate_json(row, with_pem=True))
