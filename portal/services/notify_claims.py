"""Expiry warnings claimed in bulk before their mails go out, and settled in bulk after.

Each certificate's warning at one threshold is one row of expiry_notices (unique per
certificate and threshold), with each channel's state in its own columns. A run claims a mail
channel by setting its time and the run's token where both are empty: all the run's claims in
one statement (on SQLite, one per 5,000 warnings), an INSERT ... ON CONFLICT DO UPDATE that
fills only the empty channels; RETURNING tells which channels now hold this run's token, and a
channel another host claimed first is that host's to send. After the mails, one UPDATE per
outcome clears the token of the claims whose mail the SMTP server accepted (the time becomes
when it was sent) and empties the others (the next run sends them). A host that dies in
between leaves its token: the claim goes stale after STALE_CLAIM and is sent again, so a
warning may arrive twice, but is never lost. A run still sending renews its claims every
KEEP_CLAIMS, so that a slow server never makes them look stale.
"""

import functools
import secrets
from datetime import datetime, timedelta

from sqlalchemy import BigInteger, Integer, and_, case, func, literal, or_, select, update
from sqlalchemy.dialects import postgresql

from ..extensions import db
from ..models import NOTICE_ADMINS, NOTICE_OWNER, NOTICE_WEBHOOK, ExpiryNotice, UTCDateTime
from .notify_due import Due, chunks

STALE_CLAIM = timedelta(minutes=15)  # a claim never marked sent: its host died mid-send
KEEP_CLAIMS = STALE_CLAIM / 3  # how often a run still sending renews its claims
MAILED = (NOTICE_OWNER, NOTICE_ADMINS)  # the channels claimed before their mail goes out
_BITS = {NOTICE_OWNER: 1, NOTICE_ADMINS: 2, NOTICE_WEBHOOK: 4}
_NOTICES = ExpiryNotice.__table__
_AT = {channel: _NOTICES.c[f"{channel}_at"] for channel in (*MAILED, NOTICE_WEBHOOK)}
_CLAIM = {channel: _NOTICES.c[f"{channel}_claim"] for channel in MAILED}

Key = tuple[int, int]  # certificate id, threshold
Owned = dict[Key, tuple[int, frozenset]]  # the notice's id and the channels this run owns


def new_token() -> int:
    """A run's claim token: random, positive (0 marks the claims of an older schema)."""
    return secrets.randbelow(2 ** 62) + 1


def forget_stale(now: datetime) -> None:
    """Empty the claims of hosts that died before marking them sent (in the session)."""
    for channel in MAILED:
        db.session.execute(update(_NOTICES).where(
            _CLAIM[channel].is_not(None), _AT[channel] < now - STALE_CLAIM)
            .values({_AT[channel]: None, _CLAIM[channel]: None}))


def claim(items: list[Due], now: datetime, token: int) -> Owned:
    """Claim each item's warning on its `channels` (in the session, not committed).

    The webhook channel is a marker, set when claimed (the delivery's message id dedupes the
    event). Returns, by (certificate, threshold), the notice's id and the channels this run
    claimed: the warnings it now owns.
    """
    items = [item for item in items if item.channels]
    if not items:
        return {}
    if db.session.get_bind().dialect.name == "sqlite":
        return _sqlite_claim(items, now, token)
    return _postgresql_claim(items, now, token)


@functools.lru_cache(maxsize=16)
def _mask(channels: frozenset) -> int:
    """The channels as the bits the claim statement reads (a run has a few combinations)."""
    return sum(_BITS[channel] for channel in channels)


def _owned(rows, token: int, stamp) -> Owned:
    """The RETURNING rows (id, certificate, threshold, owner claim, admins claim, webhook at)."""
    sets: dict[tuple, frozenset] = {}
    owned = {}
    for notice, certificate, days, owner, admins, webhook in rows:
        flags = (owner == token, admins == token, webhook == stamp)
        channels = sets.get(flags)
        if channels is None:
            channels = sets[flags] = frozenset(
                channel for channel, mine in zip((*MAILED, NOTICE_WEBHOOK), flags, strict=True)
                if mine)
        if channels:
            owned[(certificate, days)] = (notice, channels)
    return owned


