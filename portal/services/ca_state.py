"""Whether each CA may sign: its own certificate and every one above it unrevoked and unexpired.

The state is read from the database on every use, in one small query over all CAs (each joined
to its own certificate's row under its parent), so a CA revoked or expired is refused by every
worker of every host on its next request. Nothing about it is cached.
"""

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import and_, bindparam, select

from ..errors import CAUnusable, NotFound
from ..extensions import db
from ..models import STATUS_REVOKED, Certificate, CertificateAuthority
from .driver import DriverConnection, prepared

_ca = CertificateAuthority.__table__
_cert = Certificate.__table__

STATES = select(
    _ca.c.id, _ca.c.name, _ca.c.parent_id, _ca.c.is_default, _ca.c.fingerprint_sha256,
    (_ca.c.not_after <= bindparam("now")).label("expired"),
    _cert.c.status, _cert.c.revocation_reason,
).select_from(_ca.outerjoin(
    _cert, and_(_cert.c.ca_id == _ca.c.parent_id, _cert.c.serial == _ca.c.serial)
))
# The same with each CA's certificate, for /ping (which parses each once per process).
STATES_WITH_CERTIFICATES = STATES.add_columns(_ca.c.certificate_der)


@dataclass(frozen=True, slots=True)
class CAState:
    """A CA as signing and client authentication see it; `problem` says why it may not sign."""

    id: int
    name: str
    parent_id: int | None
    is_default: bool
    fingerprint_sha256: str
    problem: str | None = None

    @property
    def usable(self) -> bool:
        """Whether the CA may sign (its key aside, which is checked when it is unsealed)."""
        return self.problem is None

    def check(self) -> "CAState":
        """Raise CAUnusable when the CA may not sign; return the state otherwise."""
        if self.problem is not None:
            raise CAUnusable(f"CA {self.name} signs nothing: {self.problem}", field="ca")
        return self


def _own_problem(row) -> str | None:
    if row.status == STATUS_REVOKED:
        reason = f" ({row.revocation_reason})" if row.revocation_reason else ""
        return f"is revoked{reason}"
    if row.expired:
        return "has expired"
    return None


def states_from_rows(rows) -> dict[int, CAState]:
    """Each CA's state from STATES rows: its own problem first, else the nearest one above it."""
    rows = list(rows)
    by_id = {row.id: row for row in rows}
    own = {row.id: _own_problem(row) for row in rows}
    states = {}
    for row in rows:
        problem = f"its certificate {own[row.id]}" if own[row.id] else None
        seen = {row.id}
        parent_id = row.parent_id
        while problem is None and parent_id in by_id and parent_id not in seen:
            seen.add(parent_id)
            if own[parent_id]:
                problem = f"the certificate of CA {by_id[parent_id].name} above it {own[parent_id]}"
            parent_id = by_id[parent_id].parent_id
        states[row.id] = CAState(row.id, row.name, row.parent_id, bool(row.is_default),
                                 row.fingerprint_sha256, problem)
    return states


def _now() -> datetime:
    return datetime.now(UTC)


def ca_states() -> dict[int, CAState]:
    """Every CA's state, read now through the session."""
    return states_from_rows(db.session.execute(STATES, {"now": _now()}))


def ca_states_on(connection: DriverConnection) -> dict[int, CAState]:
    """Every CA's state, read now on a driver connection (issuance's fast path)."""
    statement = prepared(STATES, db.engine)
    try:
        rows = statement.all(connection.cursor, {"now": _now()})
    finally:
        connection.rollback()  # hold no snapshot: the writes that follow start afresh
    keys = ("id", "name", "parent_id", "is_default", "fingerprint_sha256", "expired", "status",
            "revocation_reason")
    return states_from_rows(_Row(zip(keys, row, strict=True)) for row in rows)


class _Row(dict):
    """A driver row with attribute access, as states_from_rows reads rows."""

    __getattr__ = dict.__getitem__


def find_state(states: dict[int, CAState], name: str | None) -> CAState:
    """The CA named `name` (the default CA when None), as `authorities.get_ca` finds it."""
    for state in states.values():
        if (state.name == name) if name else state.is_default:
            return state
    if name:
        raise NotFound(f"no CA named {name!r}", field="ca")
    raise NotFound("there is no CA yet: run `portal init` or `portal ca create`", field="ca")


def state_of(ca_id: int) -> CAState:
    """One CA's state, read now."""
    return ca_states()[ca_id]


def check_may_sign(ca_id: int) -> CAState:
    """Raise CAUnusable unless the CA and every CA above it are unrevoked and unexpired."""
    return state_of(ca_id).check()
