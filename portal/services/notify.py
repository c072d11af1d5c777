"""Expiry warnings by e-mail, sent once per certificate and threshold, and the job that runs them.

`run_once` is what `portal notify run` (cron, a systemd timer) and `portal serve`'s periodic
thread call. Several hosts may run it at once: every warning is claimed by inserting its row in
expiry_notices (unique per certificate, threshold and channel) before the mail goes out, and a
failed send deletes the claim, so that the warning is sent by the next run instead of lost.
"""

import threading
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import (
    and_,
    bindparam,
    case,
    delete,
    exists,
    false,
    insert,
    or_,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError

from ..extensions import db
from ..models import (
    NOTICE_ADMINS,
    NOTICE_OWNER,
    NOTICE_WEBHOOK,
    ROLE_ADMIN,
    STATUS_ISSUED,
    Certificate,
    CertificateAuthority,
    ExpiryNotice,
    User,
    utcnow,
)
from . import audit, webhook_delivery, webhooks
from .expiry_mail import digest_message, owner_message
from .mailer import Mailer, MailError, RecipientsRefused, settings_from_config

SHORT_LIVED = timedelta(days=14)  # ACME-style certificates: renewed by their automation
STALE_CLAIM = timedelta(minutes=15)  # a claim never marked sent: its host died mid-send
CHUNK = 500  # ids per IN (...) list
ACTOR = "notify"
STATE_MAIL = "mail"


@dataclass(frozen=True)
class Due:
    """A certificate due for a warning at one threshold."""

    id: int
    serial: str
    subject: str
    ca: str
    not_after: datetime
    owner_id: int | None
    threshold: int
    common_name: str | None = None
    sans: str = ""


@dataclass
class RunReport:
    """What one run did, and what went wrong (each problem one line fit for a log)."""

    mails: int = 0
    warned: int = 0
    webhook_events: int = 0
    delivered: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """Whether the run had nothing to complain about."""
        return not self.problems


def parse_thresholds(text: str) -> tuple[int, ...]:
    """PORTAL_NOTIFY_DAYS ("30,14,7,3,1") as distinct positive days, smallest first."""
    days = set()
    for part in str(text).split(","):
        if part.strip():
            value = int(part)
            if value < 1:
                raise ValueError("PORTAL_NOTIFY_DAYS: each threshold is at least 1 day")
            days.add(value)
    return tuple(sorted(days))


def _chunks(values: list, size: int = CHUNK):
    for start in range(0, len(values), size):
        yield values[start:start + size]


def due_selection(now: datetime, thresholds: tuple[int, ...], *, owners: bool = True,
                  admins: bool = True, hooks: bool = True):
    """Issued certificates in the warning window lacking a notice on a channel asked for.

    A notice lacks at the certificate's current threshold. The window is read by the
    (status, not_after) index, and each row's notices by the unique (certificate, threshold,
    channel) index: once every one is warned, a run reads no certificate row into Python.
    """
    table = Certificate.__table__.c
    notices = ExpiryNotice.__table__.c
    people = User.__table__.c
    threshold = case(*[(table.not_after <= now + timedelta(days=days), days)
                       for days in thresholds])

    def lacking(channel: str):
        return ~exists().where(notices.certificate_id == table.id,
                               notices.threshold_days == threshold, notices.channel == channel)

    wanted = []
    if owners:
        wanted.append(and_(lacking(NOTICE_OWNER), exists().where(
            people.id == table.owner_id, people.active.is_(True), people.email.is_not(None),
            people.email != "")))
    if admins:
        wanted.append(lacking(NOTICE_ADMINS))
    if hooks:
        wanted.append(lacking(NOTICE_WEBHOOK))
    return (
        select(table.id, table.serial, table.subject, table.sans, table.common_name,
               table.profile, table.not_before, table.not_after, table.owner_id, table.ca_id)
        .where(table.status == STATUS_ISSUED, table.not_after > now,
               table.not_after <= now + timedelta(days=thresholds[-1]),
               or_(*wanted) if wanted else false())
    )


def due_certificates(now: datetime, thresholds: tuple[int, ...], **channels) -> list[Due]:
    """Certificates due for a warning on some channel (see due_selection), not short-lived."""
    if not thresholds:
        return []
    rows = db.session.execute(due_selection(now, thresholds, **channels)).all()
    short_lived_ok = {
        name.strip() for name in
        str(current_app.config["PORTAL_NOTIFY_SHORT_LIVED_PROFILES"]).split(",") if name.strip()
    }
    ca_names = dict(db.session.execute(
        select(CertificateAuthority.id, CertificateAuthority.name)).all())
    limits = [(timedelta(days=days), days) for days in thresholds]
    due = []
    for row in rows:
        if row.not_after - row.not_before < SHORT_LIVED and row.profile not in short_lived_ok:
            continue
        left = row.not_after - now
        threshold = next(days for limit, days in limits if left <= limit)
        due.append(Due(id=row.id, serial=row.serial, subject=row.subject,
                       ca=ca_names.get(row.ca_id, "?"), not_after=row.not_after,
                       owner_id=row.owner_id, threshold=threshold,
                       common_name=row.common_name, sans=row.sans))
    due.sort(key=lambda item: (item.not_after, item.id))
    return due


def not_renewed(items: list[Due], now: datetime) -> list[Due]:
    """The items for which no newer valid certificate has the same names and owner.

    Reads only the certificates with the same common name (indexed) as one of the items, or
    for items without one, the same owner's certificates without one.
    """
    table = Certificate.__table__.c
    columns = (table.id, table.subject, table.sans, table.owner_id, table.not_after)
    valid = (table.status == STATUS_ISSUED, table.not_before <= now, table.not_after > now)
    candidates = []
    names = sorted({item.common_name for item in items if item.common_name})
    for chunk in _chunks(names):
        candidates += db.session.execute(
            select(*columns).where(table.common_name.in_(chunk), *valid)).all()
    owners = sorted({item.owner_id for item in items if not item.common_name and item.owner_id})
    for chunk in _chunks(owners):
        candidates += db.session.execute(
            select(*columns).where(table.common_name.is_(None), table.owner_id.in_(chunk),
                                   *valid)).all()
    latest: dict[tuple, datetime] = {}
    for candidate in candidates:
        key = (candidate.subject, candidate.sans, candidate.owner_id)
        if key not in latest or candidate.not_after > latest[key]:
            latest[key] = candidate.not_after
    return [item for item in items
            if latest.get((item.subject, item.sans, item.owner_id), item.not_after)
            <= item.not_after]


def _already_noticed(ids: list[int]) -> set[tuple[int, int, str]]:
    found: set[tuple[int, int, str]] = set()
    table = ExpiryNotice.__table__.c
    for chunk in _chunks(ids):
        found.update(tuple(row) for row in db.session.execute(
            select(table.certificate_id, table.threshold_days, table.channel)
            .where(table.certificate_id.in_(chunk))
        ).all())
    return found


_INSERT_NOTICE = insert(ExpiryNotice.__table__)  # Core: the ORM's bulk path costs ~10x more


def _claim(items: list[Due], channel: str, now: datetime, *, sent: bool = False) -> list[Due]:
    """Insert and commit the notice rows of these items; return the items this run now owns.

    Another host that claimed some of the same rows first makes the insert fail: its rows are
    then left to it and the rest are claimed one by one.
    """
    if not items:
        return []
    values = [{"certificate_id": item.id, "threshold_days": item.threshold, "channel": channel,
               "claimed_at": now, "sent_at": now if sent else None} for item in items]
    try:
        db.session.execute(_INSERT_NOTICE, values)
        db.session.commit()
        return items
    except IntegrityError:
        db.session.rollback()
    owned = []
    for item, row in zip(items, values, strict=True):
        try:
            db.session.execute(_INSERT_NOTICE, [row])
            db.session.commit()
            owned.append(item)
        except IntegrityError:
            db.session.rollback()
    return owned


_UNSENT = ExpiryNotice.__table__.c
_UNSENT_WHERE = (
    _UNSENT.certificate_id == bindparam("cid"), _UNSENT.threshold_days == bindparam("days"),
    _UNSENT.channel == bindparam("ch"), _UNSENT.sent_at.is_(None),
)


def _settle(items: list[Due], channel: str, *, sent: bool) -> None:
    """Mark claimed notices sent, or delete the claims so that the next run sends them."""
    keys = [{"cid": item.id, "days": item.threshold, "ch": channel} for item in items]
    if sent:
        statement = update(ExpiryNotice.__table__).where(*_UNSENT_WHERE).values(sent_at=utcnow())
    else:
        statement = delete(ExpiryNotice.__table__).where(*_UNSENT_WHERE)
    db.session.execute(statement, keys)


def _mail_state(ok: bool, detail: str) -> None:
    state = webhooks.state_row(STATE_MAIL)
    state.ok, state.detail, state.updated_at = ok, detail[:2000], utcnow()


def send_expiry_warnings(report: RunReport, now: datetime | None = None) -> None:
    """Claim and send this run's warnings: one mail per owner, one digest for the admins."""
    now = now or utcnow()
    config = current_app.config
    db.session.execute(delete(ExpiryNotice).where(
        ExpiryNotice.sent_at.is_(None), ExpiryNotice.claimed_at < now - STALE_CLAIM))
    admins = list(db.session.scalars(select(User.email).where(
        User.role == ROLE_ADMIN, User.active.is_(True), User.email.is_not(None), User.email != "")))
    hooks = bool(webhooks.subscribers(webhooks.EVENT_EXPIRING))
    due = due_certificates(now, parse_thresholds(config["PORTAL_NOTIFY_DAYS"]),
                           admins=bool(admins), hooks=hooks)
    noticed = _already_noticed([item.id for item in due])
    # plain values: a commit expires ORM objects, and reading one again costs a SELECT
    owners = {row.id: row for row in db.session.execute(
        select(User.id, User.username, User.email, User.active)
        .where(User.id.in_({item.owner_id for item in due if item.owner_id}))).all()}

    def wanted(item: Due, channel: str) -> bool:
        if (item.id, item.threshold, channel) in noticed:
            return False
        if channel == NOTICE_OWNER:
            owner = owners.get(item.owner_id)
            return owner is not None and owner.active and bool(owner.email)
        return bool(admins) if channel == NOTICE_ADMINS else hooks

    channels = (NOTICE_OWNER, NOTICE_ADMINS, NOTICE_WEBHOOK)
    # the renewal check reads more rows: only for what would be sent (usually nothing)
    candidates = not_renewed([item for item in due
                              if any(wanted(item, channel) for channel in channels)], now)
    pending = {channel: [item for item in candidates if wanted(item, channel)]
               for channel in channels}

    if pending[NOTICE_WEBHOOK]:
        # the notice is a marker; the delivery's unique message id is what dedupes the event
        for item in _claim(pending[NOTICE_WEBHOOK], NOTICE_WEBHOOK, now, sent=True):
            report.webhook_events += webhooks.enqueue(
                webhooks.EVENT_EXPIRING, webhooks.expiring_data(item),
                message_id=f"msg_expiring_{item.id}_{item.threshold}d")
        db.session.commit()

    by_owner: dict[int, list[Due]] = defaultdict(list)
    for item in pending[NOTICE_OWNER]:
        by_owner[item.owner_id].append(item)
    digest = pending[NOTICE_ADMINS]
    if not by_owner and not digest:
        _mail_state(True, "nothing to send")
        db.session.commit()
        return
    try:
        smtp = settings_from_config(config)
    except MailError as exc:
        smtp, problem = None, exc.message
    else:
        problem = "no SMTP server is configured (PORTAL_SMTP_URL)" if smtp is None else None
    if smtp is None:
        waiting = sum(map(len, by_owner.values())) + len(digest)
        _fail(report, f"{problem}: {waiting} expiry warning(s) wait for the next run")
        return

    base = config["PORTAL_WEB_URL"].rstrip("/")
    problems_before = len(report.problems)
    with Mailer(smtp) as mailer:
        for owner_id, items in by_owner.items():
            owner = owners[owner_id]
            subject, body = owner_message(owner, items, base)
            if not _send(report, mailer, [owner.email], subject, body, items, NOTICE_OWNER, now):
                return
        if digest:
            subject, body = digest_message(digest, base)
            if not _send(report, mailer, admins, subject, body, digest, NOTICE_ADMINS, now):
                return
    if len(report.problems) == problems_before:
        _mail_state(True, f"sent {report.mails} mail(s) at {now:%Y-%m-%dT%H:%M:%SZ}")
        db.session.commit()


def _send(report: RunReport, mailer: Mailer, to: list[str], subject: str, body: str,
          items: list[Due], channel: str, now: datetime) -> bool:
    """Claim, send and record one mail; False when mail is failing (stop for this run)."""
    items = _claim(items, channel, now)
    if not items:
        return True
    try:
        refused = mailer.send(to, subject, body)
    except MailError as exc:
        _settle(items, channel, sent=False)
        db.session.commit()
        _fail(report, f"{exc.message}: the expiry warnings are sent on the next run")
        # a refused address concerns this mail only: the others still go out
        return isinstance(exc, RecipientsRefused)
    _settle(items, channel, sent=True)
    serials = ", ".join(f"{item.serial} ({item.threshold}d)" for item in items)
    audit.record("notify.mail", actor=ACTOR, serial=items[0].serial if len(items) == 1 else None,
                 detail=f"expiry warning ({channel}) to {', '.join(to)}: {serials}")
    db.session.commit()
    report.mails += 1
    report.warned += len(items)
    if refused:
        _fail(report, f"the SMTP server refused {', '.join(refused)}; the other recipients "
                      "got the mail")
    return True


def _fail(report: RunReport, problem: str) -> None:
    current_app.logger.error("portal notify: %s", problem)
    report.problems.append(problem)
    db.session.rollback()
    _mail_state(False, problem)
    audit.record("notify.mail", actor=ACTOR, outcome="error", detail=problem)
    db.session.commit()


def run_once() -> RunReport:
    """One run of the job: expiry warnings, then webhook events and their deliveries."""
    report = RunReport()
    send_expiry_warnings(report)
    webhooks.collect_events(report)
    webhook_delivery.deliver_due(report)
    return report


def run_periodically(app, stop: threading.Event | None = None) -> None:
    """`portal serve`'s thread: run the job every PORTAL_NOTIFY_INTERVAL seconds (0: never)."""
    interval = int(app.config["PORTAL_NOTIFY_INTERVAL"])
    if interval <= 0:
        return
    stop = stop or threading.Event()
    while not stop.wait(interval):
        try:
            with app.app_context():
                report = run_once()
                db.session.remove()
            for problem in report.problems:
                app.logger.warning("portal notify: %s", problem)
        except Exception:  # the thread must outlive a database hiccup
            app.logger.exception("portal notify: the periodic run failed")
