"""API tokens: created for a user, shown once, stored as their SHA-256, revocable.

A token is `pt_` followed by 256 random bits (base64url). The database keeps only the SHA-256
of it, so a copy of the database lets nobody call the API. Looking a token up is one indexed
SELECT per request (no cache), so a revocation or a disabled user takes effect on the next
request in every process.
"""

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import bindparam, select, update

from ..errors import Conflict, InvalidInput, NotFound
from ..extensions import db
from ..models import ApiToken, User
from ..translatable import N_
from . import audit
from .driver import thread_connection

TOKEN_PREFIX = "pt_"
PREFIX_SHOWN = 10  # characters kept in clear to tell tokens apart: "pt_" + 7
_NAME = re.compile(r"[\w .@:/+-]{1,64}")
_TOKEN = re.compile(r"pt_[A-Za-z0-9_-]{43}")

_tokens = ApiToken.__table__
_users = User.__table__
# The one query on every API request: the token's live owner, by the token's hash.
_OWNER_OF = (
    select(_users.c.id, _users.c.username, _users.c.role)
    .select_from(_tokens.join(_users, _users.c.id == _tokens.c.user_id))
    .where(
        _tokens.c.token_sha256 == bindparam("digest"),
        _tokens.c.revoked_at.is_(None),
        _users.c.active.is_(True),
    )
)


@dataclass(frozen=True)
class TokenOwner:
    """Who an API request acts for: plain values, no ORM object to refresh."""

    id: int
    username: str
    role: str

    @property
    def is_admin(self) -> bool:
        """Whether this user runs the CA."""
        return self.role == "admin"


def digest(token: str) -> str:
    """The SHA-256 (hex) under which a token is stored."""
    return hashlib.sha256(token.encode("ascii")).hexdigest()


def user_by_name(username: str) -> User:
    """A user by name; NotFound otherwise."""
    user = db.session.scalar(select(User).filter_by(username=username))
    if user is None:
        raise NotFound(N_("no user named %(username)r"), field="username",
            username=username)
    return user


def _check_name(name: str | None) -> str:
    name = (name or "").strip() or "api"
    if not _NAME.fullmatch(name):
        raise InvalidInput(
            N_("a token name is 1-64 letters, digits, spaces or . @ : / + - _"), field="name"
        )
    return name


def create_token(username: str, *, name: str | None = None, actor: str) -> tuple[ApiToken, str]:
    """Create a token for an active user; return its row and the token (shown only now)."""
    user = user_by_name(username)
    if not user.active:
        raise Conflict(N_("user %(username)r is disabled"), field="username",
            username=username)
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    row = ApiToken(
        user_id=user.id, name=_check_name(name), token_sha256=digest(token),
        prefix=token[:PREFIX_SHOWN],
    )
    db.session.add(row)
    db.session.flush()
    audit.record("token.create", actor=actor, detail=f"token {row.id} ({row.name}) for {username}")
    db.session.commit()
    return row, token


def list_tokens(*, user_id: int | None = None, include_revoked: bool = True) -> list[ApiToken]:
    """Tokens, newest first: all of them, or one user's."""
    query = select(ApiToken).order_by(ApiToken.id.desc())
    if user_id is not None:
        query = query.filter_by(user_id=user_id)
    if not include_revoked:
        query = query.where(ApiToken.revoked_at.is_(None))
    return list(db.session.scalars(query))


def revoke_token(token_id: int, *, user_id: int | None = None, actor: str) -> ApiToken:
    """Revoke a token (only among `user_id`'s tokens when given); it stops working at once."""
    row = db.session.get(ApiToken, token_id)
    if row is None or (user_id is not None and row.user_id != user_id):
        raise NotFound(N_("no API token %(token_id)s"), field="token",
            token_id=token_id)
    changed = db.session.execute(
        update(ApiToken)
        .where(ApiToken.id == token_id, ApiToken.revoked_at.is_(None))
        .values(revoked_at=datetime.now(UTC).replace(microsecond=0))
    ).rowcount
    if not changed:
        db.session.rollback()
        raise Conflict(N_("API token %(token_id)s is already revoked"), field="token",
            token_id=token_id)
    audit.record("token.revoke", actor=actor,
                 detail=f"token {token_id} ({row.name}) of {row.user.username}")
    db.session.commit()
    db.session.refresh(row)
    return row


def revoke_all(user_id: int) -> int:
    """Revoke every live token of a user (the caller audits and commits); how many."""
    return db.session.execute(
        update(ApiToken)
        .where(ApiToken.user_id == user_id, ApiToken.revoked_at.is_(None))
        .values(revoked_at=datetime.now(UTC).replace(microsecond=0))
    ).rowcount


def authenticate(token: str) -> TokenOwner | None:
    """The active user a token belongs to, or None for a malformed, unknown or revoked token."""
    if not token or not _TOKEN.fullmatch(token):
        return None
    with thread_connection(db.engine) as connection:  # no session: see services/driver.py
        row = connection.first(_OWNER_OF, {"digest": digest(token)})
    return TokenOwner(*row) if row else None
