"""The validation worker: claims answered challenges from the database and decides them.

It runs in `portal serve` (a thread that polls, with a small pool of validator threads), so a
slow or hostile target holds a validator thread for at most the timeout, never a request
thread. Claims are leases written in the database: several hosts share the work, and a host
that dies mid-validation leaves its challenges to the others once the lease runs out.
Transient failures (connection, DNS, TLS) are retried with back-off until the deadline.

On one host, a request that answers a challenge also wakes the worker through a pipe that
`portal serve` opens before it forks both, so the validation starts at once rather than at
the next poll; the poll stays, for the challenges answered through other hosts.
"""

import os
import selectors
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import bindparam, or_, select, update

from ..acme import validators
from ..acme.identifiers import Identifier
from ..acme.problems import AcmeProblem
from ..acme_models import AcmeAccount, AcmeAuthorization, AcmeChallenge
from ..extensions import db
from .acme_authz import record_outcome
from .acme_nonces import forget_old_nonces
from .driver import thread_connection
from .transaction import DatabaseError, database_problem

LEASE = timedelta(seconds=60)
POLL_SECONDS = 0.1  # for challenges answered through other hosts, and retries: this host wakes it
VALIDATOR_THREADS = 8
RETRIED = ("connection", "dns", "tls")
CLAIM_AT_MOST = 100  # challenges one poll leases at most
FORGET_NONCES_EVERY = 1500  # polls between two clean-ups of old nonces
_WAKE: tuple[int, int] | None = None  # this host's wake-up pipe: (read end, write end)


def open_wake_pipe() -> None:
    """Open the pipe that wakes this host's validation worker (before forking it and gunicorn)."""
    global _WAKE
    read_end, write_end = os.pipe()
    os.set_blocking(read_end, False)
    os.set_blocking(write_end, False)
    _WAKE = (read_end, write_end)


def wake() -> None:
    """Tell this host's validation worker a challenge was answered (nothing without the pipe)."""
    if _WAKE is not None:
        try:
            os.write(_WAKE[1], b"!")
        except OSError:  # the pipe is full (the worker will wake anyway) or gone
            pass


def _sleep(stop: threading.Event) -> bool:
    """Wait for a wake-up or the poll interval; False once `stop` is set."""
    if _WAKE is None:
        return not stop.wait(POLL_SECONDS)
    with selectors.DefaultSelector() as selector:
        selector.register(_WAKE[0], selectors.EVENT_READ)
        readable = selector.select(POLL_SECONDS)
    if readable:
        try:
            os.read(_WAKE[0], 4096)
        except OSError:
            pass
    return not stop.is_set()


@dataclass(frozen=True)
class Job:
    """One claimed challenge, with what validating it needs."""

    challenge_id: int
    kind: str
    token: str
    identifier: Identifier
    thumbprint: str
    attempts: int


# What each poll asks first, on the thread's held driver connection: whether anything is due at
# all. Nearly every poll finds nothing, and the ORM's query, session and commit cost about as
# much CPU as a TLS handshake, 10 times a second, beside the server's workers.
_ANY_DUE = select(AcmeChallenge.id).where(
    AcmeChallenge.status == "processing",
    AcmeChallenge.next_attempt_at <= bindparam("now"),
    or_(AcmeChallenge.claimed_until.is_(None), AcmeChallenge.claimed_until < bindparam("now")),
).limit(1)


def any_due() -> bool:
    """Whether some challenge is due for an attempt and free to claim (inside an app context)."""
    with thread_connection(db.engine) as connection:
        return connection.first(_ANY_DUE, {"now": datetime.now(UTC)}) is not None


_CHALLENGES = AcmeChallenge.__table__
_AUTHZS = AcmeAuthorization.__table__
_FREE = or_(_CHALLENGES.c.claimed_until.is_(None),
            _CHALLENGES.c.claimed_until < bindparam("now"))
