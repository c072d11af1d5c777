"""Checks after load or a crash: the database's own integrity check, and the portal's invariants."""

import sqlite3
import ssl

from sqlalchemy import func, select

from portal.extensions import db
from portal.models import STATUS_ISSUED, Certificate, CertificateName

# amcheck: every B-tree index against its heap, and every table's heap (PostgreSQL 14+).
PG_CHECK_INDEXES = """
WITH btree AS MATERIALIZED (
  SELECT c.oid, c.relname FROM pg_index i
  JOIN pg_class c ON c.oid = i.indexrelid
  JOIN pg_namespace n ON n.oid = c.relnamespace
  JOIN pg_am am ON am.oid = c.relam
  WHERE n.nspname = 'public' AND am.amname = 'btree'
)
SELECT relname, bt_index_check(index => oid, heapallindexed => true) FROM btree
"""
PG_CHECK_HEAPS = """
SELECT c.relname, v.msg FROM pg_class c
JOIN pg_namespace n ON n.oid = c.relnamespace
CROSS JOIN LATERAL verify_heapam(c.oid) v
WHERE n.nspname = 'public' AND c.relkind = 'r'
"""


def database_integrity(url: str, postgres=None) -> list[str]:
    """SQLite's PRAGMA integrity_check, or amcheck on PostgreSQL: the problems found."""
    if url.startswith("sqlite"):
        connection = sqlite3.connect(url.removeprefix("sqlite:///"))
        try:
            rows = [row[0] for row in connection.execute("PRAGMA integrity_check")]
        finally:
            connection.close()
        return [] if rows == ["ok"] else rows
    name = url.rsplit("/", 1)[1]
    postgres.execute("CREATE EXTENSION IF NOT EXISTS amcheck", database=name)
    postgres.execute(PG_CHECK_INDEXES, database=name)  # raises on a corrupt index
    return [f"{table}: {message}" for table, message in
            postgres.execute(PG_CHECK_HEAPS, database=name)]


def invariant_problems() -> list[str]:
    """The portal's own rules: issued rows carry their DER, serials unique per CA, names owned."""
    db.session.remove()
    problems = []
    issued_without_der = db.session.scalar(select(func.count()).select_from(Certificate).where(
        Certificate.status == STATUS_ISSUED, Certificate.der.is_(None)))
    if issued_without_der:
        problems.append(f"{issued_without_der} issued rows without a certificate")
    duplicates = db.session.execute(
        select(Certificate.ca_id, Certificate.serial).group_by(Certificate.ca_id,
                                                               Certificate.serial)
        .having(func.count() > 1)).all()
    if duplicates:
        problems.append(f"duplicate serials: {duplicates[:5]}")
    orphans = db.session.scalar(select(func.count()).select_from(CertificateName).where(
        ~CertificateName.certificate_id.in_(select(Certificate.id))))
    if orphans:
        problems.append(f"{orphans} names without their certificate")
    db.session.remove()
    return problems


def received_but_missing(outcomes) -> list[str]:
    """Serials a client received a certificate for that the database does not hold as issued."""
    db.session.remove()
    rows = dict(db.session.execute(
        select(Certificate.serial, Certificate.der).where(Certificate.status == STATUS_ISSUED)
    ).all())
    missing = []
    for outcome in outcomes:
        if not outcome.issued:
            continue
        der = ssl.PEM_cert_to_DER_cert(outcome.body["certificate"])
        if rows.get(outcome.body["serial"]) != der:
            missing.append(outcome.body["serial"])
    db.session.remove()
    return missing
