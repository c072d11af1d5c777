"""The append-only audit log."""

from sqlalchemy import insert as core_insert

from ..extensions import db
from ..models import AuditEvent, utcnow

_INSERT = core_insert(AuditEvent.__table__)


def record(
    action: str, *, actor: str, serial: str | None = None, outcome: str = "ok", detail: str = ""
) -> AuditEvent:
    """Add an audit event to the current transaction (the calling use case commits it)."""
    event = AuditEvent(
        action=action, actor=actor[:128], serial=serial, outcome=outcome, detail=detail[:2000]
    )
    db.session.add(event)
    return event


def insert(
    action: str,
    *,
    actor: str,
    serial: str | None = None,
    outcome: str = "ok",
    detail: str = "",
    connection=None,
) -> None:
    """Like `record`, as one Core INSERT with no ORM object (for the issuance hot path)."""
    (connection or db.session.connection()).execute(
        _INSERT,
        {"at": utcnow(), "action": action, "actor": actor[:128], "serial": serial,
         "outcome": outcome, "detail": detail[:2000]},
    )


def record_now(action: str, **fields) -> None:
    """Record an event in its own transaction (for failures, after a rollback)."""
    db.session.rollback()
    record(action, **fields)
    db.session.commit()
