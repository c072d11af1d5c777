"""Where the reader's language and time zone come from: the account, a cookie, the browser.

The switcher on every page posts here (with its CSRF token): a visitor's choice is kept in a
cookie, a signed-in person's on their account as well, so that their mails follow it.
"""

from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from flask import Blueprint, abort, current_app, redirect, request, url_for
from flask_login import current_user

from ..errors import PortalError
from ..languages import normalise_language
from .security import is_safe_next

bp = Blueprint("language", __name__)
COOKIE_SECONDS = 365 * 86400

LANGUAGE_COOKIE = "portal_language"
TIMEZONE_COOKIE = "portal_timezone"


def chosen_language() -> str | None:
    """The language the reader picked with the switcher: on the account, else in the cookie."""
    if current_user and current_user.is_authenticated:
        saved = getattr(current_user, "language", None)
        if saved:
            return saved
    return request.cookies.get(LANGUAGE_COOKIE)


def valid_timezone(name: str | None) -> str | None:
    """`name` when it is an IANA time zone this machine knows, else None."""
    if not name or len(name) > 64:
        return None
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return None
    return name


def select_timezone() -> str | None:
    """The time zone the browser reported (portal.js sets the cookie), else None: UTC."""
    return valid_timezone(request.cookies.get(TIMEZONE_COOKIE))


@bp.post("/language")
def choose():
    """Remember the language picked in the switcher, then go back to the page it was on."""
    from ..services import users
    from .access import current_actor

    offered = current_app.extensions["portal.languages"]
    name = normalise_language(request.form.get("language", ""))
    if name not in offered:
        abort(400)
    if current_user.is_authenticated:
        try:
            users.set_language(current_user.id, name, offered=offered, actor=current_actor())
        except PortalError:
            abort(400)
    target = request.form.get("next", "")
    response = redirect(target if is_safe_next(target) else url_for("dashboard.index"))
    response.set_cookie(LANGUAGE_COOKIE, name, max_age=COOKIE_SECONDS, httponly=True,
                        samesite="Lax", secure=current_app.config["SESSION_COOKIE_SECURE"])
    return response
