"""Audit log searches at a million rows are index lookups on both databases.

The days (from, to), the user, the area and the search box, alone and together: SQLite's plan
(EXPLAIN QUERY PLAN) must SEARCH audit_events through an index or the primary key on every
line, PostgreSQL's (EXPLAIN) must have no sequential scan; the days' ends are found in
ix_audit_events_at.
"""

from datetime import UTC, date, datetime

import pytest
from sqlalchemy import event, text

from portal.extensions import db
from portal.services.audit_search import AuditQuery, search
from tests.reliability.conftest import BACKENDS

pytestmark = pytest.mark.parametrize("backend", BACKENDS, indirect=True)

ROWS = 1_000_000
START = datetime(2027, 1, 1, tzinfo=UTC)  # after the fixtures' own events: the log is in order
STEP = 30  # seconds between two events: a million rows cover about 347 days

_SQLITE_ROWS = f"""
WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < {ROWS - 1})
INSERT INTO audit_events (at, actor, action, serial, outcome, detail)
SELECT strftime('%Y-%m-%d %H:%M:%S', {int(START.timestamp())} + i * {STEP}, 'unixepoch')
         || '.000000',
       'web:user-' || (i % 1000),
       CASE i % 4 WHEN 0 THEN 'certificate.issue' WHEN 1 THEN 'auth.login'
                  WHEN 2 THEN 'key.generate' ELSE 'crl.publish' END,
       printf('%X', i + 268435456), 'ok', ''
FROM n
"""
_POSTGRES_ROWS = f"""
INSERT INTO audit_events (at, actor, action, serial, outcome, detail)
SELECT timestamp '2027-01-01' + i * interval '{STEP} seconds',
       'web:user-' || (i % 1000),
       (ARRAY['certificate.issue', 'auth.login', 'key.generate', 'crl.publish'])[i % 4 + 1],
       upper(to_hex(i + 268435456)), 'ok', ''
FROM generate_series(0, {ROWS - 1}) AS i
"""


class Plans:
    """Every SELECT on audit_events while open, with the plan the database chose for it."""

    def __init__(self, postgres: bool):
        self.postgres = postgres
        self.plans: list[tuple[str, list[str]]] = []

    def __enter__(self):
        event.listen(db.engine, "before_cursor_execute", self._record)
        return self

    def __exit__(self, *exc):
        event.remove(db.engine, "before_cursor_execute", self._record)

    def _record(self, connection, cursor, statement, parameters, context, executemany):
        if not statement.startswith("SELECT") or "FROM audit_events" not in statement:
            return
        prefix = "EXPLAIN " if self.postgres else "EXPLAIN QUERY PLAN "
        cursor.execute(prefix + statement, parameters)
        self.plans.append((statement, [str(row[-1]) for row in cursor.fetchall()]))


@pytest.fixture
def million(app, backend):
    """A million audit events, one every 30 s from 2027-01-01, with the database's statistics."""
    postgres = backend == "postgresql"
    db.session.execute(text(_POSTGRES_ROWS if postgres else _SQLITE_ROWS))
    db.session.execute(text("ANALYZE"))
    db.session.commit()
    return postgres


# (query, how many rows it finds): each is checked against the same million rows (one insert
# per database: a million rows take a while to write).
QUERIES = [
    (AuditQuery(since=date(2027, 6, 1), until=date(2027, 6, 7)), 50),
    (AuditQuery(actor="user-7", since=date(2027, 3, 1), until=date(2027, 3, 31)), 50),
    (AuditQuery(actor="user-7"), 50),
    (AuditQuery(action="key.", actor="user-2", since=date(2027, 2, 1)), 50),
    (AuditQuery(q="1001E240", since=date(2027, 1, 1), until=date(2027, 12, 31)), 1),
    (AuditQuery(q="auth.login", actor="user-1", until=date(2027, 1, 31)), 50),
    (AuditQuery(since=date(2028, 6, 1)), 0),
]


def test_audit_searches_are_index_lookups(million):
    for query, expected in QUERIES:
        _check(million, query, expected)


def _check(million: bool, query: AuditQuery, expected: int) -> None:
    with Plans(million) as recorded:
        rows, _cursor = search(query)
    assert len(rows) == expected, query
    assert all(row.at.date() >= (query.since or date.min) for row in rows)
    assert all(row.at.date() <= (query.until or date.max) for row in rows)
    if query.actor:
        assert {row.actor for row in rows} <= {f"web:{query.actor}"}
    assert recorded.plans
    for statement, plan in recorded.plans:
        for line in plan:
            assert "Seq Scan on audit_events" not in line, (statement, plan)
            if not million and "audit_events" in line:
                assert line.startswith("SEARCH"), (statement, plan)
        if "ORDER BY audit_events.at" in statement:  # one end of the days
            assert any("ix_audit_events_at" in line for line in plan), (statement, plan)
