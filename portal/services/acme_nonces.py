"""ACME Replay-Nonces that any host hands out without a write, and any host takes once.

A nonce carries its issue time and random bytes, authenticated with a key derived from the
instance's CA secret (which every host of one database shares): handing one out writes
nothing. Taking one inserts its value into `acme_nonces`, whose primary key lets one use
through, on whichever host it comes, and refuses every later one. Rows older than the nonce
lifetime are purged: by then the nonce's own time refuses it.
"""

import base64
import hashlib
import hmac
import secrets
import time
from datetime import UTC, datetime, timedelta

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from flask import current_app
from sqlalchemy import delete, insert
from sqlalchemy.exc import IntegrityError

from ..acme_models import AcmeNonce
from ..extensions import db
from .driver import thread_connection
from .secrets import ca_secret

NONCE_LIFETIME = timedelta(hours=1)
CLOCK_SKEW_SECONDS = 60  # a nonce from a host whose clock is ahead by less is still good
_NONCES = AcmeNonce.__table__
_TIME_BYTES, _RANDOM_BYTES, _TAG_BYTES = 5, 12, 16
_LENGTH = _TIME_BYTES + _RANDOM_BYTES + _TAG_BYTES
_KEY_LABEL = b"portal ACME nonce key v1"
_TAKE = insert(_NONCES)


def _key() -> bytes:
    """The nonce key, derived once per process from the CA secret (else the session key)."""
    key = current_app.extensions.get("acme_nonce_key")
    if key is None:
        secret = ca_secret() or current_app.config["SECRET_KEY"]
        key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None,
                   info=_KEY_LABEL).derive(secret.strip().encode())
        current_app.extensions["acme_nonce_key"] = key
    return key


def _tag(body: bytes) -> bytes:
    return hmac.new(_key(), body, hashlib.sha256).digest()[:_TAG_BYTES]


def new_nonce() -> str:
    """A fresh nonce: its time and 12 random bytes, authenticated; nothing is written."""
    body = int(time.time()).to_bytes(_TIME_BYTES, "big") + secrets.token_bytes(_RANDOM_BYTES)
    return base64.urlsafe_b64encode(body + _tag(body)).decode().rstrip("=")


def _issued_at(value: str) -> int | None:
    """The issue time of a nonce this instance made, or None for anything else."""
    if not isinstance(value, str) or len(value) != 44 or not value.isascii():
        return None
    try:
        raw = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
    except ValueError:
        return None
    body, tag = raw[:-_TAG_BYTES], raw[-_TAG_BYTES:]
    if len(raw) != _LENGTH or not hmac.compare_digest(tag, _tag(body)):
        return None
    return int.from_bytes(body[:_TIME_BYTES], "big")


def use_nonce(value: str) -> bool:
    """Take a nonce: True once for a nonce handed out within the hour, False ever after.

    The INSERT decides: of two requests racing with one nonce (on any hosts) only one inserts
    its row. The use is committed at once, whatever becomes of the request.
    """
    issued = _issued_at(value)
    now = time.time()
    if issued is None or not now - NONCE_LIFETIME.total_seconds() < issued \
            <= now + CLOCK_SKEW_SECONDS:
        return False
    # On the thread's driver connection, not the session: its commit would expire what the
    # request has loaded already (the account, the endpoint) and make it read them again.
    with thread_connection(db.engine) as connection:
        try:
            connection.execute(_TAKE, {"value": value,
                                       "created_at": datetime.fromtimestamp(issued, UTC)})
            connection.commit()
        except IntegrityError:
            connection.rollback()
            return False
    return True


def forget_old_nonces() -> int:
    """Delete the uses of nonces too old to be used anyway; how many."""
    oldest = datetime.now(UTC) - NONCE_LIFETIME - timedelta(seconds=CLOCK_SKEW_SECONDS)
    gone = db.session.execute(delete(_NONCES).where(_NONCES.c.created_at <= oldest)).rowcount
    db.session.commit()
    return gone
