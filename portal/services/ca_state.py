"""Whether each CA may sign: its own certificate and every one above it unrevoked and unexpired.

The state is read from the database on every use, in one small query over all CAs (each joined
to its own certificate's row under its parent), so a CA revoked or expired is refused by every
worker of every host on its next request. Only each CA's notAfter, which never changes for a
given certificate, is converted once per process (keyed by the certificate's fingerprint).
"""

from datetime import UTC, datetime
from typing import NamedTuple

from sqlalchemy import Engine, and_, select

from ..errors import CAUnusable, NotFound
from ..extensions import db
from ..models import STATUS_REVOKED, Certificate, CertificateAuthority
from . import cache
from .driver import DriverConnection, prepared

_ca = CertificateAuthority.__table__
_cert = Certificate.__table__

STATES = select(
    _ca.c.id, _ca.c.name, _ca.c.parent_id, _ca.c.is_default, _ca.c.fingerprint_sha256,
    _ca.c.not_after, _cert.c.status, _cert.c.revocation_reason,
).select_from(_ca.outerjoin(
    _cert, and_(_cert.c.ca_id == _ca.c.parent_id, _cert.c.serial == _ca.c.serial)
))
# The same with each CA's certificate, for /ping (which parses each once per process).
STATES_WITH_CERTIFICATES = STATES.add_columns(_ca.c.certificate_der)


class CAState(NamedTuple):
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


class CAStates:
    """The STATES rows of one read; each CA's state is worked out when asked for."""

    __slots__ = ("_rows", "_now", "_expiries")

    def __init__(self, rows, now: datetime | None = None):
        self._rows = {row[0]: row for row in rows}
        self._now = now or _now()
        self._expiries = cache.table("ca_state.not_after")

    def _own_problem(self, row) -> str | None:
        _id, _name, _parent, _default, fingerprint, not_after, status, reason = row[:8]
        if status == STATUS_REVOKED:
            return f"is revoked ({reason})" if reason else "is revoked"
        if self._now >= self._not_after(fingerprint, not_after):
            return "has expired"
        return None

    def _not_after(self, fingerprint: str, stored) -> datetime:
        """A CA's notAfter as aware UTC, converted once per process (it never changes)."""
        found = self._expiries.get(fingerprint)
        if found is None:
            if isinstance(stored, str):  # SQLite through the driver hands back text
                stored = datetime.fromisoformat(stored)
            found = self._expiries[fingerprint] = (
                stored.replace(tzinfo=UTC) if stored.tzinfo is None else stored.astimezone(UTC)
            )
        return found

    def _state(self, row) -> CAState:
        own = self._own_problem(row)
        problem = f"its certificate {own}" if own else None
        seen = {row[0]}
        parent_id = row[2]
        while problem is None and parent_id in self._rows and parent_id not in seen:
            seen.add(parent_id)
            parent = self._rows[parent_id]
            own = self._own_problem(parent)
            if own:
                problem = f"the certificate of CA {parent[1]} above it {own}"
            parent_id = parent[2]
        return CAState(row[0], row[1], row[2], bool(row[3]), row[4], problem)

    def __getitem__(self, ca_id: int) -> CAState:
        """The state of the CA with this id (KeyError when there is none)."""
        return self._state(self._rows[ca_id])

    def values(self) -> list[CAState]:
        """Every CA's state."""
        return [self._state(row) for row in self._rows.values()]

    def find(self, name: str | None) -> CAState:
        """The CA named `name` (the default CA when None), as `authorities.get_ca` finds it."""
        for row in self._rows.values():
            if (row[1] == name) if name else row[3]:
                return self._state(row)
        if name:
            raise NotFound(f"no CA named {name!r}", field="ca")
        raise NotFound("there is no CA yet: run `portal init` or `portal ca create`", field="ca")


def _now() -> datetime:
    return datetime.now(UTC)


def ca_states() -> CAStates:
    """Every CA's state, read now through the session."""
    return CAStates(db.session.execute(STATES))


def ca_states_on(connection: DriverConnection, engine: Engine) -> CAStates:
    """Every CA's state, read now on a driver connection of `engine` (issuance's fast path)."""
    statement = prepared(STATES, engine)
    try:
        rows = statement.all(connection.cursor, _NO_VALUES)
    finally:
        connection.rollback()  # hold no snapshot: the writes that follow start afresh
    return CAStates(rows)


_NO_VALUES: dict = {}


def state_of(ca_id: int) -> CAState:
    """One CA's state, read now."""
    return ca_states()[ca_id]


def check_may_sign(ca_id: int) -> CAState:
    """Raise CAUnusable unless the CA and every CA above it are unrevoked and unexpired."""
    return state_of(ca_id).check()
