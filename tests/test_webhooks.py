"""Lifecycle webhooks against real HTTP receivers on loopback.

Signatures are checked here with an independent implementation of the Standard Webhooks
scheme; a receiver that fails is retried with the same webhook-id; one that hangs times out
without holding up the others, and no request that causes an event ever waits for a receiver.
"""

import base64
import hashlib
import hmac

import pytest

from portal.extensions import db
from portal.models import DELIVERY_DELIVERED, DELIVERY_PENDING, AuditEvent, WebhookDelivery
from portal.services import certificates, webhooks
from tests.notifying import HTTPReceiver, issue

SECRET_KEY = b"0123456789abcdef0123456789abcdef"
SECRET = "whsec_" + base64.b64encode(SECRET_KEY).decode()


def verify(request: dict, key: bytes = SECRET_KEY) -> bool:
    """Standard Webhooks: v1,base64(HMAC-SHA256(key, id + "." + timestamp + "." + body))."""
    headers = {name.lower(): value for name, value in request["headers"].items()}
    signed = (headers["webhook-id"] + "." + headers["webhook-timestamp"] + ".").encode()
    expected = base64.b64encode(hmac.new(key, signed + request["body"], hashlib.sha256)
                                .digest()).decode()
    versions = [part.split(",", 1) for part in headers["webhook-signature"].split()]
    return any(version == "v1" and hmac.compare_digest(value, expected)
               for version, value in versions)


@pytest.fixture
def receivers():
    started = []

    def start(*script):
        receiver = HTTPReceiver(script or ("ok",)).start()
        started.append(receiver)
        return receiver

    yield start
    for receiver in started:
        receiver.stop()


@pytest.fixture
def hook_app(app, root_ca):
    app.config.update(PORTAL_WEBHOOK_RETRY_SECONDS=0, PORTAL_WEBHOOK_TIMEOUT=1)
    return app


def add(runner, url, *events, secret_file=None):
    args = ["webhook", "add", url]
    for event in events:
        args += ["--event", event]
    if secret_file:
        args += ["--secret-file", str(secret_file)]
    result = runner.invoke(args=args)
    assert result.exit_code == 0, (result.output, result.exception)
    return result


def notify_run(runner):
    return runner.invoke(args=["notify", "run"])


def test_issued_and_revoked_events_arrive_signed(hook_app, runner, receivers, tmp_path):
    receiver = receivers()
    secret_file = tmp_path / "secret"
    secret_file.write_text(SECRET + "\n")
    add(runner, receiver.url, "certificate.issued", "certificate.revoked", secret_file=secret_file)

    row = issue("web.example.org")
    certificates.revoke_certificate(row.serial, reason="superseded", actor="test")
    assert receiver.requests == []  # neither the issuance nor the revocation called anybody

    result = notify_run(runner)
    assert result.exit_code == 0, (result.output, result.stderr)
    assert [event["type"] for event in receiver.events()] == [
        "certificate.issued", "certificate.revoked"]
    assert all(verify(request) for request in receiver.requests)
    assert not verify(receiver.requests[0], key=b"another key of thirty-two bytes!")
    issued, revoked = receiver.events()
    assert issued["data"]["serial"] == revoked["data"]["serial"] == row.serial
    assert revoked["data"]["revocation_reason"] == "superseded"
    ids = [request["headers"]["webhook-id"] for request in receiver.requests]
    assert len(set(ids)) == 2
    assert receiver.requests[0]["headers"]["content-type"] == "application/json"

    assert notify_run(runner).exit_code == 0
    assert len(receiver.requests) == 2  # delivered once


def test_delivered_rows_are_forgotten_after_a_month(hook_app, runner, receivers):
    from datetime import timedelta

    from portal.models import utcnow

    receiver = receivers()
    add(runner, receiver.url, "certificate.issued")
    issue("one.example.org")
    assert notify_run(runner).exit_code == 0
    db.session.execute(WebhookDelivery.__table__.update().values(
        next_attempt_at=utcnow() - timedelta(days=31)))
    db.session.commit()
    issue("two.example.org")
    assert notify_run(runner).exit_code == 0
    assert [row.message_id for row in db.session.scalars(db.select(WebhookDelivery))] == [
        receiver.requests[1]["headers"]["webhook-id"]]


def test_a_receiver_that_fails_twice_gets_the_event_on_the_third_try(hook_app, runner, receivers):
    receiver = receivers("fail", "fail", "ok")
    add(runner, receiver.url, "certificate.issued")
    row = issue("retry.example.org")

    first = notify_run(runner)
    assert first.exit_code == 1 and "attempt 1 failed (answered 500" in first.stderr
    second = notify_run(runner)
    assert second.exit_code == 1 and "attempt 2 failed" in second.stderr
    third = notify_run(runner)
    assert third.exit_code == 0, third.stderr
    assert len(receiver.requests) == 3
    assert len({request["headers"]["webhook-id"] for request in receiver.requests}) == 1
    assert receiver.events()[2]["data"]["serial"] == row.serial
    delivery = db.session.scalar(db.select(WebhookDelivery))
    assert (delivery.status, delivery.attempts) == (DELIVERY_DELIVERED, 3)
    assert notify_run(runner).exit_code == 0
    assert len(receiver.requests) == 3


