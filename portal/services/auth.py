"""Signing in and out of the pages: the check, the session row and the audit, one commit each."""

from dataclasses import dataclass

from ..extensions import db
from ..models import User
from . import audit, sessions, users


@dataclass(frozen=True)
class SignedIn:
    """A successful sign-in: the user, and the new session's id (for the cookie only)."""

    user: User
    session_id: str


def sign_in(username: str, password: str, *, address: str) -> SignedIn | None:
    """Check a user name and password; open a session, or record the failure and return None."""
    user = users.authenticate(username, password)
    if user is None:
        audit.record("auth.login", actor=f"web:{username[:64]}", outcome="denied",
                     detail=f"from {address}")
        db.session.commit()
        return None
    session_id = sessions.start(user.id)
    audit.record("auth.login", actor=f"web:{user.username}", detail=f"from {address}")
    db.session.commit()
    return SignedIn(user, session_id)


def sign_out(user_id: int, username: str) -> None:
    """Sign a user out: every one of their sessions ends, on every host and device."""
    ended = sessions.end_all(user_id)
    audit.record("auth.logout", actor=f"web:{username}", detail=f"{ended} session(s) ended")
    db.session.commit()


def load_user(user_id: str) -> User | None:
    """The user a session names ("<id>:<stamp>"): None when disabled or the password changed."""
    ident, _, _stamp = user_id.partition(":")
    user = db.session.get(User, int(ident)) if ident.isdigit() and len(ident) <= 18 else None
    if user is None or not user.active or user.get_id() != user_id:
        return None
    return user


def is_live_session(session_id: str | None, user_id: str | None) -> bool:
    """Whether a cookie's session id is a live session of the user the cookie names."""
    ident = (user_id or "").partition(":")[0] if isinstance(user_id, str) else ""
    if not ident.isdigit() or len(ident) > 18:
        return False
    return sessions.check(session_id, int(ident))
