"""ACME Replay-Nonces kept in the database: any host hands one out, any host takes it once."""

import secrets
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, insert

from ..acme_models import AcmeNonce
from ..extensions import db

NONCE_LIFETIME = timedelta(hours=1)
_NONCES = AcmeNonce.__table__


def new_nonce() -> str:
    """A fresh nonce, committed before it is handed out."""
    value = secrets.token_urlsafe(16)
    db.session.execute(insert(_NONCES).values(value=value, created_at=datetime.now(UTC)))
    db.session.commit()
    return value


def use_nonce(value: str) -> bool:
    """Take a nonce: True once for a nonce handed out within the hour, False ever after.

    The DELETE decides: of two requests racing with one nonce (on any hosts) only one
    deletes its row. The use is committed at once, whatever becomes of the request.
    """
    if not isinstance(value, str) or len(value) > 64:
        return False
    oldest = datetime.now(UTC) - NONCE_LIFETIME
    taken = db.session.execute(
        delete(_NONCES).where(_NONCES.c.value == value, _NONCES.c.created_at > oldest)
    ).rowcount
    db.session.commit()
    return taken == 1


def forget_old_nonces() -> int:
    """Delete nonces too old to be used; how many."""
    oldest = datetime.now(UTC) - NONCE_LIFETIME
    gone = db.session.execute(delete(_NONCES).where(_NONCES.c.created_at <= oldest)).rowcount
    db.session.commit()
    return gone
