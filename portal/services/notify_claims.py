"""Expiry warnings claimed in bulk before their mails go out, and settled in bulk after.

A claim is a row of expiry_notices (unique per certificate, threshold and channel) with no
sent_at yet. A run makes all its claims in one statement (on SQLite, one per 5,000), by
INSERT ... SELECT ... ON CONFLICT DO NOTHING RETURNING: a row another host claimed first is
not returned, so it is that host's to send. After the mails, one transaction marks sent the
claims whose mail the SMTP server accepted and deletes the others (the next run sends them).
A host that dies in between leaves claims without sent_at: they go stale after STALE_CLAIM
and are sent again, so a warning may arrive twice, but is never lost. A run still sending
renews its claims every KEEP_CLAIMS, so that a slow server never makes them look stale.
"""

from datetime import datetime, timedelta

from sqlalchemy import Integer, String, case, delete, func, literal, select, update
from sqlalchemy.dialects import postgresql

from ..extensions import db
from ..models import ExpiryNotice, UTCDateTime
from .notify_due import Due, chunks

STALE_CLAIM = timedelta(minutes=15)  # a claim never marked sent: its host died mid-send
KEEP_CLAIMS = STALE_CLAIM / 3  # how often a run still sending renews its claims
_NOTICES = ExpiryNotice.__table__
_COLUMNS = ["certificate_id", "threshold_days", "channel", "claimed_at", "sent_at"]

Key = tuple[int, int, str]  # certificate id, threshold, channel


def forget_stale(now: datetime) -> None:
    """Delete the claims of hosts that died before marking them sent (in the session)."""
    db.session.execute(delete(_NOTICES).where(
        _NOTICES.c.sent_at.is_(None), _NOTICES.c.claimed_at < now - STALE_CLAIM))


def claim(wanted: list[tuple[Due, str]], now: datetime, *, sent: set[str] = frozenset()
          ) -> dict[Key, int]:
    """Insert the notice rows of these (item, channel) pairs (in the session, not committed).

    One INSERT ... SELECT for the whole run (on SQLite, one per SQLITE_ROWS warnings), from
    the (certificate, threshold, channel) triples: a VALUES list on SQLite, three arrays on
    PostgreSQL; rows another host claimed first are skipped (ON CONFLICT DO NOTHING). Returns
    the ids of the rows this run inserted, by (certificate, threshold, channel): the warnings
    it now owns. Rows of a channel in `sent` are sent already (a marker whose own dedupe lies
    elsewhere).
    """
    if not wanted:
        return {}
    triples = [(item.id, item.threshold, channel) for item, channel in wanted]
    if db.session.get_bind().dialect.name == "sqlite":
        return _sqlite_claim(triples, now, sorted(sent))
    certificate_id, threshold, channel = _postgresql_triples(triples)
    sent_at = (case((channel.in_(sorted(sent)), literal(now, UTCDateTime())),
                    else_=literal(None, UTCDateTime())) if sent else literal(None, UTCDateTime()))
    rows = select(certificate_id, threshold, channel, literal(now, UTCDateTime()), sent_at)
    statement = (
        postgresql.insert(_NOTICES).from_select(_COLUMNS, rows)
        .on_conflict_do_nothing(index_elements=_COLUMNS[:3])
        .returning(_NOTICES.c.id, _NOTICES.c.certificate_id, _NOTICES.c.threshold_days,
                   _NOTICES.c.channel)
    )
    return {(certificate, days, name): notice
            for notice, certificate, days, name in db.session.execute(statement).all()}


SQLITE_ROWS = 5000  # triples per statement: 3 parameters each, under SQLite's 32,766


def _sqlite_claim(triples: list[Key], now: datetime, sent: list[str]) -> dict[Key, int]:
    """The claims on SQLite: the triples as a VALUES list of bound parameters, given as is.

    Measured for 2,000 claims beside a 5 ms SELECT of their certificates: 7 ms this way, 9.5 ms
    from a JSON array (json_each and json_extract parse it again for every field), and more
    through SQLAlchemy, which compiles each of the 6,000 parameters in Python.
    """
    connection = db.session.connection()
    dialect = connection.dialect
    stamp = UTCDateTime().dialect_impl(dialect).bind_processor(dialect)(now)  # as stored
    marker = (f"CASE WHEN column3 IN ({', '.join(['?'] * len(sent))}) THEN ? END" if sent
              else "NULL")
    head = (stamp, *sent, stamp) if sent else (stamp,)
    owned = {}
    for chunk in chunks(triples, SQLITE_ROWS):
        # without a WHERE, SQLite would take ON CONFLICT for a join's ON
        statement = (
            f"INSERT INTO {_NOTICES.name} ({', '.join(_COLUMNS)}) "
            f"SELECT column1, column2, column3, ?, {marker} "
            f"FROM (VALUES {', '.join(['(?, ?, ?)'] * len(chunk))}) WHERE true "
            f"ON CONFLICT ({', '.join(_COLUMNS[:3])}) DO NOTHING "
            "RETURNING id, certificate_id, threshold_days, channel"
        )
        parameters = head + tuple(value for triple in chunk for value in triple)
        owned.update(((certificate, days, name), notice) for notice, certificate, days, name
                     in connection.exec_driver_sql(statement, parameters).all())
    return owned


def _postgresql_triples(triples: list[tuple[int, int, str]]):
    ids, days, channels = (list(column) for column in zip(*triples, strict=True))
    table = func.unnest(literal(ids, postgresql.ARRAY(Integer)),
                        literal(days, postgresql.ARRAY(Integer)),
                        literal(channels, postgresql.ARRAY(String))
                        ).table_valued("certificate_id", "threshold_days", "channel"
                                       ).render_derived()
    return table.c.certificate_id, table.c.threshold_days, table.c.channel


def keep(notices: list[int], now: datetime) -> None:
    """Renew this run's claims not yet marked sent, so that no host takes them for stale."""
    for where in _id_sets(notices):
        db.session.execute(update(_NOTICES).where(where, _NOTICES.c.sent_at.is_(None))
                           .values(claimed_at=now))


def settle(sent: list[int], unsent: list[int], now: datetime) -> None:
    """Mark the claims whose mail was accepted as sent; delete the others (in the session)."""
    for where in _id_sets(sent):
        db.session.execute(update(_NOTICES).where(where, _NOTICES.c.sent_at.is_(None))
                           .values(sent_at=now))
    for where in _id_sets(unsent):
        db.session.execute(delete(_NOTICES).where(where, _NOTICES.c.sent_at.is_(None)))


def _id_sets(ids: list[int]):
    """Conditions selecting exactly these notice ids: one range when they are consecutive."""
    ids = sorted(ids)
    if ids and ids[-1] - ids[0] + 1 == len(ids):  # unique ids filling the range: all ours
        yield _NOTICES.c.id.between(ids[0], ids[-1])
        return
    for chunk in chunks(ids):
        yield _NOTICES.c.id.in_(chunk)
