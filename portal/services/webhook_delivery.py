"""Sending the webhook outbox: signed POSTs, timeouts, same-origin redirects only, backoff.

The HTTP calls run in a few threads that touch no database; the job's own thread claims the
due deliveries first (so that two hosts never send the same attempt) and records the outcome.
"""

import base64
import hashlib
import hmac
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import timedelta
from urllib.parse import urlsplit

from flask import current_app
from sqlalchemy import select, update

from ..extensions import db
from ..models import (
    DELIVERY_DELIVERED,
    DELIVERY_FAILED,
    DELIVERY_PENDING,
    Webhook,
    WebhookDelivery,
    utcnow,
)
from . import audit

THREADS = 8
MAX_PER_RUN = 1000
MAX_BACKOFF = timedelta(hours=6)
KEEP = timedelta(days=30)  # delivered rows are kept this long for the admin page
MAX_REDIRECTS = 3
RESPONSE_LIMIT = 64 * 1024
USER_AGENT = "portal-webhooks/1"


class DeliveryError(Exception):
    """An attempt that did not get a 2xx answer; the message says why."""


def sign(secret: str, message_id: str, timestamp: int, body: bytes) -> str:
    """The Standard Webhooks webhook-signature value: v1,base64(HMAC-SHA256(id.ts.body))."""
    key = base64.b64decode(secret.removeprefix("whsec_"))
    signed = f"{message_id}.{timestamp}.".encode() + body
    return "v1," + base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()


class _SameOriginRedirects(urllib.request.HTTPRedirectHandler):
    """Follow 307/308 to the same scheme, host and port (method and body kept); refuse others."""

    max_redirections = MAX_REDIRECTS

    def redirect_request(self, req, fp, code, msg, headers, newurl):
        """The repeated POST, or a DeliveryError for any other redirect."""
        old, new = urlsplit(req.full_url), urlsplit(newurl)
        fp.close()
        if code not in (307, 308):
            raise DeliveryError(f"answered {code} (redirect to {newurl[:200]}): not followed")
        if (old.scheme, old.hostname, old.port) != (new.scheme, new.hostname, new.port):
            raise DeliveryError(f"redirected to another host ({newurl[:200]}): not followed")
        return urllib.request.Request(newurl, data=req.data, method=req.get_method(),
                                      headers=dict(req.header_items()))


_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}), _SameOriginRedirects())


