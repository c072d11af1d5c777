"""Whether each CA may sign: its own certificate and every one above it unrevoked and unexpired.

The state is read from the database on every use, in one small query over all CAs (each joined
to its own certificate's row under its parent), so a CA revoked or expired is refused by every
worker of every host on its next request.
"""

from datetime import UTC, datetime
from typing import NamedTuple

from sqlalchemy import Engine, and_, select

from ..errors import CAUnusable, NotFound
from ..extensions import db
from ..models import STATUS_REVOKED, Certificate, CertificateAuthority
from ..translatable import N_, Message
from .driver import DriverConnection

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
            raise CAUnusable(N_("CA %(name)s signs nothing: %(problem)s"), field="ca",
                name=self.name, problem=self.problem)
        return self


class CAStates:
    """The STATES rows of one read; each CA's state is worked out when asked for."""

    __slots__ = ("_rows", "_now")

    def __init__(self, rows, now: datetime | None = None):
        self._rows = {row[0]: row for row in rows}
        self._now = now or _now()

    def _own_problem(self, row) -> str | None:
        _id, _name, _parent, _default, fingerprint, not_after, status, reason = row[:8]
        if status == STATUS_REVOKED:
            if reason:
                return Message(N_("is revoked (%(reason)s)"), reason=reason)
            return Message(N_("is revoked"))
        if self._now >= not_after:  # aware UTC: the column type hands it back so
            return Message(N_("has expired"))
        return None

    def _state(self, row) -> CAState:
        own = self._own_problem(row)
        problem = Message(N_("its certificate %(state)s"), state=own) if own else None
        seen = {row[0]}
        parent_id = row[2]
        while problem is None and parent_id in self._rows and parent_id not in seen:
            seen.add(parent_id)
            parent = self._rows[parent_id]
            own = self._own_problem(parent)
            if own:
                problem = Message(N_("the certificate of CA %(name)s above it %(state)s"),
                                  name=parent[1], state=own)
            parent_id = parent[2]
        return CAState(row[0], row[1], row[2], bool(row[3]), row[4], problem)

    def __getitem__(self, ca_id: int) -> CAState:
        """The state of the CA with this id (KeyError when there is none)."""
        return self._state(self._rows[ca_id])

    def usable_until(self, ca_id: int) -> datetime:
        """The earliest notAfter of the CA's certificate and of those above it."""
        row = self._rows[ca_id]
        until, seen = row[5], {ca_id}
        while row[2] in self._rows and row[2] not in seen:
            seen.add(row[2])
            row = self._rows[row[2]]
            until = min(until, row[5])
        return until

    def values(self) -> list[CAState]:
        """Every CA's state."""
        return [self._state(row) for row in self._rows.values()]

    def find(self, name: str | None) -> CAState:
        """The CA named `name` (the default CA when None), as `authorities.get_ca` finds it."""
        for row in self._rows.values():
            if (row[1] == name) if name else row[3]:
                return self._state(row)
        if name:
            raise NotFound(N_("no CA named %(name)r"), field="ca",
                name=name)
        raise NotFound(N_("there is no CA yet: run `portal init` or `portal ca create`"),
                   field="ca")


def _now() -> datetime:
    return datetime.now(UTC)


def ca_states() -> CAStates:
    """Every CA's state, read now through the session."""
    return CAStates(db.session.execute(STATES))


def ca_states_on(connection: DriverConnection, engine: Engine | None = None) -> CAStates:
    """Every CA's state, read now on a driver connection (issuance's fast path, /ping's).

    The read is part of the connection's transaction (on PostgreSQL, under READ COMMITTED, it
    sees what was committed when it ran): issuance inserts its pending row in the same one.
    """
    return CAStates(connection.all(STATES))


def ca_states_with_certificates_on(connection: DriverConnection) -> list:
    """The STATES_WITH_CERTIFICATES rows, read now on a driver connection."""
    return connection.all(STATES_WITH_CERTIFICATES)


def state_of(ca_id: int) -> CAState:
    """One CA's state, read now."""
    return ca_states()[ca_id]


def check_may_sign(ca_id: int) -> CAState:
    """Raise CAUnusable unless the CA and every CA above it are unrevoked and unexpired."""
    return state_of(ca_id).check()
