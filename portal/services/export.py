"""Exports: the certificate list with its filters, and the audit log, as CSV or JSON.

Rows are read in keyset pages through the same searches the pages use (so an export holds
exactly what the list shows, in the same order, over every page) and written as they come:
a million rows stream in constant memory.
"""

import csv
import io
import json
from collections.abc import Iterable, Iterator
from dataclasses import replace

from ..models import AuditEvent
from . import audit_search, certificates
from .search import CertificateQuery, search_certificates

BATCH = 1000
CERTIFICATE_FIELDS = (
    "serial", "common_name", "subject", "sans", "profile", "status", "ca", "key_type",
    "not_before", "not_after", "revoked_at", "revocation_reason", "owner", "fingerprint_sha256",
)
AUDIT_FIELDS = ("id", "at", "actor", "action", "serial", "outcome", "detail")
FORMATS = {"csv": "text/csv; charset=utf-8", "json": "application/json"}
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def certificate_records(query: CertificateQuery) -> Iterator[dict]:
    """Every certificate the list shows for this query, in its order, as plain values."""
    cursor = None
    while True:
        page = search_certificates(replace(query, after=cursor, before=None), page_size=BATCH)
        for row in page.rows:
            record = certificates.summary(row)
            yield {field: record[field] for field in CERTIFICATE_FIELDS}
        if not page.next_cursor:
            return
        cursor = page.next_cursor


def _audit_record(event: AuditEvent) -> dict:
    return {"id": event.id, "at": event.at.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "actor": event.actor, "action": event.action, "serial": event.serial,
            "outcome": event.outcome, "detail": event.detail}


def audit_records(q: str = "", *, action: str | None = None,
                  query: audit_search.AuditQuery | None = None) -> Iterator[dict]:
    """Every audit event the audit page shows for this search, newest first."""
    query = query or audit_search.AuditQuery(q=q, action=action)
    before = None
    while True:
        rows, before = audit_search.search(query, before=before, page_size=BATCH)
        yield from (_audit_record(event) for event in rows)
        if before is None:
            return


def _cell(value) -> str:
    """A CSV cell; text a spreadsheet would run as a formula gets a leading apostrophe."""
    if value is None:
        return ""
    if isinstance(value, list):
        value = ", ".join(value)
    text = str(value)
    return "'" + text if text.startswith(_FORMULA_STARTS) else text


def as_csv(records: Iterable[dict], fields: tuple[str, ...]) -> Iterator[str]:
    """A header line, then one CSV line per record."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(fields)
    for record in records:
        writer.writerow([_cell(record[field]) for field in fields])
        yield buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
    yield buffer.getvalue()  # the header alone when nothing matched


def as_json(records: Iterable[dict]) -> Iterator[str]:
    """A JSON array of the records, one per line."""
    separator = "[\n"
    for record in records:
        yield separator + json.dumps(record, ensure_ascii=False)
        separator = ",\n"
    yield "[]\n" if separator == "[\n" else "\n]\n"


def render(records: Iterable[dict], fields: tuple[str, ...], fmt: str) -> Iterator[str]:
    """The records in the format asked for ("csv" or "json")."""
    return as_csv(records, fields) if fmt == "csv" else as_json(records)