def post(url: str, secret: str, message_id: str, body: str, timeout: float) -> int:
    """One signed POST; the status code of a 2xx answer, or DeliveryError."""
    data = body.encode()
    timestamp = int(time.time())
    request = urllib.request.Request(url, data=data, method="POST", headers={
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        "webhook-id": message_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": sign(secret, message_id, timestamp, data),
    })
    try:
        with _OPENER.open(request, timeout=timeout) as response:
            response.read(RESPONSE_LIMIT)
            return response.status
    except urllib.error.HTTPError as exc:
        exc.close()
        raise DeliveryError(f"answered {exc.code} {exc.reason}"[:300]) from None
    except (TimeoutError, urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        if isinstance(reason, TimeoutError) or isinstance(exc, TimeoutError):
            raise DeliveryError(f"no answer within {timeout:g} s (timed out)") from None
        raise DeliveryError(f"cannot connect: {reason}"[:300]) from None


@dataclass(frozen=True)
class _Attempt:
    delivery_id: int
    webhook_id: int
    url: str
    secret: str
    message_id: str
    event_type: str
    body: str
    attempts: int


def _prune(now) -> None:
    """Forget deliveries that succeeded over KEEP ago (read by the status index)."""
    table = WebhookDelivery.__table__.c
    db.session.execute(WebhookDelivery.__table__.delete().where(
        table.status == DELIVERY_DELIVERED, table.next_attempt_at < now - KEEP))
    db.session.commit()


def _claim_due(now, lease: timedelta) -> list[_Attempt]:
    """The due deliveries, each claimed by moving its next attempt past this run's end."""
    table = WebhookDelivery.__table__.c
    rows = db.session.execute(
        select(table.id, table.webhook_id, table.message_id, table.event_type, table.payload,
               table.attempts, table.next_attempt_at, Webhook.url, Webhook.secret)
        .join(Webhook, Webhook.id == table.webhook_id)
        .where(table.status == DELIVERY_PENDING, table.next_attempt_at <= now)
        .order_by(table.next_attempt_at, table.id).limit(MAX_PER_RUN)
    ).all()
    claimed = []
    for row in rows:
        moved = db.session.execute(
            update(WebhookDelivery.__table__)
            .where(table.id == row.id, table.status == DELIVERY_PENDING,
                   table.next_attempt_at == row.next_attempt_at)
            .values(next_attempt_at=now + lease)).rowcount
        if moved:
            claimed.append(_Attempt(row.id, row.webhook_id, row.url, row.secret, row.message_id,
                                    row.event_type, row.payload, row.attempts))
    db.session.commit()
    return claimed


def _try(attempt: _Attempt, timeout: float) -> str | None:
    """Deliver once; None on success, else why not."""
    try:
        post(attempt.url, attempt.secret, attempt.message_id, attempt.body, timeout)
    except DeliveryError as exc:
        return str(exc)
    except Exception as exc:  # a receiver must never crash the job
        return f"{type(exc).__name__}: {exc}"[:300]
    return None


def _try_in_order(attempts: list[_Attempt], timeout: float) -> list[str | None]:
    """One webhook's deliveries, oldest first; after a failure the rest wait for the next run.

    So a receiver gets its events in order, and a dead one costs one timeout per run.
    """
    outcomes: list[str | None] = []
    for attempt in attempts:
        outcome = _try(attempt, timeout)
        outcomes.append(outcome)
        if outcome is not None:
            break
    return outcomes


def deliver_due(report) -> None:
    """Send the due deliveries (webhooks in parallel, each in order), record the outcomes."""
    config = current_app.config
    timeout = float(config["PORTAL_WEBHOOK_TIMEOUT"])
    retry = timedelta(seconds=int(config["PORTAL_WEBHOOK_RETRY_SECONDS"]))
    max_attempts = int(config["PORTAL_WEBHOOK_MAX_ATTEMPTS"])
    # a connect, a send and a read may each take the timeout; redirects repeat them
    lease = timedelta(seconds=timeout * 3 * (MAX_REDIRECTS + 1) + 60)
    _prune(utcnow())
    attempts = _claim_due(utcnow(), lease)
    if not attempts:
        return
    groups: dict[int, list[_Attempt]] = {}
    for attempt in attempts:
        groups.setdefault(attempt.webhook_id, []).append(attempt)
    with ThreadPoolExecutor(max_workers=min(THREADS, len(groups))) as pool:
        results = list(pool.map(lambda group: _try_in_order(group, timeout), groups.values()))
    logger = current_app.logger
    table = WebhookDelivery.__table__.c
    now = utcnow()
    for group, outcomes in zip(groups.values(), results, strict=True):
        for attempt in group[len(outcomes):]:  # not tried: due again at the next run
            db.session.execute(update(WebhookDelivery.__table__)
                               .where(table.id == attempt.delivery_id)
                               .values(next_attempt_at=now))
        for attempt, error in zip(group, outcomes, strict=False):
            _record(report, logger, attempt, error, retry, max_attempts)
    db.session.commit()


def _record(report, logger, attempt: _Attempt, error: str | None, retry: timedelta,
            max_attempts: int) -> None:
    """Store one attempt's outcome: delivered, retried later (backoff), or given up."""
    table = WebhookDelivery.__table__.c
    number = attempt.attempts + 1
    values: dict = {"attempts": number, "last_error": error}
    if error is None:
        values.update(status=DELIVERY_DELIVERED, delivered_at=utcnow())
        report.delivered += 1
        logger.info("portal webhooks: %s %s delivered to #%s (attempt %d)",
                    attempt.event_type, attempt.message_id, attempt.webhook_id, number)
    elif number >= max_attempts:
        values["status"] = DELIVERY_FAILED
        problem = (f"webhook #{attempt.webhook_id} {attempt.url}: {attempt.event_type} "
                   f"{attempt.message_id} given up after {number} attempts: {error}")
        report.problems.append(problem)
        logger.error("portal webhooks: %s", problem)
        audit.record("webhook.deliver", actor="notify", outcome="error", detail=problem)
    else:
        delay = min(retry * (2 ** (number - 1)), MAX_BACKOFF)
        values["next_attempt_at"] = utcnow() + delay
        problem = (f"webhook #{attempt.webhook_id} {attempt.url}: {attempt.event_type} "
                   f"attempt {number} failed ({error}); "
                   f"retried in {int(delay.total_seconds())} s")
        report.problems.append(problem)
        logger.warning("portal webhooks: %s", problem)
    db.session.execute(update(WebhookDelivery.__table__)
                       .where(table.id == attempt.delivery_id).values(**values))
