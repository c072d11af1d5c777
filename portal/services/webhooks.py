"""Lifecycle webhooks: registration, the outbox of events, and its filling from the audit log.

Requests never call a webhook, nor even write its outbox: the issuance and revocation paths
already write an audit event in their own transaction, and the notification job turns the
audit events after its cursor into deliveries (webhook_deliveries), which it then sends
(webhook_delivery.py). So a slow or dead receiver can delay only the job, never a request.
"""

import base64
import binascii
import json
import re
import secrets
from datetime import datetime, timedelta
from urllib.parse import urlsplit

from flask import current_app
from sqlalchemy import func, insert, select, update
from sqlalchemy.exc import IntegrityError

from ..clock import iso_utc
from ..errors import InvalidInput, NotFound
from ..extensions import db
from ..models import (
    DELIVERY_FAILED,
    DELIVERY_PENDING,
    AuditEvent,
    Certificate,
    CertificateAuthority,
    NotifyState,
    Webhook,
    WebhookDelivery,
    utcnow,
)
from ..translatable import N_
from . import audit

EVENT_ISSUED = "certificate.issued"
EVENT_REVOKED = "certificate.revoked"
EVENT_EXPIRING = "certificate.expiring"
EVENT_CRL = "crl.published"
EVENT_CA_KEY = "ca.key_unusable"
EVENTS = (EVENT_ISSUED, EVENT_REVOKED, EVENT_EXPIRING, EVENT_CRL, EVENT_CA_KEY)
# the audit actions that become events, and the outcome that counts
AUDIT_EVENTS = {"certificate.issue": EVENT_ISSUED, "certificate.revoke": EVENT_REVOKED,
                "crl.publish": EVENT_CRL}
STATE_CURSOR = "webhook-cursor"
BATCH = 1000
MIN_SECRET_BYTES = 16
_CRL_DETAIL = re.compile(
    r"^CA (?P<ca>.+?): CRL number (?P<number>\d+), (?P<entries>\d+) entries, "
    r"next update (?P<next_update>\S+)$")


def check_url(url: str) -> str:
    """An http(s) URL with a host, nothing else (no file:, no credentials in a log line)."""
    url = (url or "").strip()
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018  (raises on a port that is not a number)
    except ValueError:
        raise InvalidInput(N_("not a valid URL: %(url)r"), field="url",
            url=url[:100]) from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InvalidInput(N_("a webhook URL is http:// or https:// with a host"), field="url")
    if len(url) > 2048 or any(ch.isspace() for ch in url):
        raise InvalidInput(N_("a webhook URL has at most 2048 characters and no spaces"),
                           field="url")
    return url


def check_events(events) -> list[str]:
    """The event types asked for, known and without repeats ("all": every one)."""
    wanted = [name.strip() for text in events for name in str(text).split(",") if name.strip()]
    if "all" in wanted:
        return list(EVENTS)
    unknown = [name for name in wanted if name not in EVENTS]
    if unknown or not wanted:
        raise InvalidInput(N_("events are one or more of %(values)s (or all)"),
                           field="events",
            values=', '.join(EVENTS))
    return list(dict.fromkeys(wanted))


def secret_key(secret: str) -> bytes:
    """The HMAC key of a Standard Webhooks secret ("whsec_" + base64)."""
    return base64.b64decode(secret.removeprefix("whsec_"), validate=True)


def check_secret(text: str | None) -> str:
    """A secret as given (whsec_<base64> or bare base64), normalised; a new one when None."""
    if text is None:
        return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()
    text = text.strip()
    try:
        key = secret_key(text)
    except (binascii.Error, ValueError):
        raise InvalidInput(N_("the secret is whsec_ followed by base64 (Standard Webhooks)"),
                           field="secret") from None
    if len(key) < MIN_SECRET_BYTES:
        raise InvalidInput(N_("the secret must hold at least %(min_secret_bytes)s bytes"),
                           field="secret",
            min_secret_bytes=MIN_SECRET_BYTES)
    return "whsec_" + base64.b64encode(key).decode()


def state_row(name: str, *, position: int = 0, ok: bool = True) -> NotifyState:
    """The job's state row of this name, made (and committed) when missing.

    Several hosts may make it at once: the loser of the insert reads the winner's row.
    """
    state = db.session.get(NotifyState, name)
    if state is None:
        try:
            db.session.add(NotifyState(name=name, ok=ok, detail="", position=position,
                                       updated_at=utcnow()))
            db.session.commit()
        except IntegrityError:
            db.session.rollback()
        state = db.session.get(NotifyState, name)
    return state


