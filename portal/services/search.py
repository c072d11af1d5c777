"""Searching the certificate list and the audit log: server-side, indexed, keyset-paginated.

Pages are cut with a keyset cursor ("after this row") on an indexed sort column, never with a
growing OFFSET, and no page counts every matching row: a bounded count says "1,000+" instead.
Search terms are prefixes, so each one is a range on an index: the common name, a SAN in
`certificate_names` (also as `DNS:x`, `IP:x`, `email:x`, the way the list shows them), the
serial or its first digits (any notation, or the list's short form `2A0275…C0F0`) or the
owner's user name.
"""

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import and_, func, or_, select, union_all

from ..ca.serials import normalize_serial
from ..errors import PortalError
from ..extensions import db
from ..models import STATUS_ISSUED, Certificate, CertificateName, User
from .audit_search import search_audit  # noqa: F401 (its home is audit_search; the old name stays)

PAGE_SIZE = 50
COUNT_CAP = 1000
# sort name -> (column, ascending); every column is indexed, the id breaks ties.
SORTS = {
    "newest": (Certificate.id, False),
    "oldest": (Certificate.id, True),
    "expires": (Certificate.not_after, True),
    "-expires": (Certificate.not_after, False),
}
_TOP = "\U0010ffff"  # sorts after every other character: [q, q + _TOP) is "starts with q"
MIN_SERIAL_PREFIX = 4  # hex digits: fewer would match a sixteenth of the table or more
# `TYPE:value`, the way the list shows subjectAltNames (CertificateName.kind spells TYPE so)
_NAME_KINDS = {"dns": "DNS", "ip": "IP", "email": "email", "uri": "URI"}
_TYPED_NAME = re.compile(r"(?i)(dns|ip|email|uri):(.+)")
_HEX = re.compile(r"[0-9A-F]+")
_ELLIPSIS = re.compile(r"…|\.\.\.")


@dataclass(frozen=True)
class CertificateQuery:
    """What the person asked for in the certificate list."""

    q: str = ""
    status: str | None = None
    profile: str | None = None
    ca_id: int | None = None
    expiring_days: int | None = None
    owner_id: int | None = None  # only this user's certificates (the API, for non-admins)
    sort: str = "newest"
    after: str | None = None
    before: str | None = None


@dataclass(frozen=True)
class Page:
    """One page of rows, the cursors to its neighbours, and a bounded count of all matches."""

    rows: list
    next_cursor: str | None
    prev_cursor: str | None
    count: int
    count_capped: bool


def _prefix(column, text: str):
    return and_(column >= text, column < text + _TOP)


def _serial_digits(text: str) -> str | None:
    """Hex digits of a serial as typed (colons, spaces, 0x, any case), or None if not hex."""
    cleaned = text.strip()
    if cleaned.lower().startswith("serial="):
        cleaned = cleaned[7:]
    if cleaned.lower().startswith("0x"):
        cleaned = cleaned[2:]
    cleaned = cleaned.replace(":", "").replace(" ", "").upper()
    return cleaned if _HEX.fullmatch(cleaned) else None


def _serial_prefix_lookup(q: str):
    """Serials starting with q (hex in any notation), or the list's short form `2A0275…C0F0`.

    Serials are stored as upper-case hex with an even number of digits, so a prefix typed as
    the list shows it is a range on the serial index; the short form adds its last digits as a
    filter on the rows that range finds.
    """
    head, _, tail = _split(q)
    prefix = _serial_digits(head)
    if prefix is None or len(prefix) < MIN_SERIAL_PREFIX or len(prefix) > 42:
        return None
    condition = _prefix(Certificate.serial, prefix)
    if tail is not None:
        suffix = _serial_digits(tail)
        if suffix is None:
            return None
        condition = and_(condition, Certificate.serial.endswith(suffix))
    return select(Certificate.id).where(condition)


def _split(q: str) -> tuple[str, str, str | None]:
    """`head…tail` into (head, "…", tail); text without an ellipsis into (q, "", None)."""
    parts = _ELLIPSIS.split(q, maxsplit=1)
    if len(parts) == 1:
        return q, "", None
    return parts[0], "…", parts[1]


def _typed_name_lookup(q: str):
    """`DNS:grafana`, `IP:10.0.`, `email:alice@`: that kind of subjectAltName starting so."""
    match = _TYPED_NAME.fullmatch(q)
    if not match:
        return None
    kind, value = _NAME_KINDS[match.group(1).lower()], match.group(2).strip().lower()
    if not value:
        return None
    return select(CertificateName.certificate_id).where(
        _prefix(CertificateName.value, value), CertificateName.kind == kind
    )


