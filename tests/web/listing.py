"""Many certificate rows, fast: inserted directly (unsigned), for list, search and plan tests."""

from datetime import UTC, datetime, timedelta

from sqlalchemy import event, insert

from portal.extensions import db
from portal.models import Certificate, CertificateName


def add_rows(ca_id: int, count: int, *, start: int = 0, owner_id: int | None = None,
             profile: str = "server", status: str = "issued") -> None:
    """`count` certificates host-<n>.example.com, expiring one per hour from now on."""
    now = datetime.now(UTC).replace(microsecond=0)
    rows = []
    for number in range(start, start + count):
        rows.append({
            "ca_id": ca_id, "serial": f"{0xA0000000 + number:X}", "subject": f"CN=host-{number:05}",
            "common_name": f"host-{number:05}", "sans": f"DNS:alt-{number:05}.example.com",
            "profile": profile, "key_type": "ec-p256", "status": status, "owner_id": owner_id,
            "not_before": now - timedelta(days=1), "not_after": now + timedelta(hours=number + 1),
            "created_at": now,
        })
    db.session.execute(insert(Certificate), rows)
    db.session.flush()
    ids = db.session.execute(
        Certificate.__table__.select().with_only_columns(Certificate.id, Certificate.sans)
        .where(Certificate.sans.in_([r["sans"] for r in rows]))
    ).all()
    db.session.execute(insert(CertificateName), [
        {"certificate_id": ident, "kind": "DNS", "value": sans.split(":", 1)[1]}
        for ident, sans in ids
    ])
    db.session.commit()


class QueryPlans:
    """Records each SELECT on certificates and asks SQLite how it ran it."""

    def __init__(self):
        self.plans: list[tuple[str, list[str]]] = []

    def __enter__(self):
        event.listen(db.engine, "before_cursor_execute", self._record)
        return self

    def __exit__(self, *exc):
        event.remove(db.engine, "before_cursor_execute", self._record)

    def _record(self, connection, cursor, statement, parameters, context, executemany):
        if statement.startswith("SELECT") and "FROM certificates" in statement:
            rows = cursor.execute("EXPLAIN QUERY PLAN " + statement, parameters).fetchall()
            self.plans.append((statement, [row[-1] for row in rows]))
