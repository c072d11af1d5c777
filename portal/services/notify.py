"""Expiry warnings by e-mail, sent once per certificate and threshold, and the job that runs them.

`run_once` is what `portal notify run` (cron, a systemd timer) and `portal serve`'s periodic
thread call. Several hosts may run it at once: every warning is claimed in its row of
expiry_notices (one per certificate and threshold, a claim per channel) before the mail goes
out, all of a run's claims in one statement (notify_claims.py). The mails then go out over one
SMTP connection, and one transaction records what the server accepted: a claim whose mail was
not accepted is emptied, so that the next run sends the warning instead of losing it.
"""

import threading
import time
from dataclasses import dataclass, field
from datetime import datetime

from flask import current_app
from sqlalchemy import select

from ..extensions import db
from ..models import NOTICE_ADMINS, NOTICE_OWNER, NOTICE_WEBHOOK, ROLE_ADMIN, User, utcnow
from . import audit, notify_claims, webhook_delivery, webhooks
from .expiry_mail import ExpiryTexts, digest_message, owner_message
from .mail_language import recipient_language, translations_for
from .mailer import Mailer, MailError, RecipientsRefused, settings_from_config
from .notify_due import Due, due_certificates, due_selection

__all__ = ["Due", "RunReport", "due_selection", "parse_thresholds", "run_once",
           "run_periodically", "send_expiry_warnings"]

ACTOR = "notify"
STATE_MAIL = "mail"


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


@dataclass
class _Mail:
    """One mail of a run: its recipients, the warnings it carries and their claimed notices."""

    to: list[str]
    channel: str
    items: list[Due]
    owner: object = None  # the owner's row, for an owner's mail
    notices: list[int] = field(default_factory=list)  # the claimed notices' ids
    accepted: bool = False
    refused: dict = field(default_factory=dict)


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


def _mail_state(ok: bool, detail: str) -> None:
    state = webhooks.state_row(STATE_MAIL)
    state.ok, state.detail, state.updated_at = ok, detail[:2000], utcnow()


def send_expiry_warnings(report: RunReport, now: datetime | None = None) -> None:
    """Claim and send this run's warnings: one mail per owner, one digest for the admins."""
    now = now or utcnow()
    config = current_app.config
    webhooks.state_row(STATE_MAIL)  # made now if missing: it commits
    notify_claims.forget_stale(now)
    admins = list(db.session.scalars(select(User.email).where(
        User.role == ROLE_ADMIN, User.active.is_(True), User.email.is_not(None), User.email != "")))
    hooks = webhooks.subscribers(webhooks.EVENT_EXPIRING)
    due = due_certificates(now, parse_thresholds(config["PORTAL_NOTIFY_DAYS"]),
                           admins=bool(admins), hooks=bool(hooks))
    candidates = [item for item in due if item.channels]
    if not candidates:
        _mail_state(True, "nothing to send")
        db.session.commit()
        return
    # plain values: a commit expires ORM objects, and reading one again costs a SELECT
    owners = {row.id: row for row in db.session.execute(
        select(User.id, User.username, User.email, User.language)
        .where(User.id.in_({item.owner_id for item in candidates if item.owner_id}))).all()}
    mailed = sum(len(item.channels - {NOTICE_WEBHOOK}) for item in candidates)
    smtp, problem = None, None
    if mailed:
        try:
            smtp = settings_from_config(config)
        except MailError as exc:
            problem = exc.message
        else:
            problem = "no SMTP server is configured (PORTAL_SMTP_URL)" if smtp is None else None
    if smtp is None:  # only the webhook markers are claimed
        candidates = [item._replace(channels=item.channels & {NOTICE_WEBHOOK})
                      for item in candidates if NOTICE_WEBHOOK in item.channels]

    token = notify_claims.new_token()
    owned = notify_claims.claim(candidates, now, token)
    # the notice is a marker; the delivery's unique message id dedupes the event
    report.webhook_events += webhooks.enqueue_many(webhooks.EVENT_EXPIRING, [
        (webhooks.expiring_data(item), f"msg_expiring_{item.id}_{item.threshold}d")
        for item in candidates
        if NOTICE_WEBHOOK in owned.get((item.id, item.threshold), (0, ()))[1]],
        hooks=hooks)
    db.session.commit()
    if problem:
        _report_problem(report, f"{problem}: {mailed} expiry warning(s) wait for the next run")
        db.session.commit()
        return

    mails = _mails(candidates, owned, owners, admins)
    if not mails:
        _mail_state(True, "nothing to send")
        db.session.commit()
        return
    problems = _send_all(smtp, mails, config["PORTAL_WEB_URL"].rstrip("/"), token)
    _record(report, mails, problems, now, token)


