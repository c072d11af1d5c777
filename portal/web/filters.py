"""Template helpers: dates people can read, relative times, short serials."""

from datetime import UTC, datetime

from flask import Flask, request


def format_datetime(moment: datetime | None) -> str:
    """'2025-03-01 14:05 UTC'."""
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC") if moment else "—"


def format_date(moment: datetime | None) -> str:
    """'2025-03-01'."""
    return moment.astimezone(UTC).strftime("%Y-%m-%d") if moment else "—"


def relative(moment: datetime | None, now: datetime | None = None) -> str:
    """'in 12 days', '3 hours ago', 'in 2 years'."""
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
            text = f"{count} {unit}{'s' if count != 1 else ''}"
            return f"in {text}" if future else f"{text} ago"
    return "in a moment" if future else "just now"


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
    app.jinja_env.globals.update(nav_active=nav_active)
