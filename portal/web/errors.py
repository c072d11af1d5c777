"""Error pages: a clear sentence for the person, never a stack trace."""

from flask import Flask, current_app, make_response, render_template, request
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf.csrf import CSRFError
from markupsafe import escape
from werkzeug.exceptions import HTTPException, MethodNotAllowed

from ..errors import (
    CAKeyUnavailable,
    CAUnusable,
    ClientCertificateMissing,
    ClientCertificateRefused,
    Conflict,
    Gone,
    NotFound,
    NotPermitted,
    PortalError,
    Unavailable,
)
from ..services.transaction import roll_back
from .i18n import translate_error


class Unauthorized(PortalError):
    """No credentials, or ones that are unknown, revoked or belong to a disabled user."""


class UnsupportedMediaType(PortalError):
    """The body is not in the format the endpoint takes (JSON)."""


# What each kind of error answers over HTTP; anything else a service raises is a 400.
STATUSES: dict[type[PortalError], int] = {
    Unauthorized: 401,
    ClientCertificateMissing: 401,
    NotPermitted: 403,
    ClientCertificateRefused: 403,
    NotFound: 404,
    Conflict: 409,
    CAUnusable: 409,
    Gone: 410,
    UnsupportedMediaType: 415,
    CAKeyUnavailable: 503,
    Unavailable: 503,
}


def status_of(error: PortalError) -> int:
    """The HTTP status for a typed error: its nearest kind's, else 400."""
    for kind in type(error).__mro__:
        if kind in STATUSES:
            return STATUSES[kind]
    return 400

MESSAGES = {
    400: _l("The request could not be understood."),
    403: _l("You do not have access to this page."),
    404: _l("There is nothing here. The link may be old, or the item was never there."),
    405: _l("This address does not accept that kind of request."),
    413: _l("The upload is too large."),
    429: _l("Too many attempts. Wait a minute and try again."),
    500: _l("Something went wrong on our side. Nothing was changed; try again."),
    503: _l("The service is not available right now."),
}


def error_page(status: int, message: str | None = None):
    """Render the error page for a status code."""
    text = str(message or MESSAGES.get(status) or _("The request failed."))
    try:
        return render_template("error.html", status=status, message=text), status
    except Exception:  # the layout itself is broken: still no stack trace for the person
        current_app.logger.exception("the error page could not be rendered")
        page = f"<!doctype html><title>{status}</title><h1>{status}</h1><p>{escape(text)}</p>"
        return page, status


def handle_portal_error(error: PortalError):
    """A typed error no view handled: its own status and sentence."""
    roll_back()
    return error_page(status_of(error), translate_error(error))


def handle_csrf_error(error: CSRFError):
    """A form without a valid CSRF token: say what to do, in one sentence."""
    return error_page(
        400,
        _("This form has expired or did not come from this site. Go back, reload the page and "
          "send it again."),
    )


def handle_http_error(error: HTTPException):
    """404, 405, 429 and friends: the standard sentence (JSON under /api/v1).

    A request that matched no route (TRACE, say) reaches this app-wide handler even under
    /api/v1, since no blueprint is known yet: the API answers it in its own JSON shape.
    """
    from .acme import ACME_PREFIX
    from .acme import handle_http_error as acme_http_error
    from .api import API_PREFIX, http_error

    if request.path.startswith(API_PREFIX):
        return http_error(error)
    if request.path.startswith(ACME_PREFIX):  # no route matched: still a problem document
        return acme_http_error(error)
    if error.code == 429 and request.endpoint == "auth.login":
        from .auth import throttled_login_page

        return throttled_login_page()
    response = make_response(error_page(error.code or 500))
    if isinstance(error, MethodNotAllowed) and error.valid_methods:
        response.headers["Allow"] = ", ".join(error.valid_methods)
    return response


def handle_unexpected_error(error: Exception):
    """Anything else: log it for the operator, roll back, show a calm page without details."""
    roll_back()
    # The route's pattern, not the path: a path can carry a secret (an enrollment token).
    route = request.url_rule.rule if request.url_rule else "(no route)"
    current_app.logger.exception("unhandled error on %s %s", request.method, route)
    return error_page(500)


def init_app(app: Flask) -> None:
    """Register the handlers."""
    app.register_error_handler(PortalError, handle_portal_error)
    app.register_error_handler(CSRFError, handle_csrf_error)
    app.register_error_handler(HTTPException, handle_http_error)
    app.register_error_handler(Exception, handle_unexpected_error)
