"""The append-only audit log; every row is sealed into the integrity chain (audit_chain.py)."""

from sqlalchemy import event
from sqlalchemy import insert as core_insert
from sqlalchemy.orm import Session, object_session

from ..extensions import db
from ..models import AuditEvent
from . import audit_chain
from .driver import fill_defaults

_TABLE = AuditEvent.__table__
INSERT = core_insert(_TABLE)
COLUMNS = ("at", "action", "actor", "serial", "outcome", "detail", "chain_seq", "seal")
_FIELDS = COLUMNS[:6]


def _fields(action: str, actor: str, serial: str | None, outcome: str, detail: str) -> dict:
    """An event's own values, cut to their columns' lengths (an actor is text from outside)."""
    return {"action": action, "actor": actor[:128], "serial": serial, "outcome": outcome,
            "detail": detail[:2000]}


def record(
    action: str, *, actor: str, serial: str | None = None, outcome: str = "ok", detail: str = ""
) -> AuditEvent:
    """Add an audit event to the current transaction (the calling use case commits it)."""
    event = AuditEvent(**_fields(action, actor, serial, outcome, detail))
    db.session.add(event)
    return event


def event_row(
    action: str, *, actor: str, serial: str | None = None, outcome: str = "ok", detail: str = ""
) -> dict:
    """An audit event's column values, the table's defaults included (not sealed yet)."""
    return fill_defaults(_TABLE, _fields(action, actor, serial, outcome, detail))


def insert_on_driver(connection, engine=None, row: dict | None = None) -> None:
    """Seal an event_row() into the chain and INSERT it, on a DriverConnection's transaction.

    Run it as the transaction's last statement before the commit: the chain head stays locked
    until then. (`engine` is no longer needed; it is accepted for the old callers.)
    """

    def execute(statement, parameters):
        if statement is audit_chain.SET_GENESIS:
            connection.execute(statement, parameters)
            return []
        rows = connection.all(statement, parameters)
        if statement is audit_chain.LEGACY_ROWS:
            return [dict(zip(audit_chain.CONTENT_COLUMNS, values, strict=True))
                    for values in rows]
        return rows

    key = audit_chain.chain_key_or_none()
    if key is None:
        row.update(chain_seq=None, seal=None)
    else:
        audit_chain.seal_row(execute, key, row)
    connection.execute(INSERT, row, COLUMNS)


def record_rows(rows: list[dict]) -> None:
    """Add these event_row()s to the current transaction, sealed in order, without ORM objects.

    For a job that writes several events at once. Events pending in the session are flushed
    first, so that the chain keeps the order in which they were recorded.
    """
    if not rows:
        return
    db.session.flush()
    connection = db.session.connection()

    def execute(statement, parameters):
        result = connection.execute(statement, parameters)
        if statement is audit_chain.LEGACY_ROWS:
            return result.mappings().all()
        return result.all() if result.returns_rows else []

    key = audit_chain.chain_key_or_none()
    pending: dict = {}  # the place and seal of the row sealed just before, not inserted yet
    for row in rows:
        if key is None:
            row.update(chain_seq=None, seal=None)
        else:
            audit_chain.seal_row(execute, key, row, pending)
    for row in rows:  # one at a time: the ids must follow the chain's order
        connection.execute(INSERT, row)


@event.listens_for(AuditEvent, "before_insert")
def _seal_orm_event(mapper, connection, target: AuditEvent) -> None:
    """Every audit row written through the ORM is sealed in the flush that inserts it."""

    def execute(statement, parameters):
        result = connection.execute(statement, parameters)
        if statement is audit_chain.LEGACY_ROWS:
            return result.mappings().all()
        return result.all() if result.returns_rows else []

    row = fill_defaults(_TABLE, {name: getattr(target, name) for name in _FIELDS})
    target.at, target.detail = row["at"], row["detail"]
    key = audit_chain.chain_key_or_none()
    if key is None:
        return  # written unsealed: verify names it
    pending = object_session(target).info.setdefault("portal.audit_pending", {})
    audit_chain.seal_row(execute, key, row, pending)
    target.chain_seq, target.seal = row["chain_seq"], row["seal"]


@event.listens_for(Session, "before_flush")
def _forget_pending_seal(session, flush_context, instances) -> None:
    """Rows sealed in an earlier flush are inserted (or rolled back): the database has them."""
    session.info.pop("portal.audit_pending", None)


def record_now(action: str, **fields) -> None:
    """Record an event in its own transaction (for failures, after a rollback)."""
    db.session.rollback()
    record(action, **fields)
    db.session.commit()
