"""The append-only audit log."""

from sqlalchemy import insert as core_insert

from ..extensions import db
from ..models import AuditEvent, utcnow

INSERT = core_insert(AuditEvent.__table__)
COLUMNS = ("at", "action", "actor", "serial", "outcome", "detail")


def record(
    action: str, *, actor: str, serial: str | None = None, outcome: str = "ok", detail: str = ""
) -> AuditEvent:
    """Add an audit event to the current transaction (the calling use case commits it)."""
    event = AuditEvent(
        action=action, actor=actor[:128], serial=serial, outcome=outcome, detail=detail[:2000]
    )
    db.session.add(event)
    return event


def event_row(
    action: str, *, actor: str, serial: str | None = None, outcome: str = "ok", detail: str = ""
) -> dict:
    """An audit event's column values, for an INSERT of COLUMNS."""
    return dict(zip(COLUMNS, (utcnow(), action, actor[:128], serial, outcome, detail[:2000]),
                    strict=True))


def record_now(action: str, **fields) -> None:
    """Record an event in its own transaction (for failures, after a rollback)."""
    db.session.rollback()
    record(action, **fields)
    db.session.commit()