def test_backoff_waits_before_the_next_try(hook_app, runner, receivers):
    hook_app.config["PORTAL_WEBHOOK_RETRY_SECONDS"] = 3600
    receiver = receivers("fail", "ok")
    add(runner, receiver.url, "certificate.issued")
    issue("later.example.org")
    assert notify_run(runner).exit_code == 1
    assert notify_run(runner).exit_code == 0  # nothing due yet: not tried again
    assert len(receiver.requests) == 1
    delivery = db.session.scalar(db.select(WebhookDelivery))
    assert delivery.status == DELIVERY_PENDING and delivery.attempts == 1


def test_a_hanging_receiver_times_out_and_holds_up_nobody(hook_app, runner, receivers, client):
    hanging = receivers("hang")
    healthy = receivers()
    add(runner, hanging.url, "certificate.issued")
    add(runner, healthy.url, "certificate.issued")
    issue("one.example.org")
    assert hanging.requests == [] and healthy.requests == []

    result = notify_run(runner)
    assert result.exit_code == 1
    assert "no answer within 1 s (timed out)" in result.stderr
    assert len(healthy.requests) == 1 and len(hanging.requests) == 1
    health = client.get("/healthz").get_json()["notify"]["webhooks"]
    assert health["ok"] is False and health["retrying"] == 1
    assert "timed out" in health["last_error"]


def test_redirects_to_another_host_are_not_followed(hook_app, runner, receivers):
    target = receivers()
    redirecting = receivers(("redirect", 307, target.url))
    add(runner, redirecting.url.replace("127.0.0.1", "localhost"), "certificate.issued")
    issue("moved.example.org")
    result = notify_run(runner)
    assert result.exit_code == 1 and "redirected to another host" in result.stderr
    assert target.requests == []


def test_a_same_host_redirect_keeps_the_signed_post(hook_app, runner, receivers, tmp_path):
    receiver = receivers(("redirect", 308, "/moved"), "ok")
    secret_file = tmp_path / "secret"
    secret_file.write_text(SECRET)
    add(runner, receiver.url, "certificate.issued", secret_file=secret_file)
    issue("moved.example.org")
    assert notify_run(runner).exit_code == 0
    assert [request["path"] for request in receiver.requests] == ["/hook", "/moved"]
    assert verify(receiver.requests[1])


def test_crl_and_ca_key_events(hook_app, runner, receivers):
    from portal.services.authorities import get_ca
    from portal.services.crl import publish

    receiver = receivers()
    add(runner, receiver.url, "crl.published", "ca.key_unusable")
    publish(get_ca("root"), actor="test")
    assert notify_run(runner).exit_code == 0
    (crl_event,) = receiver.events()
    assert crl_event["type"] == "crl.published"
    assert crl_event["data"]["ca"] == "root" and crl_event["data"]["number"] >= 1

    hook_app.config["PORTAL_CA_SECRET"] = "a wrong secret " + "y" * 32
    from portal.services import cache

    cache.clear()  # as in a new `portal notify run` process: no signer decrypted yet
    notify_run(runner)
    notify_run(runner)
    key_events = [event for event in receiver.events() if event["type"] == "ca.key_unusable"]
    assert len(key_events) == 1 and key_events[0]["data"]["ca"] == "root"


def test_only_http_urls_and_known_events(hook_app, runner):
    for url in ("file:///etc/passwd", "ftp://example.org/", "http://", "gopher://x"):
        result = runner.invoke(args=["webhook", "add", url, "--event", "all"])
        assert result.exit_code == 1 and "http:// or https://" in result.stderr, url
    result = runner.invoke(args=["webhook", "add", "https://example.org/", "--event", "nope"])
    assert result.exit_code == 1 and "events are one or more of" in result.stderr
    assert webhooks.list_webhooks() == []

    added = add(runner, "https://example.org/hook", "all")
    assert "secret (shown once): whsec_" in added.output
    listed = runner.invoke(args=["webhook", "list"]).output
    assert "https://example.org/hook" in listed and "ca.key_unusable" in listed
    (row,) = webhooks.list_webhooks()
    assert runner.invoke(args=["webhook", "remove", str(row.id)]).exit_code == 0
    assert webhooks.list_webhooks() == []
    missing = runner.invoke(args=["webhook", "remove", "99"])
    assert missing.exit_code == 1 and "no webhook #99" in missing.stderr
    actions = [event.action for event in AuditEvent.query.order_by(AuditEvent.id)]
    assert actions[-2:] == ["webhook.add", "webhook.remove"]


def test_an_expiring_event_once_per_threshold(hook_app, runner, receivers):
    receiver = receivers()
    add(runner, receiver.url, "certificate.expiring")
    row = issue("soon.example.org", days_left=10)
    issue("far.example.org", days_left=100)
    assert notify_run(runner).exit_code == 0  # nobody has an address: no mail is due
    assert notify_run(runner).exit_code == 0
    (event,) = receiver.events()
    assert event["type"] == "certificate.expiring"
    assert event["data"]["serial"] == row.serial and event["data"]["days_before"] == 14
    assert verify(receiver.requests[0]) is False  # signed with its own generated secret
    (hook,) = webhooks.list_webhooks()
    assert verify(receiver.requests[0], key=webhooks.secret_key(hook.secret))