def _mails(candidates: list[Due], owned: dict, owners: dict, admins: list[str]) -> list[_Mail]:
    """The run's mails, each with the warnings it owns: one per owner, then the digest."""
    by_owner: dict[int, _Mail] = {}
    digest = _Mail(to=admins, channel=NOTICE_ADMINS, items=[])
    for item in candidates:
        notice, channels = owned.get((item.id, item.threshold), (None, ()))
        if not channels:
            continue  # another host claimed it first: its mail
        if NOTICE_OWNER in channels:
            owner = owners.get(item.owner_id)
            if owner is not None:
                mail = by_owner.get(item.owner_id)
                if mail is None:
                    mail = by_owner[item.owner_id] = _Mail(
                        to=[owner.email], channel=NOTICE_OWNER, items=[], owner=owner)
                mail.items.append(item)
                mail.notices.append(notice)
        if NOTICE_ADMINS in channels:
            digest.items.append(item)
            digest.notices.append(notice)
    return list(by_owner.values()) + ([digest] if digest.items else [])


def _translations(saved: str | None):
    """The catalogue for a recipient: their saved language if offered, else the default."""
    config = current_app.config
    offered = current_app.extensions.get("portal.languages") or [config["PORTAL_DEFAULT_LANGUAGE"]]
    return translations_for(recipient_language(saved, offered,
                                               config["PORTAL_DEFAULT_LANGUAGE"]))


def _send_all(smtp, mails: list[_Mail], base: str, token: int) -> list[str]:
    """Send the mails over one SMTP connection; the problems (mail stops at the first failure).

    Each mail's `accepted` says whether the server took it: only those are recorded as sent.
    """
    problems = []
    notices = [notice for mail in mails for notice in mail.notices]
    keep_until = time.monotonic() + notify_claims.KEEP_CLAIMS.total_seconds()
    now, texts = utcnow(), {}  # the run's expiry texts, by catalogue
    with Mailer(smtp) as mailer:
        for mail in mails:
            if time.monotonic() >= keep_until:  # a long run: other hosts must not resend
                notify_claims.keep(notices, utcnow(), token)
                db.session.commit()
                keep_until = time.monotonic() + notify_claims.KEEP_CLAIMS.total_seconds()
            # one mail to every admin: the portal's default language
            t = _translations(mail.owner.language if mail.channel == NOTICE_OWNER else None)
            when = texts.get(id(t)) or texts.setdefault(id(t), ExpiryTexts(t, now))
            if mail.channel == NOTICE_OWNER:
                subject, body = owner_message(mail.owner, mail.items, base, t, when=when)
            else:
                subject, body = digest_message(mail.items, base, t, when=when)
            try:
                mail.refused = mailer.send(mail.to, subject, body)
            except RecipientsRefused as exc:
                # a refused address concerns this mail only: the others still go out
                problems.append(f"{exc.message}: the expiry warnings are sent on the next run")
                continue
            except MailError as exc:
                problems.append(f"{exc.message}: the expiry warnings are sent on the next run")
                break
            mail.accepted = True
            if mail.refused:
                problems.append(f"the SMTP server refused {', '.join(mail.refused)}; the other "
                                "recipients got the mail")
    return problems


def _record(report: RunReport, mails: list[_Mail], problems: list[str], now: datetime,
            token: int) -> None:
    """One transaction: the accepted mails' claims marked sent, the others' emptied."""
    notify_claims.settle([(mail.channel, mail.notices, mail.accepted) for mail in mails],
                         utcnow(), token)
    events = []
    for mail in mails:
        if not mail.accepted:
            continue
        items = mail.items
        serials = ", ".join(f"{item.serial} ({item.threshold}d)" for item in items)
        events.append(audit.event_row(
            "notify.mail", actor=ACTOR, serial=items[0].serial if len(items) == 1 else None,
            detail=f"expiry warning ({mail.channel}) to {', '.join(mail.to)}: {serials}"))
        report.mails += 1
        report.warned += len(items)
    audit.record_rows(events)
    for problem in problems:
        _report_problem(report, problem)
    if not problems:
        _mail_state(True, f"sent {report.mails} mail(s) at {now:%Y-%m-%dT%H:%M:%SZ}")
    db.session.commit()


def _report_problem(report: RunReport, problem: str) -> None:
    current_app.logger.error("portal notify: %s", problem)
    report.problems.append(problem)
    _mail_state(False, problem)
    audit.record("notify.mail", actor=ACTOR, outcome="error", detail=problem)


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
