"""The notification job on SQLite and on a real PostgreSQL: once per warning, signed events.

The dedupe relies on unique constraints and compare-and-set updates, whose failure modes
differ between the two databases (PostgreSQL aborts the transaction on a violation), so the
same scenarios run on both, with several hosts (threads, each its own connection) at once.
"""

import threading

import pytest

from portal.extensions import db
from portal.services import certificates, notify, users, webhooks
from tests.notifying import HTTPReceiver, SMTPReceiver, body_of, issue
from tests.reliability.conftest import BACKENDS

pytestmark = pytest.mark.parametrize("backend", BACKENDS, indirect=True)


@pytest.fixture
def smtp():
    receiver = SMTPReceiver().start()
    yield receiver
    receiver.stop()


@pytest.fixture
def receiver():
    server = HTTPReceiver().start()
    yield server
    server.stop()


def run_hosts(app, count: int) -> list[Exception]:
    """Run the job on `count` threads at once; the exceptions they raised."""
    start, errors = threading.Barrier(count), []

    def host():
        try:
            with app.app_context():
                start.wait()
                notify.run_once()
                db.session.remove()
        except Exception as exc:  # collected: a thread's exception is otherwise lost
            errors.append(exc)

    threads = [threading.Thread(target=host) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return errors


def test_warnings_and_events_once_with_several_hosts(app, root_ca, smtp, receiver, backend):
    app.config.update(PORTAL_SMTP_URL=smtp.url, PORTAL_SMTP_STARTTLS=False,
                      PORTAL_WEBHOOK_RETRY_SECONDS=0)
    users.create_user("boss", role="admin", password="admin-password-1",
                      email="boss@example.org", actor="t")
    users.create_user("alice", role="user", password="alice-password-1",
                      email="alice@example.org", actor="t")
    hook = webhooks.add_webhook(receiver.url, ["all"], actor="t")
    secret = hook.secret
    due = [issue(f"host{n}.example.org", owner="alice", days_left=10).serial for n in range(10)]
    revoked = issue("gone.example.org", owner="alice", days_left=10).serial
    certificates.revoke_certificate(revoked, actor="t")
    db.session.remove()

    if backend == "postgresql":  # events wait until no lower id can still commit
        assert run_hosts(app, 1) == []
        assert [event["type"] for event in receiver.events()] == ["certificate.expiring"] * 10
        app.config["PORTAL_WEBHOOK_SETTLE_SECONDS"] = 0
    assert run_hosts(app, 4) == []
    assert run_hosts(app, 2) == []
    text = "\n".join(body_of(message) for _rcpt, message in smtp.messages)
    assert all(text.count(serial) == 2 for serial in due)  # the owner's mail and the digest
    assert revoked not in text
    events = receiver.events()
    ids = [request["headers"]["webhook-id"] for request in receiver.requests]
    assert len(ids) == len(set(ids))  # every event once
    kinds = sorted(event["type"] for event in events)
    assert kinds.count("certificate.issued") == 11 and kinds.count("certificate.revoked") == 1
    assert kinds.count("certificate.expiring") == 10
    from tests.test_webhooks import verify

    assert all(verify(request, key=webhooks.secret_key(secret)) for request in receiver.requests)


def test_stale_claims_are_found_in_an_index_of_the_unsent_ones_only(app, root_ca, backend):
    from datetime import timedelta

    from sqlalchemy import event, insert, select, text

    from portal.models import ExpiryNotice, utcnow
    from portal.services import notify_claims

    certificate = issue("many.example.org", days_left=10)
    now = utcnow()
    old = now - notify_claims.STALE_CLAIM - timedelta(minutes=1)
    # a long-running portal: thousands of warnings sent, a few claims still in flight
    rows = [{"certificate_id": certificate.id, "threshold_days": days, "owner_at": old,
             "admins_at": old} for days in range(3, 5001)]
    rows += [{"certificate_id": certificate.id, "threshold_days": days, "owner_at": old,
              "admins_at": old if days == 1 else now, "admins_claim": 7} for days in (1, 2)]
    db.session.execute(insert(ExpiryNotice), rows)
    db.session.execute(text("ANALYZE"))
    db.session.commit()
    postgres = backend == "postgresql"
    plans = []

    def explain(connection, cursor, statement, parameters, context, executemany):
        if statement.startswith("UPDATE expiry_notices"):
            cursor.execute(("EXPLAIN " if postgres else "EXPLAIN QUERY PLAN ") + statement,
                           parameters)
            plans.append(" | ".join(str(row[-1]) for row in cursor.fetchall()))

    event.listen(db.engine, "before_cursor_execute", explain)
    try:
        notify_claims.forget_stale(now)
        db.session.commit()
    finally:
        event.remove(db.engine, "before_cursor_execute", explain)
    assert len(plans) == 2, plans
    assert "ix_expiry_notices_owner_claimed" in plans[0], plans
    assert "ix_expiry_notices_admins_claimed" in plans[1], plans
    left = db.session.execute(select(ExpiryNotice.threshold_days, ExpiryNotice.admins_at)
                              .where(ExpiryNotice.admins_claim.is_not(None))).all()
    assert [days for days, _at in left] == [2]  # the stale claim went; the live one stays
    emptied = db.session.execute(select(ExpiryNotice.admins_at, ExpiryNotice.owner_at)
                                 .where(ExpiryNotice.threshold_days == 1)).one()
    assert emptied.admins_at is None and emptied.owner_at is not None  # sent: kept
    assert db.session.query(ExpiryNotice).filter(ExpiryNotice.admins_at.is_not(None)).count() \
        == 4999


def test_a_channel_wanted_later_is_claimed_alone_by_one_of_several_hosts(app, root_ca, smtp,
                                                                         backend):
    from portal.models import User

    app.config.update(PORTAL_SMTP_URL=smtp.url, PORTAL_SMTP_STARTTLS=False)
    users.create_user("boss", role="admin", password="admin-password-1", actor="t")  # no address
    users.create_user("alice", role="user", password="alice-password-1",
                      email="alice@example.org", actor="t")
    due = [issue(f"late{n}.example.org", owner="alice", days_left=10).serial for n in range(5)]
    db.session.remove()
    assert run_hosts(app, 1) == []
    assert [rcpt for rcpt, _message in smtp.messages] == [["alice@example.org"]]

    # the notices exist, their owner channel sent: the hosts fill in the admins' channel only
    db.session.execute(User.__table__.update().where(User.username == "boss")
                       .values(email="boss@example.org"))
    db.session.commit()
    db.session.remove()
    assert run_hosts(app, 3) == []
    assert run_hosts(app, 2) == []
    assert [rcpt for rcpt, _message in smtp.messages] == [["alice@example.org"],
                                                          ["boss@example.org"]]
    assert all(serial in body_of(smtp.messages[1][1]) for serial in due)
