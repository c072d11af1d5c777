"""Publishing CRLs: a number allocated atomically, the revoked rows streamed, signed once, stored.

Numbers come from `crl_counters` (UPDATE ... SET last_number = greater of last_number + 1 and
the signing time in nanoseconds, RETURNING), so they are unique per CA even with several
processes publishing at once, and never go back even when the database is restored from an older
backup. A CRL is stored only over one with a lower number: a slower publisher never replaces a
newer CRL with an older one.
Requests serve the stored bytes; signing happens on revocation, when a request or
`portal crl refresh` finds a CRL past half of its lifetime, or with --force.
"""

import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from hashlib import sha256
from itertools import chain

from flask import current_app
from sqlalchemy import (
    BigInteger,
    String,
    bindparam,
    case,
    func,
    insert,
    literal,
    select,
    true,
    type_coerce,
    update,
)

from ..ca.crl import build_crl, crl_der, crl_number_floor, revoked_entries
from ..clock import utcnow
from ..errors import CAKeyUnavailable, CAUnusable, NotFound, PortalError
from ..extensions import db
from ..models import STATUS_REVOKED, Certificate, CertificateAuthority, CRLCounter, PublishedCRL
from ..translatable import N_
from . import audit
from .authorities import get_ca, get_signer, list_cas
from .ca_state import check_may_sign

ROWS_PER_BATCH = 10_000
# A request that finds a CRL due leaves it to a refresh already under way elsewhere, until this
# fraction of the lifetime has passed (then it signs regardless: a crashed refresh never blocks).
DEFER_TO_RUNNING_REFRESH_UNTIL = 0.75
COMPLAINT_INTERVAL_SECONDS = 60

_ca = CertificateAuthority.__table__
_crl = PublishedCRL.__table__
_counter = CRLCounter.__table__
_cert = Certificate.__table__

_STATE = select(  # the current CRL of CAs, without its bytes
    _ca.c.id, _ca.c.name, _crl.c.number, _crl.c.sha256, _crl.c.this_update, _crl.c.next_update,
    _crl.c.revoked_count,
).select_from(_ca.outerjoin(_crl, _crl.c.ca_id == _ca.c.id))
STATE_BY_ID = _STATE.where(_ca.c.id == bindparam("ca_id"))
STATE_BY_NAME = _STATE.where(_ca.c.name == bindparam("name"))
STATE_OF_DEFAULT = _STATE.where(_ca.c.is_default == true())
_DER = select(_crl.c.der).where(_crl.c.ca_id == bindparam("ca_id"),
                                _crl.c.sha256 == bindparam("sha256"))
# Only what a CRL entry needs; the time as stored text on SQLite (parsed by fromisoformat in
# the CRL core's loop, cheaper than a result processor per row).
_REVOKED_ROWS = select(
    _cert.c.serial,
    type_coerce(func.coalesce(_cert.c.revoked_at, _cert.c.created_at), String),
    _cert.c.revocation_reason,
).where(
    _cert.c.ca_id == bindparam("ca_id"),
    _cert.c.status == STATUS_REVOKED,
    _cert.c.not_after > bindparam("cutoff"),
)

CANNOT_SIGN = (CAKeyUnavailable, CAUnusable)  # what keeps a CRL from being signed now

_last_complaint: dict[tuple[str, str], float] = {}


@dataclass(frozen=True)
class CRLState:
    """What is known about a CA's current CRL without loading its bytes."""

    ca_id: int
    ca_name: str
    number: int | None = None
    sha256: str | None = None
    this_update: datetime | None = None
    next_update: datetime | None = None
    revoked_count: int | None = None

    @property
    def published(self) -> bool:
        """Whether a CRL has been stored for this CA."""
        return self.number is not None

    @property
    def refresh_at(self) -> datetime | None:
        """Half way to nextUpdate: from then on the CRL is re-signed."""
        if not self.published:
            return None
        return self.this_update + (self.next_update - self.this_update) / 2

    def is_due(self, now: datetime) -> bool:
        """True when the CRL is missing or past half of its lifetime."""
        return not self.published or now >= self.refresh_at

    def is_expired(self, now: datetime) -> bool:
        """True when the CRL is past its nextUpdate (relying parties reject it)."""
        return self.published and now >= self.next_update


