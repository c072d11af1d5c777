"""Accounts: creating users with a password hash (scrypt)."""

import functools
import re
import secrets

from sqlalchemy import func, select
from werkzeug.security import check_password_hash, generate_password_hash

from ..ca.names import check_email, invisible_character
from ..errors import Conflict, InvalidInput, NotFound, PolicyViolation
from ..extensions import db
from ..models import ROLE_ADMIN, ROLE_USER, User
from ..translatable import N_
from . import audit, sessions, tokens

MIN_PASSWORD_LENGTH = 10
_USERNAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@-]{0,63}")


def generate_password() -> str:
    """A strong random password (about 128 bits) that is easy to copy."""
    return secrets.token_urlsafe(16)


def check_password_strength(password: str) -> str:
    """Refuse passwords that are too short."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise PolicyViolation(
            N_("the password must have at least %(min_password_length)s characters"),
            field="password",
            min_password_length=MIN_PASSWORD_LENGTH,
        )
    return password


def create_user(
    username: str,
    *,
    role: str = ROLE_USER,
    password: str | None = None,
    email: str | None = None,
    actor: str,
) -> tuple[User, str | None]:
    """Create a user; return it and the generated password when none was given."""
    if not _USERNAME.fullmatch(username or ""):
        hidden = invisible_character(username or "")
        if hidden:
            raise InvalidInput(N_("a user name is 1-64 letters, digits, '.', '_', '@' or '-' (it "
                                  "contains %(hidden)s)"), field="username", hidden=hidden)
        raise InvalidInput(N_("a user name is 1-64 letters, digits, '.', '_', '@' or '-'"),
                           field="username")
    if email:
        email = check_email(email)
    if role not in (ROLE_ADMIN, ROLE_USER):
        raise InvalidInput(N_("the role is admin or user"), field="role")
    if db.session.scalar(select(User.id).filter_by(username=username)) is not None:
        raise Conflict(N_("a user named %(username)r already exists"), field="username",
            username=username)
    generated = None if password else generate_password()
    user = User(
        username=username,
        email=email,
        role=role,
        password_hash=generate_password_hash(check_password_strength(password or generated)),
    )
    db.session.add(user)
    audit.record("user.create", actor=actor, detail=f"{username} ({role})")
    db.session.commit()
    return user, generated


# A hash to check against when the user does not exist, so that a wrong user name costs the
# same time as a wrong password and the two cannot be told apart.
@functools.cache
def _dummy_hash() -> str:
    return generate_password_hash(secrets.token_urlsafe(16))


def authenticate(username: str, password: str) -> User | None:
    """The active user with this name and password, or None (same cost either way)."""
    user = db.session.scalar(select(User).filter_by(username=(username or "").strip()))
    valid = check_password_hash(user.password_hash if user else _dummy_hash(), password or "")
    if user is None or not valid or not user.active:
        return None
    return user


def list_users() -> list[User]:
    """Every user, by name."""
    return list(db.session.scalars(select(User).order_by(User.username)))


def sole_active_admin_id(rows: list[User]) -> int | None:
    """The id of the only active admin among `rows` (every user), None when there are more.

    That admin may be neither demoted nor disabled (see `_refuse_last_admin`): the page says
    so up front instead of asking for a confirmation the server then refuses.
    """
    admins = [user.id for user in rows if user.role == ROLE_ADMIN and user.active]
    return admins[0] if len(admins) == 1 else None


def get_user(user_id: int) -> User:
    """A user by id."""
    user = db.session.get(User, user_id)
    if user is None:
        raise NotFound(N_("no such user"))
    return user


def _refuse_last_admin(user: User, refusal: str) -> None:
    """Keep at least one active admin, so nobody locks the CA out of its own portal."""
    if not (user.role == ROLE_ADMIN and user.active):
        return
    others = db.session.scalar(
        select(func.count()).select_from(User).where(
            User.role == ROLE_ADMIN, User.active.is_(True), User.id != user.id
        )
    )
    if not others:
        raise PolicyViolation(refusal, field="role")


def _end_access(user: User) -> str:
    """End every session and revoke every API token of a user; say how many, for the audit."""
    ended = sessions.end_all(user.id)
    revoked = tokens.revoke_all(user.id)
    return f"; {ended} session(s) ended, {revoked} API token(s) revoked"


def set_role(user_id: int, role: str, *, actor: str) -> User:
    """Make a user an admin or a plain user."""
    if role not in (ROLE_ADMIN, ROLE_USER):
        raise InvalidInput(N_("the role is admin or user"), field="role")
    user = get_user(user_id)
    if role != ROLE_ADMIN:
        _refuse_last_admin(user, N_("cannot demote the last active admin"))
    ended = sessions.end_all(user.id) if user.role != role else 0
    user.role = role
    audit.record("user.role", actor=actor,
                 detail=f"{user.username} -> {role}; {ended} session(s) ended")
    db.session.commit()
    return user


def set_active(user_id: int, active: bool, *, actor: str) -> User:
    """Disable a user (every session ends and every API token is revoked) or enable them again.

    Enabling brings back neither: the person signs in again and makes new tokens.
    """
    user = get_user(user_id)
    detail = user.username
    if not active:
        _refuse_last_admin(user, N_("cannot disable the last active admin"))
        detail += _end_access(user)
    user.active = active
    audit.record("user.enable" if active else "user.disable", actor=actor, detail=detail)
    db.session.commit()
    return user


def reset_password(user_id: int, password: str | None = None, *, actor: str) -> tuple[User, str]:
    """Set a new password (generated when none is given); every session and token ends."""
    user = get_user(user_id)
    new_password = password or generate_password()
    user.password_hash = generate_password_hash(check_password_strength(new_password))
    audit.record("user.password_reset", actor=actor, detail=user.username + _end_access(user))
    db.session.commit()
    return user, new_password


# Notifications (issue 17): the address expiry warnings go to.
def user_by_name(username: str) -> User:
    """A user by name."""
    user = db.session.scalar(select(User).filter_by(username=(username or "").strip()))
    if user is None:
        raise NotFound(N_("no user named %(username)r"), field="username",
            username=username)
    return user


def set_email(username: str, email: str | None, *, actor: str) -> User:
    """Set (or, with None or "", clear) the e-mail address a user's warnings are sent to."""
    from ..ca.names import check_email

    user = user_by_name(username)
    user.email = check_email(email.strip()) if email and email.strip() else None
    audit.record("user.email", actor=actor, detail=f"{user.username} -> {user.email or '(none)'}")
    db.session.commit()
    return user


def set_language(user_id: int, language: str | None, *, offered: list[str], actor: str) -> User:
    """Save the language a user chose (None: follow the browser); their mails use it too."""
    from ..languages import normalise_language

    name = normalise_language(language) if language else None
    if language and name not in offered:
        raise InvalidInput(N_("choose one of the languages this portal offers"),
                           field="language")
    user = get_user(user_id)
    if user.language != name:
        user.language = name
        audit.record("user.language", actor=actor,
                     detail=f"{user.username} -> {name or '(browser)'}")
        db.session.commit()
    return user