def _search_condition(q: str):
    """CN, SAN or owner starting with q, or the serial q in any notation.

    Each alternative is its own indexed lookup, joined with UNION ALL: an OR of prefix ranges
    and subqueries is planned by SQLite as a scan of the whole table.
    """
    variants = {q, q.lower(), q[:1].upper() + q[1:]}
    lookups = [
        select(Certificate.id).where(_prefix(Certificate.common_name, variant))
        for variant in sorted(variants)
    ]
    lookups.append(
        select(CertificateName.certificate_id).where(_prefix(CertificateName.value, q.lower()))
    )
    lookups.append(
        select(Certificate.id).where(
            Certificate.owner_id.in_(select(User.id).where(User.username == q))
        )
    )
    try:
        lookups.append(select(Certificate.id).where(Certificate.serial == normalize_serial(q)))
    except PortalError:
        pass
    for extra in (_serial_prefix_lookup(q), _typed_name_lookup(q)):
        if extra is not None:
            lookups.append(extra)
    return Certificate.id.in_(union_all(*lookups))


def _filters(query: CertificateQuery, now: datetime) -> list:
    conditions = []
    if query.q.strip():
        conditions.append(_search_condition(query.q.strip()))
    if query.status:
        conditions.append(Certificate.status == query.status)
    if query.profile:
        conditions.append(Certificate.profile == query.profile)
    if query.ca_id:
        conditions.append(Certificate.ca_id == query.ca_id)
    if query.owner_id is not None:
        conditions.append(Certificate.owner_id == query.owner_id)
    if query.expiring_days is not None:
        conditions.append(Certificate.status == STATUS_ISSUED)
        conditions.append(Certificate.not_after >= now)
        conditions.append(Certificate.not_after < now + timedelta(days=query.expiring_days))
    return conditions


def _cursor_of(row: Certificate, column) -> str:
    if column is Certificate.id:
        return str(row.id)
    return f"{row.not_after.astimezone(UTC).strftime('%Y%m%dT%H%M%S')}.{row.id}"


def _after(column, ascending: bool, cursor: str):
    """Rows strictly after the cursor in the sort order (None for a cursor that does not parse)."""
    try:
        if column is Certificate.id:
            ident = int(cursor)
            return Certificate.id > ident if ascending else Certificate.id < ident
        stamp, ident_text = cursor.split(".")
        value = datetime.strptime(stamp, "%Y%m%dT%H%M%S").replace(tzinfo=UTC)
        ident = int(ident_text)
    except ValueError:
        return None
    if ascending:
        return and_(column >= value, or_(column > value, Certificate.id > ident))
    return and_(column <= value, or_(column < value, Certificate.id < ident))


def _order(column, forward: bool, *, search: bool) -> list:
    """ORDER BY the sort column, then the id.

    A search matches few rows through its indexes (MULTI-INDEX OR); with table statistics
    SQLite may instead walk a whole sort index hoping to fill the page early. Sorting a search
    by an expression (id + 0, coalesce) rules that walk out: matches are found, then sorted.
    """
    keys = [column] if column is Certificate.id else [column, Certificate.id]
    if search:
        keys = [key + 0 if key is Certificate.id else func.coalesce(key, key) for key in keys]
    return [key.asc() if forward else key.desc() for key in keys]


def search_certificates(
    query: CertificateQuery, *, page_size: int = PAGE_SIZE, now: datetime | None = None
) -> Page:
    """One page of certificates matching the query, in the chosen order."""
    now = now or datetime.now(UTC)
    column, ascending = SORTS.get(query.sort, SORTS["newest"])
    conditions = _filters(query, now)
    backwards = bool(query.before) and not query.after
    cursor = query.before if backwards else query.after
    keyset = _after(column, ascending != backwards, cursor) if cursor else None
    if keyset is None:
        backwards = False  # a cursor that does not parse is ignored: the first page
    forward = ascending != backwards
    order = _order(column, forward, search=bool(query.q.strip()))
    statement = select(Certificate).where(*conditions)
    if keyset is not None:
        statement = statement.where(keyset)
    rows = list(db.session.scalars(statement.order_by(*order).limit(page_size + 1)))
    more = len(rows) > page_size
    rows = rows[:page_size]
    if backwards:
        rows.reverse()
    has_next = more if not backwards else True
    has_prev = (more if backwards else keyset is not None) and bool(rows)
    count = db.session.scalar(
        select(func.count()).select_from(
            select(Certificate.id).where(*conditions).limit(COUNT_CAP + 1).subquery()
        )
    )
    return Page(
        rows=rows,
        next_cursor=_cursor_of(rows[-1], column) if rows and has_next else None,
        prev_cursor=_cursor_of(rows[0], column) if has_prev else None,
        count=min(count, COUNT_CAP),
        count_capped=count > COUNT_CAP,
    )
