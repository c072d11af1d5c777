"""Accounts: creating users with a password hash (scrypt)."""

import re
import secrets

from sqlalchemy import select
from werkzeug.security import generate_password_hash

from ..errors import Conflict, InvalidInput, PolicyViolation
from ..extensions import db
from ..models import ROLE_ADMIN, ROLE_USER, User
from . import audit

MIN_PASSWORD_LENGTH = 10
_USERNAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$")


def generate_password() -> str:
    """A strong random password (about 128 bits) that is easy to copy."""
    return secrets.token_urlsafe(16)


def check_password_strength(password: str) -> str:
    """Refuse passwords that are too short."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise PolicyViolation(
            f"the password must have at least {MIN_PASSWORD_LENGTH} characters",
            field="password",
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
    if not _USERNAME.match(username or ""):
        raise InvalidInput(
            "a user name is 1-64 letters, digits, '.', '_', '@' or '-'", field="username"
        )
    if role not in (ROLE_ADMIN, ROLE_USER):
        raise InvalidInput("the role is admin or user", field="role")
    if db.session.scalar(select(User.id).filter_by(username=username)) is not None:
        raise Conflict(f"a user named {username!r} already exists", field="username")
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