SQLITE_ROWS = 5000  # warnings per statement: 3 parameters each, under SQLite's 32,766


def _sqlite_claim(items: list[Due], now: datetime, token: int) -> Owned:
    """The claims as INSERT ... SELECT FROM (VALUES ...) ON CONFLICT DO UPDATE, on the driver.

    Built as text: compiling a Core statement with a thousand rows of values cost as much as
    running it.
    """
    connection = db.session.connection()
    dialect = connection.dialect
    stamp = UTCDateTime().dialect_impl(dialect).bind_processor(dialect)(now)  # as stored
    name = _NOTICES.name

    def fill(column: str) -> str:  # an empty channel takes the proposed claim
        return f"{column} = coalesce({name}.{column}, excluded.{column})"

    head = (stamp, token, stamp, token, stamp)
    owned = {}
    for chunk in chunks(items, SQLITE_ROWS):
        # without a WHERE, SQLite would take ON CONFLICT for a join's ON
        statement = (
            f"INSERT INTO {name} (certificate_id, threshold_days, owner_at, owner_claim, "
            "admins_at, admins_claim, webhook_at) "
            "SELECT column1, column2, CASE WHEN column3 & 1 THEN ? END, "
            "CASE WHEN column3 & 1 THEN ? END, CASE WHEN column3 & 2 THEN ? END, "
            "CASE WHEN column3 & 2 THEN ? END, CASE WHEN column3 & 4 THEN ? END "
            f"FROM (VALUES {', '.join(['(?, ?, ?)'] * len(chunk))}) WHERE true "
            "ON CONFLICT (certificate_id, threshold_days) DO UPDATE SET "
            # the claim first: every SET expression reads the row as it was
            f"owner_claim = CASE WHEN {name}.owner_at IS NULL THEN excluded.owner_claim "
            f"ELSE {name}.owner_claim END, "
            f"admins_claim = CASE WHEN {name}.admins_at IS NULL THEN excluded.admins_claim "
            f"ELSE {name}.admins_claim END, "
            f"{fill('owner_at')}, {fill('admins_at')}, {fill('webhook_at')} "
            f"WHERE ({name}.owner_at IS NULL AND excluded.owner_at IS NOT NULL) "
            f"OR ({name}.admins_at IS NULL AND excluded.admins_at IS NOT NULL) "
            f"OR ({name}.webhook_at IS NULL AND excluded.webhook_at IS NOT NULL) "
            "RETURNING id, certificate_id, threshold_days, owner_claim, admins_claim, webhook_at"
        )
        parameters = list(head)
        for item in chunk:
            parameters += (item.id, item.threshold, _mask(item.channels))
        # all(): the rows in one fetch (iterating the result fetched them one by one)
        owned.update(_owned(connection.exec_driver_sql(statement, tuple(parameters)).all(),
                            token, stamp))
    return owned


def _postgresql_claim(items: list[Due], now: datetime, token: int) -> Owned:
    """The claims as one INSERT ... SELECT FROM unnest(three arrays) ON CONFLICT DO UPDATE."""
    source = func.unnest(
        literal([item.id for item in items], postgresql.ARRAY(Integer)),
        literal([item.threshold for item in items], postgresql.ARRAY(Integer)),
        literal([_mask(item.channels) for item in items], postgresql.ARRAY(Integer)),
    ).table_valued("certificate_id", "threshold_days", "mask").render_derived()
    at, mine = literal(now, UTCDateTime()), literal(token, BigInteger())

    def when(channel: str, value):
        return case((source.c.mask.op("&")(_BITS[channel]) != 0, value))

    rows = select(source.c.certificate_id, source.c.threshold_days,
                  when(NOTICE_OWNER, at), when(NOTICE_OWNER, mine),
                  when(NOTICE_ADMINS, at), when(NOTICE_ADMINS, mine), when(NOTICE_WEBHOOK, at))
    statement = postgresql.insert(_NOTICES).from_select(
        ["certificate_id", "threshold_days", "owner_at", "owner_claim", "admins_at",
         "admins_claim", "webhook_at"], rows)
    proposed = statement.excluded
    fills = {_AT[channel]: func.coalesce(_AT[channel], proposed[_AT[channel].name])
             for channel in _AT}
    claims = {_CLAIM[channel]: case((_AT[channel].is_(None), proposed[_CLAIM[channel].name]),
                                    else_=_CLAIM[channel]) for channel in MAILED}
    statement = statement.on_conflict_do_update(
        index_elements=["certificate_id", "threshold_days"], set_={**claims, **fills},
        where=or_(*[and_(_AT[channel].is_(None), proposed[_AT[channel].name].is_not(None))
                    for channel in _AT]),
    ).returning(_NOTICES.c.id, _NOTICES.c.certificate_id, _NOTICES.c.threshold_days,
                _CLAIM[NOTICE_OWNER], _CLAIM[NOTICE_ADMINS],
                _AT[NOTICE_WEBHOOK] == literal(now, UTCDateTime()))
    result = db.session.execute(statement).all()
    return _owned(((notice, certificate, days, owner, admins, now if webhook else None)
                   for notice, certificate, days, owner, admins, webhook in result), token, now)