@dataclass(frozen=True)
class RefreshOutcome:
    """What `refresh` did for one CA: published, fresh, or failed (with the reason)."""

    ca_name: str
    action: str
    state: CRLState
    message: str = ""


def crl_lifetime() -> timedelta:
    """The time from thisUpdate to nextUpdate (PORTAL_CRL_DAYS days)."""
    days = int(current_app.config["PORTAL_CRL_DAYS"])
    if days < 1:
        raise PortalError(N_("PORTAL_CRL_DAYS must be at least 1"))
    return timedelta(days=days)


def _state_from(row) -> CRLState:
    return CRLState(*row)


def crl_state(ca_name: str | None = None, *, ca_id: int | None = None) -> CRLState:
    """The current CRL of a CA by id, by name, or of the default CA; NotFound without the CA."""
    if ca_id is not None:
        row = db.session.execute(STATE_BY_ID, {"ca_id": ca_id}).first()
    elif ca_name:
        row = db.session.execute(STATE_BY_NAME, {"name": ca_name}).first()
    else:
        row = db.session.execute(STATE_OF_DEFAULT).first()
    if row is None:
        if ca_name:
            raise NotFound(N_("no CA named %(name)r"), field="ca", name=ca_name)
        raise NotFound(N_("there is no CA yet"), field="ca")
    return _state_from(row)


def stored_der(state: CRLState) -> bytes | None:
    """The DER of the CRL described by `state` (None if it was replaced meanwhile)."""
    return db.session.execute(_DER, {"ca_id": state.ca_id, "sha256": state.sha256}).scalar()


def _insert_ignoring_conflict(table, values: dict, key: str) -> bool:
    """INSERT unless a row with the same unique `key` exists; True when a row was inserted."""
    dialect = db.session.get_bind().dialect.name
    if dialect == "sqlite":
        from sqlalchemy.dialects.sqlite import insert as dialect_insert
    elif dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as dialect_insert
    else:  # other databases: check first, inside the same transaction
        if db.session.execute(select(table.c.id).where(table.c[key] == values[key])).first():
            return False
        db.session.execute(insert(table).values(**values))
        return True
    statement = dialect_insert(table).values(**values).on_conflict_do_nothing(index_elements=[key])
    # RETURNING, not rowcount: psycopg 3 reports -1 rows for INSERT ... ON CONFLICT DO NOTHING.
    return db.session.execute(statement.returning(table.c.id)).first() is not None


def allocate_number(ca_id: int, *, only_if_last: int | None = None) -> int | None:
    """The next CRL number of a CA, committed at once; None if `only_if_last` is out of date.

    The increment happens in the database (UPDATE ... RETURNING), which serialises concurrent
    callers on the counter row on PostgreSQL and on the write lock on SQLite. The number is at
    least the current time in nanoseconds, so a counter restored from a backup never hands out
    a number already published.
    """
    floor = literal(crl_number_floor(utcnow()), BigInteger)
    following = _counter.c.last_number + 1
    statement = update(_counter).where(_counter.c.ca_id == ca_id)
    if only_if_last is not None:
        statement = statement.where(_counter.c.last_number == only_if_last)
    statement = statement.values(
        last_number=case((following > floor, following), else_=floor)
    ).returning(_counter.c.last_number)
    number = db.session.execute(statement).scalar()
    if number is None and only_if_last is None:
        _insert_ignoring_conflict(_counter, {"ca_id": ca_id, "last_number": 0}, "ca_id")
        number = db.session.execute(statement).scalar()
    db.session.commit()
    return number


def _revoked_rows(ca_id: int, cutoff: datetime) -> Iterator:
    """(serial, revocation time, reason) of the CA's revoked, unexpired rows, in batches."""
    result = db.session.connection().execute(
        _REVOKED_ROWS.execution_options(yield_per=ROWS_PER_BATCH),
        {"ca_id": ca_id, "cutoff": cutoff},
    )
    return chain.from_iterable(result.partitions())


