"""Server-side sign-in sessions: a random id in the cookie, its SHA-256 in `web_sessions`.

The signed cookie alone cannot be revoked: a copy of it stays valid until it expires. So the
cookie also carries a random session id, and every page request checks it against this table
(one indexed SELECT). Ending a session is deleting its row: sign-out, a disable, a role change
and a password reset delete every row of that user, and each host sees it on the next request.
Nothing here looks at the client's address: it proves nothing behind a proxy and is easy to
spoof.
"""

import hashlib
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from flask import current_app
from sqlalchemy import delete, or_, select, update

from ..extensions import db
from ..models import User, WebSession

DEFAULT_IDLE_MINUTES = 60
DEFAULT_LIFETIME_HOURS = 12
# last_seen_at is written at most this often per session (and at least 10 times per idle
# timeout), so that pages cost a write only once in a while.
TOUCH_INTERVAL = timedelta(minutes=1)
_ID_LENGTH = 43  # secrets.token_urlsafe(32)


@dataclass(frozen=True)
class SessionLimits:
    """How long a session lives: idle for at most `idle`, and `lifetime` at most in all."""

    idle: timedelta
    lifetime: timedelta

    @property
    def touch_interval(self) -> timedelta:
        """How stale last_seen_at may get before a request writes it again."""
        return min(TOUCH_INTERVAL, self.idle / 10)


def limits() -> SessionLimits:
    """The idle timeout and absolute lifetime from the settings."""
    config = current_app.config
    idle = float(config.get("PORTAL_SESSION_IDLE_MINUTES") or DEFAULT_IDLE_MINUTES)
    lifetime = float(config.get("PORTAL_SESSION_LIFETIME_HOURS") or DEFAULT_LIFETIME_HOURS)
    return SessionLimits(timedelta(minutes=idle), timedelta(hours=lifetime))


def digest(session_id: str) -> str:
    """The SHA-256 (hex) under which a session id is stored."""
    return hashlib.sha256(session_id.encode("ascii")).hexdigest()


def _now() -> datetime:
    return datetime.now(UTC)


def start(user_id: int) -> str:
    """Open a session for a user (the caller commits); return its id, for the cookie only."""
    session_id = secrets.token_urlsafe(32)
    now = _now()
    db.session.add(WebSession(session_sha256=digest(session_id), user_id=user_id,
                              created_at=now, last_seen_at=now))
    _purge_expired(now)
    return session_id


def _purge_expired(now: datetime) -> None:
    window = limits()
    db.session.execute(delete(WebSession).where(or_(
        WebSession.last_seen_at < now - window.idle,
        WebSession.created_at < now - window.lifetime,
    )))


def check(session_id: str | None, user_id: int) -> bool:
    """Whether `session_id` is a live session of this active user; refreshes its idle clock."""
    if not isinstance(session_id, str) or len(session_id) != _ID_LENGTH:
        return False
    key = digest(session_id)
    row = db.session.execute(
        select(WebSession.id, WebSession.created_at, WebSession.last_seen_at)
        .join(User, User.id == WebSession.user_id)
        .where(WebSession.session_sha256 == key, WebSession.user_id == user_id,
               User.active.is_(True))
    ).first()
    if row is None:
        return False
    window, now = limits(), _now()
    if now - row.last_seen_at > window.idle or now - row.created_at > window.lifetime:
        db.session.execute(delete(WebSession).where(WebSession.id == row.id))
        db.session.commit()
        return False
    stale = now - window.touch_interval
    if row.last_seen_at < stale:  # conditional: of parallel requests, one writes, none fails
        db.session.execute(update(WebSession)
                           .where(WebSession.id == row.id, WebSession.last_seen_at < stale)
                           .values(last_seen_at=now))
        db.session.commit()
    return True


def end_all(user_id: int) -> int:
    """End every session of a user on every host (the caller commits); how many there were."""
    return db.session.execute(delete(WebSession).where(WebSession.user_id == user_id)).rowcount


def end_everyone() -> int:
    """End every session of every user (after a restore; the caller commits); how many."""
    return db.session.execute(delete(WebSession)).rowcount
