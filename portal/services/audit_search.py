"""Searching the audit log: who, what, which serial, which days; newest first, from indexes.

The log is written in time order, so a range of days is a range of ids: each end is one
lookup in the (at, id) index, and the page is then read backwards along the primary key (or
along the actor's or the action's index) inside that id range. Rows written by two processes
in the same millisecond may be out of time order by that much: a row within a millisecond
of midnight can land on the neighbouring day.
"""

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import and_, or_, select

from ..ca.serials import normalize_serial
from ..errors import PortalError
from ..extensions import db
from ..models import AuditEvent, Certificate

PAGE_SIZE = 50
_TOP = "\U0010ffff"  # sorts after every other character: [q, q + _TOP) is "starts with q"
# How people and programs appear as actors: a user name is found under each of these.
ACTOR_PREFIXES = ("web:", "api:", "cli:")


@dataclass(frozen=True)
class AuditQuery:
    """What the audit page asks for: every part optional, all of them combined."""

    q: str = ""
    action: str | None = None  # an area: the start of the action ("certificate.")
    actor: str | None = None  # a user name (alice) or an actor as logged (cli:root)
    since: date | None = None  # from this day (UTC), inclusive
    until: date | None = None  # to this day (UTC), inclusive


def _prefix(column, text: str):
    return and_(column >= text, column < text + _TOP)


def _actors(name: str) -> list[str]:
    """The actor values a name stands for: itself, and as a person on the web, API or CLI."""
    name = name.strip()
    if ":" in name:
        return [name]
    return [name] + [prefix + name for prefix in ACTOR_PREFIXES]


def _first_id_from(moment: datetime) -> int | None:
    """The id of the first event at or after `moment` (None: there is none)."""
    return db.session.scalar(
        select(AuditEvent.id).where(AuditEvent.at >= moment)
        .order_by(AuditEvent.at, AuditEvent.id).limit(1)
    )


def _midnight(day: date) -> datetime:
    return datetime.combine(day, time(), tzinfo=UTC)


def _id_range(since: date | None, until: date | None) -> tuple[int | None, int | None] | None:
    """[low, high) in ids for the days asked for; None if no event can match."""
    low = high = None
    if since is not None:
        low = _first_id_from(_midnight(since))
        if low is None:
            return None
    if until is not None:
        high = _first_id_from(_midnight(until + timedelta(days=1)))
    if low is not None and high is not None and high <= low:
        return None
    return low, high


def search_audit(
    q: str = "", *, action: str | None = None, before: int | None = None,
    page_size: int = PAGE_SIZE, actor: str | None = None, since: date | None = None,
    until: date | None = None,
) -> tuple[list[AuditEvent], int | None]:
    """Audit events, newest first, matching who, what or which serial; and the next cursor."""
    bounds = _id_range(since, until)
    if bounds is None:
        return [], None
    statement = select(AuditEvent)
    q = q.strip()
    if q:
        terms = [AuditEvent.actor == q, AuditEvent.actor == f"web:{q}",
                 _prefix(AuditEvent.action, q)]
        try:
            terms.append(AuditEvent.serial == normalize_serial(q))
        except PortalError:
            pass
        statement = statement.where(or_(*terms))
    if action:
        statement = statement.where(_prefix(AuditEvent.action, action))
    if actor and actor.strip():
        statement = statement.where(AuditEvent.actor.in_(_actors(actor)))
    low, high = bounds
    if low is not None:
        statement = statement.where(AuditEvent.id >= low)
    if high is not None:
        statement = statement.where(AuditEvent.id < high)
    if before:
        statement = statement.where(AuditEvent.id < before)
    rows = list(
        db.session.scalars(statement.order_by(AuditEvent.id.desc()).limit(page_size + 1))
    )
    next_cursor = rows[page_size - 1].id if len(rows) > page_size else None
    return rows[:page_size], next_cursor


def search(query: AuditQuery, *, before: int | None = None, page_size: int = PAGE_SIZE):
    """search_audit() with an AuditQuery's parts."""
    return search_audit(query.q, action=query.action, actor=query.actor, since=query.since,
                        until=query.until, before=before, page_size=page_size)


def certificate_ids(serials) -> dict[str, int | None]:
    """For audit rows' serials: the certificate's id, None where several CAs used the serial.

    Serials without a certificate (a refused request, a CRL entry) are left out.
    """
    wanted = sorted({serial for serial in serials if serial})
    found: dict[str, int | None] = {}
    if not wanted:
        return found
    rows = db.session.execute(
        select(Certificate.serial, Certificate.id).where(Certificate.serial.in_(wanted))
    )
    for serial, ident in rows:
        found[serial] = None if serial in found else ident
    return found


@dataclass(frozen=True)
class AuditPage:
    """One page of the audit log, the next page's cursor, and the certificates it names."""

    rows: list[AuditEvent]
    next_cursor: int | None
    certificate_ids: dict[str, int | None]


def audit_page(query: AuditQuery, *, before: int | None = None) -> AuditPage:
    """The audit page's events, with the ids of the certificates their serials belong to."""
    rows, next_cursor = search(query, before=before)
    return AuditPage(rows, next_cursor, certificate_ids(event.serial for event in rows))