def _settle_values(channels: dict[str, datetime | None], token: int) -> dict:
    """SET clauses: each channel still claimed by `token` gets its time (None: emptied)."""
    values = {}
    for channel, at in channels.items():
        ours = _CLAIM[channel] == token
        values[_AT[channel]] = case((ours, literal(at, UTCDateTime())), else_=_AT[channel])
        values[_CLAIM[channel]] = case((ours, None), else_=_CLAIM[channel])
    return values


def keep(notices: list[int], now: datetime, token: int) -> None:
    """Renew this run's claims not yet marked sent, so that no host takes them for stale."""
    renew = {}
    for channel in MAILED:
        ours = _CLAIM[channel] == token
        renew[_AT[channel]] = case((ours, literal(now, UTCDateTime())), else_=_AT[channel])
    for where in _id_sets(notices):
        db.session.execute(update(_NOTICES).where(
            where, or_(*[_CLAIM[channel] == token for channel in MAILED])).values(renew))


def settle(outcomes: list[tuple[str, list[int], bool]], now: datetime, token: int) -> None:
    """Mark sent the claims whose mail was accepted, empty the others (in the session).

    `outcomes`: (channel, notice ids, accepted) per mail. The notices sharing one outcome on
    every channel are settled by one UPDATE (in a normal run, all of them by one).
    """
    for channels, notices in _groups(outcomes).items():
        values = _settle_values({channel: now if accepted else None
                                 for channel, accepted in channels}, token)
        mine = or_(*[_CLAIM[channel] == token for channel, _accepted in channels])
        for where in _id_sets(notices):
            db.session.execute(update(_NOTICES).where(where, mine).values(values))


def _groups(outcomes: list[tuple[str, list[int], bool]]) -> dict[tuple, list[int]]:
    """The notices by their outcome on each channel: ((channel, accepted), ...) -> ids."""
    by_outcome: dict[tuple[str, bool], set[int]] = {}
    for channel, notices, accepted in outcomes:
        by_outcome.setdefault((channel, accepted), set()).update(notices)
    if len(by_outcome) == 1 or (len(by_outcome) == 2 and len(set(map(frozenset, (
            by_outcome.values())))) == 1):  # a normal run: every mail accepted
        return {tuple(sorted(by_outcome)): sorted(next(iter(by_outcome.values())))}
    by_notice: dict[int, list[tuple[str, bool]]] = {}
    for outcome, notices in sorted(by_outcome.items()):
        for notice in notices:
            by_notice.setdefault(notice, []).append(outcome)
    groups: dict[tuple, list[int]] = {}
    for notice, channels in by_notice.items():
        groups.setdefault(tuple(channels), []).append(notice)
    return groups


def _id_sets(ids: list[int]):
    """Conditions selecting exactly these notice ids: one range when they are consecutive."""
    ids = sorted(set(ids))  # a notice may be in an owner's mail and in the digest
    if ids and ids[-1] - ids[0] + 1 == len(ids):  # unique ids filling the range: all ours
        yield _NOTICES.c.id.between(ids[0], ids[-1])
        return
    for chunk in chunks(ids):
        yield _NOTICES.c.id.in_(chunk)