_DUE = select(
    _CHALLENGES.c.id, _CHALLENGES.c.type, _CHALLENGES.c.token, _CHALLENGES.c.attempts,
    _AUTHZS.c.identifier_type, _AUTHZS.c.identifier_value, AcmeAccount.__table__.c.thumbprint,
).join(_AUTHZS, _AUTHZS.c.id == _CHALLENGES.c.authorization_id).join(
    AcmeAccount.__table__, AcmeAccount.__table__.c.id == _AUTHZS.c.account_id
).where(
    _CHALLENGES.c.status == "processing", _CHALLENGES.c.next_attempt_at <= bindparam("now"),
    _FREE,
).order_by(_CHALLENGES.c.next_attempt_at).limit(CLAIM_AT_MOST)
_CLAIM = update(_CHALLENGES).where(
    _CHALLENGES.c.id == bindparam("challenge_id"), _CHALLENGES.c.status == "processing", _FREE,
).values(claimed_until=bindparam("until"))


def claim_due(limit: int) -> list[Job]:
    """Lease up to `limit` challenges due for an attempt; the jobs this host now holds."""
    now = datetime.now(UTC)
    jobs = []
    with thread_connection(db.engine) as connection:
        for row in connection.all(_DUE, {"now": now})[:limit]:
            connection.execute(_CLAIM, {"challenge_id": row[0], "now": now,
                                        "until": now + LEASE})
            if connection.cursor.rowcount:
                jobs.append(Job(row[0], row[1], row[2], Identifier(row[4], row[5]), row[6],
                                row[3]))
        connection.commit()
    return jobs


def run_job(job: Job, settings: validators.ValidationSettings) -> None:
    """Validate one job and record the outcome (in the caller's app context)."""
    error = None
    retry_at = None
    try:
        validators.validate(job.kind, job.identifier, job.token, job.thumbprint, settings)
    except AcmeProblem as problem:
        error = problem.document()
        error.pop("status", None)
        if problem.kind in RETRIED:
            retry_at = datetime.now(UTC) + timedelta(seconds=min(2 ** job.attempts, 30))
    record_outcome(job.challenge_id, error, retry_at=retry_at)


def run_once(settings: validators.ValidationSettings, limit: int = 100) -> int:
    """Claim and validate what is due, one after the other, here; how many (for tests, CLI)."""
    jobs = claim_due(limit)
    for job in jobs:
        run_job(job, settings)
    return len(jobs)


def _run_in_pool(app, job: Job, settings, busy: set, lock: threading.Lock) -> None:
    try:
        with app.app_context():
            try:
                run_job(job, settings)
            finally:
                db.session.remove()
    except Exception:  # the claim's lease runs out and the challenge is tried again
        app.logger.exception("acme: validating challenge %s failed", job.challenge_id)
    finally:
        with lock:
            busy.discard(job.challenge_id)


def run_periodically(app, stop: threading.Event | None = None, *,
                     parent_pid: int | None = None) -> None:
    """`portal serve`'s validation worker: poll for answered challenges, validate in a pool.

    With `parent_pid`, it returns once that process is gone (the server stopped or died).
    """
    stop = stop or threading.Event()
    settings = validators.parse_settings(app.config)
    busy: set[int] = set()
    lock = threading.Lock()
    polls = 0
    with ThreadPoolExecutor(VALIDATOR_THREADS, thread_name_prefix="portal-acme-va") as pool:
        while _sleep(stop):
            if parent_pid is not None and os.getppid() != parent_pid:
                return
            polls += 1
            try:
                with app.app_context():
                    with lock:
                        room = VALIDATOR_THREADS * 4 - len(busy)
                    jobs = claim_due(room) if room > 0 and any_due() else []
                    if polls % FORGET_NONCES_EVERY == 0:
                        forget_old_nonces()
                    db.session.remove()
                for job in jobs:
                    with lock:
                        busy.add(job.challenge_id)
                    pool.submit(_run_in_pool, app, job, settings, busy, lock)
            except DatabaseError as exc:  # a restart or an outage: one line, the next poll retries
                app.logger.warning("acme: validation poll skipped: %s", database_problem(exc))
            except Exception:  # the thread must outlive a database hiccup
                app.logger.exception("acme: the validation poll failed")