def _store(ca_id: int, number: int, values: dict) -> bool:
    """Store a signed CRL unless one with a higher number is already there (no commit)."""
    values = {**values, "number": number}
    for _attempt in range(3):
        replaced = db.session.execute(
            update(_crl).where(_crl.c.ca_id == ca_id, _crl.c.number < number).values(**values)
        ).rowcount
        if replaced:
            return True
        if db.session.execute(select(_crl.c.number).where(_crl.c.ca_id == ca_id)).first():
            return False  # a CRL with a higher number got there first
        if _insert_ignoring_conflict(_crl, {"ca_id": ca_id, **values}, "ca_id"):
            return True
    return False


def publish(
    ca: CertificateAuthority, *, actor: str, only_if_last: int | None = None
) -> CRLState | None:
    """Sign and store a new CRL of `ca`; None when deferring to a refresh under way elsewhere.

    Revoked certificates that expired more than one CRL lifetime ago are left out: each still
    appeared on at least one regular CRL after its expiry (RFC 5280 3.3).
    """
    ca_id, ca_name = ca.id, ca.name
    # A revoked or expired CA (or one under such a CA) signs no CRL: its last CRL stays
    # published until its nextUpdate, and is then left to expire (see the README).
    check_may_sign(ca_id)
    signer = get_signer(ca)  # CAKeyUnavailable before a number is spent
    if utcnow() >= signer.not_after:
        raise PortalError(N_("CA %(ca_name)s has expired: its CRL can no longer be re-signed"),
            ca_name=ca_name)
    number = allocate_number(ca_id, only_if_last=only_if_last)
    if number is None:
        return None
    lifetime = crl_lifetime()
    this_update = utcnow().replace(microsecond=0)
    # Never promise a next CRL past the CA's own expiry: nothing can sign one then.
    next_update = min(this_update + lifetime, signer.not_after)
    entries = revoked_entries(_revoked_rows(ca_id, this_update - lifetime))
    count = len(entries)
    crl = build_crl(
        signer, entries, number=number, this_update=this_update, next_update=next_update
    )
    del entries
    der = crl_der(crl)
    del crl
    digest = sha256(der).hexdigest()
    stored = _store(ca_id, number, {
        "this_update": this_update, "next_update": next_update, "revoked_count": count,
        "sha256": digest, "der": der,
    })
    audit.record(
        "crl.publish", actor=actor, outcome="ok" if stored else "superseded",
        detail=f"CA {ca_name}: CRL number {number}, {count} entries, "
        f"next update {next_update:%Y-%m-%dT%H:%M:%SZ}",
    )
    db.session.commit()
    return crl_state(ca_id=ca_id)


def complain(ca_name: str, message: str) -> None:
    """Log, loudly but at most once a minute per CA and process, that a CRL cannot be signed."""
    key = (current_app.name + current_app.instance_path, ca_name)
    now = time.monotonic()
    if now - _last_complaint.get(key, -COMPLAINT_INTERVAL_SECONDS) < COMPLAINT_INTERVAL_SECONDS:
        return
    _last_complaint[key] = now
    current_app.logger.error("CRL of CA %s cannot be re-signed: %s", ca_name, message)


def _failed(ca_name: str, actor: str, message: str) -> None:
    complain(ca_name, message)
    audit.record_now("crl.publish", actor=actor, outcome="error",
                     detail=f"CA {ca_name}: {message}"[:2000])


def publish_after_revocation(ca_id: int, *, actor: str) -> None:
    """Re-sign the CA's CRL right after a revocation; a failure is logged and audited, not raised.

    The revocation is already committed; a CRL that could not be signed now is caught up by
    `portal crl refresh`, which also re-signs when a revocation is newer than the CRL.
    """
    ca = db.session.get(CertificateAuthority, ca_id)
    ca_name = ca.name
    try:
        publish(ca, actor=actor)
    except CANNOT_SIGN as exc:
        _failed(ca_name, actor, f"after a revocation: {exc.message}")
    except Exception as exc:  # the revocation stands; say why the CRL lags behind it
        current_app.logger.exception("CRL of CA %s was not re-signed after a revocation", ca_name)
        _failed(ca_name, actor, f"after a revocation: {type(exc).__name__}: {exc}")