def add_webhook(url: str, events, *, secret: str | None = None, actor: str) -> Webhook:
    """Register a URL for some events; its secret (generated when none is given) is kept."""
    row = Webhook(url=check_url(url), events=",".join(check_events(events)),
                  secret=check_secret(secret), created_by=actor[:128], created_at=utcnow())
    if db.session.get(NotifyState, STATE_CURSOR) is None:
        # events start from now: the history before the first webhook is not replayed
        state_row(STATE_CURSOR, position=db.session.scalar(select(func.max(AuditEvent.id))) or 0)
    db.session.add(row)
    db.session.flush()
    audit.record("webhook.add", actor=actor, detail=f"#{row.id} {row.url} ({row.events})")
    db.session.commit()
    return row


def list_webhooks() -> list[Webhook]:
    """Every registered webhook, oldest first."""
    return list(db.session.scalars(select(Webhook).order_by(Webhook.id)))


def remove_webhook(webhook_id: int, *, actor: str) -> Webhook:
    """Unregister a webhook; its pending deliveries go with it."""
    row = db.session.get(Webhook, webhook_id)
    if row is None:
        raise NotFound(N_("no webhook #%(webhook_id)s"), field="id",
            webhook_id=webhook_id)
    db.session.execute(WebhookDelivery.__table__.delete().where(
        WebhookDelivery.webhook_id == row.id))
    db.session.delete(row)
    audit.record("webhook.remove", actor=actor, detail=f"#{row.id} {row.url}")
    db.session.commit()
    return row


def subscribers(event_type: str) -> list[Webhook]:
    """The webhooks registered for an event type."""
    return [row for row in list_webhooks() if event_type in row.events.split(",")]



def payload(event_type: str, data: dict, at: datetime | None = None) -> str:
    """The JSON body of an event, in the Standard Webhooks shape (type, timestamp, data)."""
    return json.dumps({"type": event_type, "timestamp": iso_utc(at or utcnow()), "data": data},
                      separators=(",", ":"), sort_keys=True)


def enqueue(event_type: str, data: dict, *, message_id: str, at: datetime | None = None,
            hooks: list[Webhook] | None = None) -> int:
    """Add one delivery per subscribed webhook to the session (the caller commits)."""
    return enqueue_many(event_type, [(data, message_id)], at=at, hooks=hooks)


def enqueue_many(event_type: str, events: list[tuple[dict, str]], *,
                 at: datetime | None = None, hooks: list[Webhook] | None = None) -> int:
    """enqueue() for several (data, message id) events of one type, in one INSERT."""
    hooks = subscribers(event_type) if hooks is None else hooks
    now = utcnow()
    rows = [{"webhook_id": hook.id, "message_id": message_id, "event_type": event_type,
             "payload": body, "status": DELIVERY_PENDING, "attempts": 0,
             "next_attempt_at": now, "created_at": now}
            for body, message_id in ((payload(event_type, data, at), message_id)
                                     for data, message_id in events)
            for hook in hooks]
    if rows:
        db.session.execute(insert(WebhookDelivery), rows)
    return len(rows)


def certificate_data(row: Certificate) -> dict:
    """What an event says about a certificate."""
    return {
        "serial": row.serial, "subject": row.subject, "common_name": row.common_name,
        "sans": [text for text in row.sans.split(", ") if text], "profile": row.profile,
        "ca": row.ca.name, "status": row.status, "not_before": iso_utc(row.not_before),
        "not_after": iso_utc(row.not_after), "fingerprint_sha256": row.fingerprint_sha256,
        "owner": row.owner.username if row.owner else None,
        "revoked_at": iso_utc(row.revoked_at), "revocation_reason": row.revocation_reason,
    }


def expiring_data(item) -> dict:
    """What a certificate.expiring event says (item: notify.Due)."""
    return {"serial": item.serial, "subject": item.subject, "ca": item.ca,
            "not_after": iso_utc(item.not_after), "days_before": item.threshold}


def _event_data(event: AuditEvent) -> dict | None:
    if event.action == "crl.publish":
        match = _CRL_DETAIL.match(event.detail or "")
        if match is None:
            return None
        return {"ca": match["ca"], "number": int(match["number"]),
                "entries": int(match["entries"]), "next_update": match["next_update"]}
    row = db.session.scalar(select(Certificate).filter_by(serial=event.serial)
                            .order_by(Certificate.id.desc()).limit(1))
    return certificate_data(row) if row is not None else None


