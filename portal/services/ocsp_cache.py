"""Stored OCSP answers kept in each process, dropped on the next request after any revocation.

The revocation epoch is one row of `ocsp_counters` ("revocation_epoch"), raised by a random
step by every revocation once its stored answers say revoked (`ocsp_store.after_revocation`),
and by a restore. Each request reads it first (one single-row query by primary key: the whole
database cost of a hit); when it differs from the epoch this process's cache was filled under,
the cache is dropped with the responders it depended on. So a revocation counts on the next
request on every worker of every host sharing the database. Entries are filled only under the
epoch read before their rows were, so no entry predates the revocation that raised its epoch.

An entry is served under the rules the database path follows: a request without a nonce,
before half of the answer's validity (so never near its nextUpdate), and while its CA and
every CA above it are unexpired. Answers for unknown serials are kept the same way but for
UNKNOWN_SECONDS at most and in a table of their own, so that a scan of made-up serials cannot
push the real answers out.
"""

import secrets
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine, bindparam, insert, select, update
from sqlalchemy.exc import IntegrityError

from ..models import OCSPCounter
from . import cache
from .driver import DriverConnection, prepared

EPOCH = "revocation_epoch"  # the ocsp_counters row raised by a random step on each revocation
MAX_ANSWERS = 20_000  # cached answers per process (about 1 KB each with their request)
MAX_UNKNOWN = 2_000
UNKNOWN_SECONDS = 60  # how long a signed "unknown" is served again (its nextUpdate is later)

_counter = OCSPCounter.__table__
_SELECT_EPOCH = select(_counter.c.value).where(_counter.c.name == bindparam("name"))
_RAISE_EPOCH = update(_counter).where(_counter.c.name == bindparam("name")).values(
    value=_counter.c.value + bindparam("step"))
_INSERT_EPOCH = insert(_counter)


@dataclass(frozen=True, slots=True)
class Cached:
    """An answer as served from the cache, with what decides whether it still may be."""

    answer: object  # ocsp_answer.Answer
    ca_name: str
    serve_until: datetime  # half of its validity, or UNKNOWN_SECONDS for an unknown serial
    ca_until: datetime  # the earliest notAfter of its CA and the CAs above it


@dataclass(slots=True)
class Generation:
    """What one process keeps under one revocation epoch."""

    epoch: int
    answers: dict = field(default_factory=dict)  # request DER -> Cached
    unknown: dict = field(default_factory=dict)

    def find(self, request_der: bytes, ca_name: str | None, now: datetime):
        """The cached answer to this exact request, or None (absent, stale, other CA's URL)."""
        found = self.answers.get(request_der) or self.unknown.get(request_der)
        if found is None or now >= found.serve_until or now >= found.ca_until:
            return None
        if ca_name is not None and found.ca_name != ca_name:
            return None
        return found.answer

    def keep(self, request_der: bytes, answer, *, ca_name: str, ca_until: datetime,
             unknown: bool = False) -> None:
        """Keep an answer (cacheable, without a nonce) to serve again to the same request."""
        until = answer.this_update + (answer.next_update - answer.this_update) / 2
        if unknown:
            until = min(until, datetime.now(UTC) + timedelta(seconds=UNKNOWN_SECONDS))
        table, bound = (self.unknown, MAX_UNKNOWN) if unknown else (self.answers, MAX_ANSWERS)
        if len(table) >= bound:
            _drop_oldest(table)
        table[request_der] = Cached(answer, ca_name, until, ca_until)


def _drop_oldest(table: dict) -> None:
    try:
        table.pop(next(iter(table)), None)
    except (StopIteration, RuntimeError):  # emptied or changed by another thread meanwhile
        pass


_LOCK = threading.Lock()


def current(connection: DriverConnection, engine: Engine) -> Generation:
    """The cache of this process for the epoch read now (a new one when it changed)."""
    row = prepared(_SELECT_EPOCH, engine).first(connection.cursor, {"name": EPOCH})
    epoch = row[0] if row is not None else 0
    table = cache.table("ocsp.generation")
    found = table.get(None)
    if found is not None and found.epoch == epoch:
        return found
    with _LOCK:
        found = table.get(None)
        if found is None or found.epoch != epoch:
            # What a revocation may have changed: the CAs' state (read anew on each miss
            # anyway) and the responders, one of which may be the revoked certificate.
            cache.table("ocsp.responders").clear()
            found = table[None] = Generation(epoch)
    return found


def raise_epoch(connection: DriverConnection, engine: Engine) -> None:
    """Tell every process that a revocation happened: their caches are dropped; commit."""
    # A random step: a restored database's epoch cannot come back to one a process kept.
    step = 1 + secrets.randbelow(1 << 31)
    for _attempt in range(3):
        prepared(_RAISE_EPOCH, engine).execute(connection.cursor, {"name": EPOCH, "step": step})
        if connection.cursor.rowcount:
            connection.commit()
            return
        connection.rollback()
        try:  # the first revocation ever: the row does not exist yet (it has no id to return)
            with engine.begin() as core:
                core.execute(_INSERT_EPOCH, {"name": EPOCH, "value": step})
            return
        except IntegrityError:  # another process inserted it first: raise it again
            pass
    raise RuntimeError("the OCSP revocation epoch could not be raised")