def ensure_fresh(state: CRLState, *, now: datetime | None = None) -> CRLState:
    """Re-sign a CRL that a request found missing or due; serve on whatever is valid on failure."""
    now = now or utcnow()
    if not state.is_due(now):
        return state
    only_if_last = None
    if state.published and not state.is_expired(now):
        defer_until = state.this_update + (
            state.next_update - state.this_update
        ) * DEFER_TO_RUNNING_REFRESH_UNTIL
        if now < defer_until:
            only_if_last = state.number  # someone else's refresh in progress wins
    try:
        ca = db.session.get(CertificateAuthority, state.ca_id)
        fresh = publish(ca, actor="web:on-demand", only_if_last=only_if_last)
    except CANNOT_SIGN as exc:
        db.session.rollback()
        complain(state.ca_name, exc.message)
        return state
    except Exception:
        db.session.rollback()
        current_app.logger.exception("on-demand CRL refresh of CA %s failed", state.ca_name)
        return state
    return fresh or crl_state(ca_id=state.ca_id)


def revoked_since(state: CRLState) -> bool:
    """True when the CA's revoked certificates are not the ones its current CRL lists.

    The CRL lists every revoked row not expired before thisUpdate minus one lifetime; rows are
    only ever added to that set (a revocation is final, the cutoff is fixed), so a different
    count means a different set. Comparing times instead cannot work: thisUpdate and revoked_at
    are whole seconds, and the CRL signed by a revocation has the same second as that revocation.
    """
    if not state.published:
        return False
    query = select(func.count()).where(
        _cert.c.ca_id == state.ca_id,
        _cert.c.status == STATUS_REVOKED,
        _cert.c.not_after > state.this_update - crl_lifetime(),
    )
    return db.session.execute(query).scalar() != state.revoked_count


def refresh(
    *, ca_name: str | None = None, force: bool = False, actor: str
) -> list[RefreshOutcome]:
    """Re-sign each CA's CRL (or one CA's) that is missing, due or older than a revocation."""
    outcomes = []
    for ca in [get_ca(ca_name)] if ca_name else list_cas():
        name = ca.name
        state = crl_state(ca_id=ca.id)
        now = utcnow()
        if not (force or state.is_due(now) or revoked_since(state)):
            outcomes.append(RefreshOutcome(name, "fresh", state))
            continue
        try:
            outcomes.append(RefreshOutcome(name, "published", publish(ca, actor=actor)))
        except CANNOT_SIGN as exc:
            _failed(name, actor, exc.message)
            outcomes.append(RefreshOutcome(name, "failed", crl_state(ca_id=ca.id), exc.message))
    return outcomes


def current_crls(ca_name: str | None, *, chain: bool, actor: str) -> list[tuple[CRLState, bytes]]:
    """The valid CRL of a CA (and of its parents with `chain`), re-signed first when due.

    Due means past half of its lifetime, or older than a revocation (as for `refresh`).

    Raises when a CRL is missing or expired and cannot be signed: an expired CRL makes nginx
    refuse every client, so it is never handed out as if it were current.
    """
    ca = get_ca(ca_name)
    lineage = []
    while ca is not None:
        lineage.append(ca)
        ca = ca.parent if chain else None
    results = []
    for ca in lineage:
        name = ca.name
        state = crl_state(ca_id=ca.id)
        if state.is_due(utcnow()) or revoked_since(state):
            try:
                state = publish(ca, actor=actor)
            except CANNOT_SIGN as exc:
                _failed(name, actor, exc.message)
                if not state.published or state.is_expired(utcnow()):
                    what = "has expired" if state.published else "was never published"
                    raise type(exc)(
                        f"the CRL of CA {name} {what} and cannot be signed: {exc.message}"
                    ) from None
        der = stored_der(state)
        while der is None:  # replaced by a newer CRL between the two queries
            state = crl_state(ca_id=state.ca_id)
            der = stored_der(state)
        results.append((state, der))
    return results