def _fan_out(report, event: AuditEvent, hooks: list[Webhook]) -> None:
    event_type = AUDIT_EVENTS.get(event.action)
    if event_type is None or event.outcome != "ok":
        return
    targets = [hook for hook in hooks
               if event_type in hook.events.split(",") and hook.created_at <= event.at]
    data = _event_data(event) if targets else None
    if data is not None:
        report.webhook_events += enqueue(event_type, data, message_id=f"msg_audit_{event.id}",
                                         at=event.at, hooks=targets)


def _settled(events: list[AuditEvent]) -> list[AuditEvent]:
    """The events up to the first one too young to be sure no lower id is still uncommitted.

    On PostgreSQL ids come from a sequence, and a transaction may commit after one that took
    a higher id: the cursor would then pass its event for good. Events younger than
    PORTAL_WEBHOOK_SETTLE_SECONDS wait for the next run. SQLite commits one writer at a time.
    """
    if db.engine.dialect.name == "sqlite":
        return events
    cutoff = utcnow() - timedelta(seconds=int(current_app.config["PORTAL_WEBHOOK_SETTLE_SECONDS"]))
    for index, event in enumerate(events):
        if event.at > cutoff:
            return events[:index]
    return events


def collect_events(report) -> None:
    """Turn the audit events after the cursor into deliveries; safe on several hosts at once."""
    hooks = list_webhooks()
    while True:
        state = db.session.get(NotifyState, STATE_CURSOR)
        if state is None:
            break
        start = state.position
        events = _settled(list(db.session.scalars(
            select(AuditEvent).where(AuditEvent.id > start).order_by(AuditEvent.id).limit(BATCH))))
        if not events:
            break
        try:
            for event in events:
                _fan_out(report, event, hooks)
            # compare-and-set: a host that moved the cursor first has queued these very events
            moved = db.session.execute(
                update(NotifyState).where(NotifyState.name == STATE_CURSOR,
                                          NotifyState.position == start)
                .values(position=events[-1].id, updated_at=utcnow())).rowcount
        except IntegrityError:  # another host queued them first
            moved = 0
        if not moved:
            db.session.rollback()
            break
        db.session.commit()
    check_ca_keys(report, hooks)


def check_ca_keys(report, hooks: list[Webhook]) -> None:
    """A ca.key_unusable event when a CA's key stops being usable (once, until it recovers)."""
    from .authorities import key_usable
    from .secrets import ca_secret

    secret_present = ca_secret() is not None
    for ca in db.session.scalars(select(CertificateAuthority)):
        usable, why = key_usable(ca) if secret_present else (False, "the CA secret is missing")
        state = state_row(f"ca-key:{ca.id}")
        if usable == state.ok:
            continue
        state.ok, state.detail, state.updated_at = usable, "" if usable else why, utcnow()
        if not usable:
            state.position += 1
            targets = [hook for hook in hooks if EVENT_CA_KEY in hook.events.split(",")]
            report.webhook_events += enqueue(
                EVENT_CA_KEY, {"ca": ca.name, "error": why},
                message_id=f"msg_cakey_{ca.id}_{state.position}", hooks=targets)
        try:
            db.session.commit()
        except IntegrityError:  # another host recorded the same change
            db.session.rollback()
    db.session.commit()


def delivery_health() -> dict:
    """Deliveries failing (being retried) or given up, and the latest error."""
    table = WebhookDelivery.__table__.c
    failing = db.session.scalar(select(func.count()).select_from(WebhookDelivery).where(
        table.status == DELIVERY_PENDING, table.attempts > 0)) or 0
    failed = db.session.scalar(select(func.count()).select_from(WebhookDelivery).where(
        table.status == DELIVERY_FAILED)) or 0
    last = db.session.execute(select(table.last_error, table.webhook_id).where(
        table.last_error.is_not(None), table.status != "delivered")
        .order_by(table.id.desc()).limit(1)).first()
    report = {"ok": not failing and not failed, "retrying": failing, "failed": failed}
    if last is not None:
        report["last_error"] = f"webhook #{last.webhook_id}: {last.last_error}"
    return report


def recent_deliveries(limit: int = 50) -> list[WebhookDelivery]:
    """The latest deliveries, newest first (for the admin page)."""
    return list(db.session.scalars(
        select(WebhookDelivery).order_by(WebhookDelivery.id.desc()).limit(limit)))
