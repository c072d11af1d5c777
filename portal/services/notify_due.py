"""Which certificates are due for an expiry warning, on which channel, at which threshold.

One query finds them: the (status, not_after) index gives the window, the unique (certificate,
threshold) notice index gives each row's one notice, whose columns tell each channel's lack,
and for the rows that lack one, the common_name (or owner_id) index tells whether a renewal
exists (a renewed certificate is left out in the query). Once every due certificate is warned,
a run reads no certificate row into Python.
"""

import functools
from datetime import UTC, datetime, timedelta
from typing import NamedTuple

from flask import current_app
from sqlalchemy import (
    DateTime,
    and_,
    bindparam,
    case,
    exists,
    false,
    or_,
    select,
    type_coerce,
)
from sqlalchemy.orm import aliased

from ..extensions import db
from ..models import (
    NOTICE_ADMINS,
    NOTICE_OWNER,
    NOTICE_WEBHOOK,
    STATUS_ISSUED,
    Certificate,
    CertificateAuthority,
    ExpiryNotice,
    User,
    UTCDateTime,
)

SHORT_LIVED = timedelta(days=14)  # ACME-style certificates: renewed by their automation
CHUNK = 500  # ids per IN (...) list
CHANNELS = (NOTICE_OWNER, NOTICE_ADMINS, NOTICE_WEBHOOK)


class Due(NamedTuple):
    """A certificate due for a warning at one threshold (a tuple: a run makes a thousand)."""

    id: int
    serial: str
    subject: str
    ca: str
    not_after: datetime
    owner_id: int | None
    threshold: int
    channels: frozenset = frozenset()  # the channels that lack this warning


def chunks(values: list, size: int = CHUNK):
    """`values` in slices of at most `size` (for IN lists)."""
    for start in range(0, len(values), size):
        yield values[start:start + size]


def due_selection(now: datetime, thresholds: tuple[int, ...], *, owners: bool = True,
                  admins: bool = True, hooks: bool = True):
    """Unrenewed issued certificates in the warning window lacking a warning on a channel.

    A warning lacks at the certificate's current threshold. The window is read by the
    (status, not_after) index, and each row's notice by the unique (certificate, threshold)
    index. Each channel's lack is also a column (`lacks_<channel>`), and so is the current
    threshold (`threshold`); whether a renewal exists is looked up only for the rows lacking
    a warning.
    """
    return _selection(tuple(thresholds), owners, admins, hooks).params(
        _window(now, thresholds))


def _window(now: datetime, thresholds: tuple[int, ...]) -> dict:
    """The values of _selection's parameters: now and the end of each threshold's window."""
    return {"now": now, **{f"end_{days}d": now + timedelta(days=days) for days in thresholds}}


@functools.lru_cache(maxsize=64)
def _selection(thresholds: tuple[int, ...], owners: bool, admins: bool, hooks: bool):
    """due_selection's statement with its times as parameters, built once per process.

    Building it again on every run cost more than a tenth of the SELECT it stands for.
    """
    table = Certificate.__table__.c
    notices = ExpiryNotice.__table__
    now = bindparam("now", type_=UTCDateTime())
    ends = {days: bindparam(f"end_{days}d", type_=UTCDateTime()) for days in thresholds}
    threshold = case(*[(table.not_after <= ends[days], days) for days in thresholds])
    people = User.__table__.c
    lacks = {}  # a channel lacks the warning when it was neither claimed nor sent
    if owners:
        # a subquery after the notice's column, not a join: a row warned already is then
        # decided from the indexes alone, without reading its certificate row for owner_id
        lacks[NOTICE_OWNER] = and_(notices.c.owner_at.is_(None), exists().where(
            people.id == table.owner_id, people.active.is_(True), people.email.is_not(None),
            people.email != ""))
    if admins:
        lacks[NOTICE_ADMINS] = notices.c.admins_at.is_(None)
    if hooks:
        lacks[NOTICE_WEBHOOK] = notices.c.webhook_at.is_(None)
    source = Certificate.__table__.outerjoin(notices, and_(
        notices.c.certificate_id == table.id, notices.c.threshold_days == threshold))
    return (
        # the times as stored (naive UTC): a run reads a thousand, and marks only its own aware
        select(table.id, table.serial, table.subject, table.profile,
               type_coerce(table.not_before, DateTime()), type_coerce(table.not_after, DateTime()),
               table.owner_id, table.ca_id, threshold.label("threshold"),
               *[condition.label(f"lacks_{channel}") for channel, condition in lacks.items()])
        .select_from(source)
        .where(table.status == STATUS_ISSUED, table.not_after > now,
               table.not_after <= ends[thresholds[-1]],
               # CASE: the renewal is looked up only for a row lacking a warning, after the
               # notice is read (a term of its own would be checked on every row first)
               case((or_(*lacks.values()), ~renewal_exists(now)), else_=false()) if lacks
               else false())
        # soonest first: the (status, not_after) index's own order (its last key is the id)
        .order_by(table.not_after, table.id)
    )


