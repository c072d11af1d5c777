"""Template helpers: dates people can read, relative times, short serials, in the reader's language.

English keeps the portal's own formats ('2025-03-01 14:05 UTC'); ja, ko and zh_Hans use
Babel's patterns for the locale. Times are shown in the reader's time zone (see
portal/web/language.py), UTC unless one is known.
"""

from datetime import UTC, datetime

from flask import Flask, has_request_context, request
from flask_babel import format_date as babel_format_date
from flask_babel import format_datetime as babel_format_datetime
from flask_babel import format_decimal as babel_format_decimal
from flask_babel import get_locale, get_timezone, gettext, lazy_gettext, ngettext


def _local(moment: datetime) -> datetime:
    """`moment` in the reader's time zone (UTC unless the account or browser said otherwise)."""
    return moment.astimezone(get_timezone()) if has_request_context() else moment.astimezone(UTC)


def _english() -> bool:
    return not has_request_context() or str(get_locale() or "en") == "en"


def format_datetime(moment: datetime | None) -> str:
    """'2025-03-01 14:05 UTC' in English; the reader's locale's short form elsewhere."""
    if not moment:
        return "—"
    local = _local(moment)
    if _english():
        zone = local.tzname() if local.utcoffset() else "UTC"
        return local.strftime("%Y-%m-%d %H:%M ") + zone
    return babel_format_datetime(local, "short", rebase=False) + " " + _zone_label(local)


def _zone_label(local: datetime) -> str:
    return "UTC" if not local.utcoffset() else (local.tzname() or "")


def format_date(moment: datetime | None) -> str:
    """'2025-03-01' in English; the reader's locale's medium date elsewhere."""
    if not moment:
        return "—"
    local = _local(moment)
    if _english():
        return local.strftime("%Y-%m-%d")
    return babel_format_date(local.date(), "medium")


def format_number(value) -> str:
    """1234 -> '1,234' (grouped as the reader's locale groups digits)."""
    if value is None:
        return ""
    return babel_format_decimal(value) if has_request_context() else f"{value:,}"


def _future(unit: str, count: int) -> str:
    texts = {
        "year": lambda: ngettext("in %(num)d year", "in %(num)d years", count),
        "month": lambda: ngettext("in %(num)d month", "in %(num)d months", count),
        "day": lambda: ngettext("in %(num)d day", "in %(num)d days", count),
        "hour": lambda: ngettext("in %(num)d hour", "in %(num)d hours", count),
        "minute": lambda: ngettext("in %(num)d minute", "in %(num)d minutes", count),
    }
    return texts[unit]()


def _past(unit: str, count: int) -> str:
    texts = {
        "year": lambda: ngettext("%(num)d year ago", "%(num)d years ago", count),
        "month": lambda: ngettext("%(num)d month ago", "%(num)d months ago", count),
        "day": lambda: ngettext("%(num)d day ago", "%(num)d days ago", count),
        "hour": lambda: ngettext("%(num)d hour ago", "%(num)d hours ago", count),
        "minute": lambda: ngettext("%(num)d minute ago", "%(num)d minutes ago", count),
    }
    return texts[unit]()


def relative(moment: datetime | None, now: datetime | None = None) -> str:
    """'in 12 days', '3 hours ago', 'in 2 years' (in the reader's language)."""
    if moment is None:
        return ""
    seconds = (moment - (now or datetime.now(UTC))).total_seconds()
    future, seconds = seconds >= 0, abs(seconds)
    for size, unit in ((365 * 86400, "year"), (30 * 86400, "month"), (86400, "day"),
                       (3600, "hour"), (60, "minute")):
        if seconds >= size * (2 if unit in ("year", "month") else 1):
            # to the nearest unit: a 20-day certificate, a moment after issuance, has 19.99
            # days left and reads "in 20 days", not "in 19 days"
            count = int(seconds / size + 0.5)
            return _future(unit, count) if future else _past(unit, count)
    return gettext("in a moment") if future else gettext("just now")


def days_left(moment: datetime | None) -> int | None:
    """Whole days until `moment` (negative when past)."""
    if moment is None:
        return None
    return int((moment - datetime.now(UTC)).total_seconds() // 86400)


def short_serial(serial: str | None) -> str:
    """The first and last digits of a long serial: '5F3A…9C01'."""
    if not serial or len(serial) <= 14:
        return serial or ""
    return f"{serial[:6]}…{serial[-4:]}"


def nav_active(prefix: str) -> str:
    """'active' when the current page is under `prefix` (for the navigation)."""
    path = request.path
    if prefix == "/":
        return "active" if path == "/" else ""
    return "active" if path == prefix or path.startswith(prefix + "/") else ""


def init_app(app: Flask) -> None:
    """Make the helpers available in templates."""
    app.jinja_env.filters.update(
        datetime=format_datetime, date=format_date, relative=relative, days_left=days_left,
        short_serial=short_serial,
    )
    app.jinja_env.filters.update(number=format_number)
    app.jinja_env.globals.update(
        nav_active=nav_active, status_label=status_label,
        request_status_label=request_status_label, role_label=role_label,
        profile_label=profile_label, link_state_label=link_state_label,
    )


# The words the tables show for stored values (the values themselves stay English).
STATUS_LABELS = {
    "issued": lazy_gettext("issued"), "revoked": lazy_gettext("revoked"),
    "pending": lazy_gettext("pending"), "expired": lazy_gettext("expired"),
}
REQUEST_STATUS_LABELS = {
    "pending": lazy_gettext("pending"), "approved": lazy_gettext("ready to download"),
    "expired": lazy_gettext("expired (not downloaded)"), "rejected": lazy_gettext("rejected"),
    "issued": lazy_gettext("issued"), "cancelled": lazy_gettext("withdrawn"),
}
ROLE_LABELS = {"admin": lazy_gettext("admin"), "user": lazy_gettext("user")}
LINK_STATE_LABELS = {
    "active": lazy_gettext("active"), "used": lazy_gettext("used"),
    "expired": lazy_gettext("expired"), "cancelled": lazy_gettext("withdrawn"),
}
PROFILE_LABELS = {
    "server": lazy_gettext("server"), "client": lazy_gettext("client"),
    "intermediate": lazy_gettext("intermediate"), "root": lazy_gettext("root"),
}


def status_label(value: str) -> str:
    """A certificate status as the reader reads it ('issued' -> '発行済み')."""
    return STATUS_LABELS.get(value, value)


def request_status_label(value: str) -> str:
    """A self-service request's state as the reader reads it."""
    return REQUEST_STATUS_LABELS.get(value, value)


def link_state_label(value: str) -> str:
    """An enrollment link's state as the reader reads it."""
    return LINK_STATE_LABELS.get(value, value)


def role_label(value: str) -> str:
    """'admin' or 'user' in the reader's language."""
    return ROLE_LABELS.get(value, value)


def profile_label(value: str) -> str:
    """A profile's name in the reader's language ('server', 'client', ...)."""
    return PROFILE_LABELS.get(value, value)
