"""A `limits` storage in the database, so that every worker shares the throttle's counts.

Flask-Limiter's default memory storage counts per process: with four workers the sixth failed
sign-in would be the twenty-first. This storage registers the `portal-db://` scheme and keeps
one row per counted hit in `rate_limit_hits`; it implements the moving-window strategy, which
is exactly "at most N in any 60 seconds". Who is counted (an address, an account) is read from
the request by the web layer (web/throttle.py), under the key prefixes below.
"""

import time

from limits.storage import MovingWindowSupport, Storage
from sqlalchemy import delete, func, insert, select
from sqlalchemy.exc import SQLAlchemyError

from ..extensions import db
from ..models import RateLimitHit

ACCOUNT_KEY_PREFIX = "user:"
ADDRESS_KEY_PREFIX = "addr:"

# Rows older than this are deleted whenever a hit is recorded (no limit here is longer).
RETENTION_SECONDS = 24 * 3600


class DatabaseStorage(Storage, MovingWindowSupport):
    """Moving-window rate limit counts in the portal's own database."""

    STORAGE_SCHEME = ["portal-db"]

    def __init__(self, uri: str | None = None, wrap_exceptions: bool = False, **options):
        super().__init__(uri, wrap_exceptions=wrap_exceptions, **options)

    @property
    def base_exceptions(self):
        """Database errors, which Flask-Limiter may wrap or swallow."""
        return SQLAlchemyError

    def acquire_entry(self, key: str, limit: int, expiry: int, amount: int = 1) -> bool:
        """Record `amount` hits unless that would exceed `limit` within `expiry` seconds."""
        if amount > limit:
            return False
        now = time.time()
        # Insert first, then count, in one transaction: the insert takes SQLite's write lock,
        # so concurrent workers are serialised and each count sees the others' hits.
        with db.engine.connect() as connection:
            if connection.dialect.name == "postgresql":
                # PostgreSQL takes no table lock on INSERT: without this, concurrent attempts
                # would each count only their own hit and all pass. Serialise them per key.
                connection.execute(
                    select(func.pg_advisory_xact_lock(func.hashtext(key)))
                )
            connection.execute(
                insert(RateLimitHit), [{"key": key, "at": now} for _ in range(amount)]
            )
            count = connection.scalar(
                select(func.count()).select_from(RateLimitHit).where(
                    RateLimitHit.key == key, RateLimitHit.at > now - expiry
                )
            )
            if count > limit:
                connection.rollback()
                return False
            connection.execute(
                delete(RateLimitHit).where(RateLimitHit.at < now - RETENTION_SECONDS)
            )
            connection.commit()
        return True

    def get_moving_window(self, key: str, limit: int, expiry: int) -> tuple[float, int]:
        """The oldest hit within the window and the number of hits in it."""
        now = time.time()
        with db.engine.connect() as connection:
            oldest, count = connection.execute(
                select(func.min(RateLimitHit.at), func.count()).where(
                    RateLimitHit.key == key, RateLimitHit.at > now - expiry
                )
            ).one()
        return (oldest if oldest is not None else now), count

    def incr(self, key: str, expiry: int, amount: int = 1) -> int:
        """Fixed-window counting is not offered: configure the moving-window strategy."""
        raise NotImplementedError("portal-db:// supports the moving-window strategy only")

    def get(self, key: str) -> int:
        """Fixed-window counting is not offered: configure the moving-window strategy."""
        raise NotImplementedError("portal-db:// supports the moving-window strategy only")

    def get_expiry(self, key: str) -> float:
        """Fixed-window counting is not offered: configure the moving-window strategy."""
        raise NotImplementedError("portal-db:// supports the moving-window strategy only")

    def check(self) -> bool:
        """Whether the database answers."""
        try:
            with db.engine.connect() as connection:
                connection.execute(select(1))
        except SQLAlchemyError:
            return False
        return True

    def reset(self) -> int | None:
        """Forget every count."""
        with db.engine.begin() as connection:
            return connection.execute(delete(RateLimitHit)).rowcount

    def clear(self, key: str) -> None:
        """Forget the counts of one key."""
        with db.engine.begin() as connection:
            connection.execute(delete(RateLimitHit).where(RateLimitHit.key == key))