def due_certificates(now: datetime, thresholds: tuple[int, ...], **channels) -> list[Due]:
    """Certificates due on some channel (see due_selection), neither short-lived nor renewed."""
    if not thresholds:
        return []
    flags = (channels.get("owners", True), channels.get("admins", True),
             channels.get("hooks", True))
    result = db.session.execute(_selection(tuple(thresholds), *flags), _window(now, thresholds))
    lacks = [channel for channel in CHANNELS if f"lacks_{channel}" in result.keys()]
    rows = result.all()
    sets: dict[tuple, frozenset] = {}  # the few combinations of channels, made once each
    if not rows:
        return []
    short_lived_ok = {
        name.strip() for name in
        str(current_app.config["PORTAL_NOTIFY_SHORT_LIVED_PROFILES"]).split(",") if name.strip()
    }
    ca_names = dict(db.session.execute(
        select(CertificateAuthority.id, CertificateAuthority.name)).all())
    due = []
    for (id_, serial, subject, profile, not_before, not_after, owner_id, ca_id, threshold,
         *flags) in rows:
        if not_after - not_before < SHORT_LIVED and profile not in short_lived_ok:
            continue
        flags = tuple(flags)
        channels = sets.get(flags)
        if channels is None:
            channels = sets[flags] = frozenset(
                channel for channel, lacking in zip(lacks, flags, strict=True) if lacking)
        due.append(Due(id_, serial, subject, ca_names.get(ca_id, "?"),
                       _aware(not_after), owner_id, threshold, channels))
    return due


def _aware(value: datetime) -> datetime:
    """A stored time as aware UTC (the drivers hand back naive values for this column type)."""
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def renewal_exists(now):
    """Whether a newer valid certificate has the same subject, SANs, owner and common name.

    `now` is a datetime, or a bind parameter standing for one. Certificates without a common
    name are matched on their owner (and only when they have one); each form reads an index
    (common_name, or owner_id), not the whole table.
    """
    table = Certificate.__table__
    newer = aliased(table)
    valid = (newer.c.status == STATUS_ISSUED, newer.c.not_before <= now,
             newer.c.not_after > table.c.not_after, newer.c.subject == table.c.subject,
             newer.c.sans == table.c.sans)
    named = exists().where(newer.c.common_name == table.c.common_name, newer.c.id != table.c.id,
                           newer.c.owner_id.is_not_distinct_from(table.c.owner_id), *valid)
    unnamed = exists().where(newer.c.owner_id == table.c.owner_id, newer.c.id != table.c.id,
                             newer.c.common_name.is_(None), *valid)
    # CASE, not OR: SQLite would run both subqueries, even the one that cannot match
    return case((table.c.common_name.is_not(None), named),
                (table.c.owner_id.is_not(None), unnamed), else_=false())
