"""Certificate searches are index lookups on both databases, with a large table's statistics.

SQLite's plan comes from EXPLAIN QUERY PLAN, PostgreSQL's from EXPLAIN; each search term must be
found through its index (a range on it), never by reading the whole certificates table.
"""

import pytest
from sqlalchemy import event, text

from portal.extensions import db
from portal.services.search import CertificateQuery, search_certificates
from tests.reliability.conftest import BACKENDS
from tests.web.listing import add_rows

pytestmark = pytest.mark.parametrize("backend", BACKENDS, indirect=True)

ROWS = 40_000


class Plans:
    """Every SELECT on certificates while open, with the plan the database chose for it."""

    def __init__(self, postgres: bool):
        self.postgres = postgres
        self.plans: list[str] = []

    def __enter__(self):
        event.listen(db.engine, "before_cursor_execute", self._record)
        return self

    def __exit__(self, *exc):
        event.remove(db.engine, "before_cursor_execute", self._record)

    def _record(self, connection, cursor, statement, parameters, context, executemany):
        if not statement.startswith("SELECT") or "FROM certificates" not in statement:
            return
        prefix = "EXPLAIN " if self.postgres else "EXPLAIN QUERY PLAN "
        cursor.execute(prefix + statement, parameters)
        self.plans.append(" | ".join(str(row[-1]) for row in cursor.fetchall()))


@pytest.fixture
def many(app, root_ca, backend):
    """ROWS certificates with one SAN each, and the statistics a long-running database has."""
    for start in range(0, ROWS, 10_000):
        add_rows(root_ca.id, 10_000, start=start)
    db.session.execute(text("ANALYZE"))
    db.session.commit()
    return backend == "postgresql"


def _uses(plan: str, index: str, postgres: bool) -> bool:
    if postgres:
        return f"Index Scan using {index} " in plan or f"Index Only Scan using {index} " in plan \
            or f"Bitmap Index Scan on {index}" in plan
    return f"INDEX {index} " in plan


# Each search term and the indexes its plans must use. One test per database runs them all on
# one large table: building it is what costs, not the searches.
SEARCHES = [
    ("A0009C", ["ix_certificates_serial", "ix_certificates_common_name"]),
    ("a0:00:9c:3", ["ix_certificates_serial", "ix_certificates_common_name"]),
    ("A0009C…9C3F", ["ix_certificates_serial"]),
    ("DNS:alt-0123", ["ix_certificate_names_value", "ix_certificates_common_name"]),
    ("host-0123", ["ix_certificates_common_name", "ix_certificate_names_value"]),
]


def _problems(q: str, indexes: list[str], postgres: bool) -> list[str]:
    with Plans(postgres) as recorded:
        page = search_certificates(CertificateQuery(q=q))
    problems = [] if page.rows else [f"{q}: nothing found"]
    if not recorded.plans:
        problems.append(f"{q}: no SELECT on certificates")
    for plan in recorded.plans:
        for scan in ("Seq Scan on certificates", "SCAN certificates ",
                     "Seq Scan on certificate_names", "SCAN certificate_names"):
            if scan in plan:
                problems.append(f"{q}: {scan.strip()}: {plan}")
        problems += [f"{q}: not through {index}: {plan}" for index in indexes
                     if not _uses(plan, index, postgres)]
    return problems


def test_searches_are_index_lookups(many):
    problems = [problem for q, indexes in SEARCHES for problem in _problems(q, indexes, many)]
    assert problems == [], "\n".join(problems)
