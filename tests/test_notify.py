"""Expiry warnings by e-mail, against a real SMTP server (aiosmtpd) on loopback.

Each warning goes once to the owner and once into the admins' digest; renewed, revoked and
short-lived certificates are left alone; a mail server that is down is reported (log, exit
status, /healthz) and the warning is sent by the next run.
"""

import logging
import re

import pytest

from portal.models import AuditEvent
from portal.services import certificates, users
from tests.notifying import SMTPReceiver, body_of, issue


@pytest.fixture
def smtp():
    receiver = SMTPReceiver().start()
    yield receiver
    receiver.stop()


@pytest.fixture
def people(app, root_ca):
    users.create_user("boss", role="admin", password="admin-password-1",
                      email="boss@example.org", actor="test")
    users.create_user("alice", role="user", password="alice-password-1",
                      email="alice@example.org", actor="test")
    return app


@pytest.fixture
def mail_app(people, smtp):
    people.config.update(PORTAL_SMTP_URL=smtp.url, PORTAL_SMTP_STARTTLS=False,
                         PORTAL_SMTP_FROM="ca@example.org",
                         PORTAL_WEB_URL="https://portal.example.org")
    return people


def notify_run(runner, *, ok=True):
    result = runner.invoke(args=["notify", "run"])
    assert (result.exit_code == 0) == ok, (result.output, result.exception)
    return result


def to(smtp, address):
    return [message for rcpt, message in smtp.messages if address in rcpt]


def test_one_mail_to_the_owner_and_one_digest_then_nothing_more(mail_app, smtp, runner):
    row = issue("web.example.org", owner="alice", days_left=10)
    notify_run(runner)

    owner_mail = to(smtp, "alice@example.org")
    assert len(owner_mail) == 1
    body = body_of(owner_mail[0])
    assert row.serial in owner_mail[0]["Subject"] and row.serial in body
    assert f"{row.not_after:%Y-%m-%d}" in owner_mail[0]["Subject"]
    assert f"{row.not_after:%Y-%m-%d %H:%M:%S} UTC" in body
    assert f"https://portal.example.org/account/certificates/{row.id}" in body
    assert owner_mail[0]["From"] == "ca@example.org"
    digest = to(smtp, "boss@example.org")
    assert len(digest) == 1 and row.serial in body_of(digest[0])
    assert len(smtp.messages) == 2

    notify_run(runner)
    notify_run(runner)
    assert len(smtp.messages) == 2
    details = [event.detail for event in
               AuditEvent.query.filter_by(action="notify.mail").order_by(AuditEvent.id)]
    assert len(details) == 2 and all(row.serial in detail for detail in details)
    assert "alice@example.org" in details[0] and "boss@example.org" in details[1]


def test_a_run_s_mail_events_are_sealed_into_the_audit_chain_in_order(mail_app, smtp, runner):
    from portal.services import audit_chain

    users.create_user("bob", role="user", password="bob-password-12", email="bob@example.org",
                      actor="test")
    issue("a.example.org", owner="alice", days_left=10)
    issue("b.example.org", owner="bob", days_left=5)
    notify_run(runner)
    assert len(smtp.messages) == 3  # alice, bob and the digest: written in one batch
    events = AuditEvent.query.order_by(AuditEvent.id).all()
    mails = [event for event in events if event.action == "notify.mail"]
    assert len(mails) == 3 and all(event.seal for event in mails)
    assert [event.chain_seq for event in events] == list(range(1, len(events) + 1))
    intact, message = audit_chain.verify()
    assert intact, message


def test_claims_made_in_several_statements_are_all_sent_once(mail_app, smtp, runner,
                                                              monkeypatch):
    from portal.services import notify_claims

    monkeypatch.setattr(notify_claims, "SQLITE_ROWS", 1)  # a statement per claim
    rows = [issue(f"h{n}.example.org", owner="alice", days_left=10) for n in range(3)]
    notify_run(runner)
    notify_run(runner)
    assert len(smtp.messages) == 2  # alice's mail and the digest, each naming all three
    for _rcpt, message in smtp.messages:
        assert all(row.serial in body_of(message) for row in rows)


def test_renewed_revoked_short_lived_and_distant_are_not_mentioned(mail_app, smtp, runner):
    renewed = issue("a.example.org", owner="alice", days_left=10)
    successor = issue("a.example.org", owner="alice", days_left=300, lifetime=397)
    revoked = issue("b.example.org", owner="alice", days_left=10)
    certificates.revoke_certificate(revoked.serial, actor="test")
    short_lived = issue("acme.example.org", owner="alice", days_left=3, lifetime=7)
    distant = issue("later.example.org", owner="alice", days_left=45)
    # a newer certificate with the same names but another owner is not a renewal of this one
    due = issue("d.example.org", owner="alice", days_left=6)
    issue("d.example.org", owner="boss", days_left=300, lifetime=397)

    notify_run(runner)
    owner_mail = to(smtp, "alice@example.org")
    assert len(owner_mail) == 1
    everything = "\n".join(body_of(message) for _rcpt, message in smtp.messages)
    assert due.serial in everything
    for row in (renewed, successor, revoked, short_lived, distant):
        assert row.serial not in everything
    assert "in 5 days" in body_of(owner_mail[0]) or "in 6 days" in body_of(owner_mail[0])


def test_each_threshold_warns_once(mail_app, smtp, runner, app):
    from datetime import timedelta

    from portal.extensions import db
    from portal.models import Certificate

    row = issue("soon.example.org", owner="alice", days_left=20)
    notify_run(runner)
    assert len(to(smtp, "alice@example.org")) == 1
    db.session.execute(Certificate.__table__.update().where(Certificate.id == row.id)
                       .values(not_after=row.not_after - timedelta(days=15)))
    db.session.commit()
    notify_run(runner)
    notify_run(runner)
    owner_mail = to(smtp, "alice@example.org")
    assert len(owner_mail) == 2  # the 30-day warning, then the 7-day one
    details = [event.detail for event in AuditEvent.query.filter_by(action="notify.mail")
               .order_by(AuditEvent.id)]
    assert [f"{row.serial} (30d)" in detail for detail in details] == [True, True, False, False]
    assert [f"{row.serial} (7d)" in detail for detail in details] == [False, False, True, True]


def test_smtp_down_is_reported_and_the_warning_sent_next_run(people, runner, client, caplog):
    receiver = SMTPReceiver()  # its port is reserved by nobody until start()
    people.config.update(PORTAL_SMTP_URL=receiver.url, PORTAL_SMTP_STARTTLS=False)
    row = issue("web.example.org", owner="alice", days_left=10)

    with caplog.at_level(logging.ERROR, logger=people.logger.name):
        result = notify_run(runner, ok=False)
    assert result.exit_code == 1
    assert re.search(r"error: cannot connect to the SMTP server 127\.0\.0\.1:\d+", result.stderr)
    assert "sent on the next run" in result.stderr
    assert any("cannot connect to the SMTP server" in record.getMessage()
               for record in caplog.records)
    health = client.get("/healthz").get_json()
    assert health["notify"]["mail"]["ok"] is False
    assert "cannot connect to the SMTP server" in health["notify"]["mail"]["detail"]

    receiver.start()
    try:
        notify_run(runner)
        assert len(to(receiver, "alice@example.org")) == 1
        assert row.serial in body_of(to(receiver, "alice@example.org")[0])
        assert len(to(receiver, "boss@example.org")) == 1
        assert client.get("/healthz").get_json()["notify"]["mail"]["ok"] is True
        notify_run(runner)
        assert len(receiver.messages) == 2
    finally:
        receiver.stop()


def test_no_smtp_configured_keeps_the_warning(people, runner):
    issue("web.example.org", owner="alice", days_left=10)
    result = notify_run(runner, ok=False)
    assert "no SMTP server is configured (PORTAL_SMTP_URL)" in result.stderr
    failures = list(AuditEvent.query.filter_by(action="notify.mail", outcome="error"))
    assert len(failures) == 1


def test_the_cli_sets_owner_and_email(mail_app, smtp, runner, tmp_path):
    from tests.pki import make_csr

    csr = tmp_path / "req.pem"
    csr.write_bytes(make_csr("cli.example.org"))
    result = runner.invoke(args=["user", "set-email", "alice", "Alice@Example.ORG"])
    assert result.exit_code == 0, result.output
    assert users.user_by_name("alice").email == "Alice@example.org"
    result = runner.invoke(args=["cert", "issue", "--csr", str(csr), "--profile", "server",
                                 "--owner", "alice", "--out", str(tmp_path / "c.pem")])
    assert result.exit_code == 0, result.output
    serial = result.stderr.split()[1]
    assert certificates.get_certificate(serial).owner.username == "alice"
    bad = runner.invoke(args=["cert", "issue", "--csr", str(csr), "--profile", "server",
                              "--owner", "nobody"])
    assert bad.exit_code == 1 and "no user named 'nobody'" in bad.stderr
    bad = runner.invoke(args=["user", "create", "carol", "--role", "user", "--email", "x y@z"])
    assert bad.exit_code == 1 and "not a valid e-mail address" in bad.stderr
    made = runner.invoke(args=["user", "create", "carol", "--role", "user", "--email",
                               "carol@example.org"])
    assert made.exit_code == 0 and users.user_by_name("carol").email == "carol@example.org"
    bad = runner.invoke(args=["user", "set-email", "alice", "not-an-address"])
    assert bad.exit_code == 1 and "not a valid e-mail address" in bad.stderr
    assert users.user_by_name("alice").email == "Alice@example.org"
    assert [event.detail for event in AuditEvent.query.filter_by(action="user.email")] == [
        "alice -> Alice@example.org"]


def test_a_wrong_smtp_password_is_reported_and_the_right_one_sends(people, runner):
    receiver = SMTPReceiver(login=("portal", "right-password")).start()
    try:
        people.config.update(PORTAL_SMTP_URL=f"smtp://portal:wrong@127.0.0.1:{receiver.port}",
                             PORTAL_SMTP_STARTTLS=False)
        row = issue("web.example.org", owner="alice", days_left=10)
        result = notify_run(runner, ok=False)
        assert "refused the user name or password: 535" in result.stderr
        assert receiver.messages == []
        people.config["PORTAL_SMTP_URL"] = (
            f"smtp://portal:right-password@127.0.0.1:{receiver.port}")
        notify_run(runner)
        assert row.serial in body_of(to(receiver, "alice@example.org")[0])
    finally:
        receiver.stop()


def test_starttls_is_required_unless_switched_off(people, smtp, runner):
    people.config.update(PORTAL_SMTP_URL=smtp.url)  # PORTAL_SMTP_STARTTLS defaults to true
    issue("web.example.org", owner="alice", days_left=10)
    result = notify_run(runner, ok=False)
    assert "does not offer STARTTLS (set PORTAL_SMTP_STARTTLS=false" in result.stderr
    assert smtp.messages == []


def test_several_hosts_at_once_send_each_warning_once(mail_app, smtp):
    import threading

    from portal.extensions import db
    from portal.services import notify

    serials = [issue(f"host{n}.example.org", owner="alice", days_left=10).serial
               for n in range(20)]
    db.session.remove()
    start = threading.Barrier(4)
    errors = []

    def host():
        try:
            with mail_app.app_context():
                start.wait()
                notify.run_once()
                db.session.remove()
        except Exception as exc:  # reported below: a thread's exception is otherwise lost
            errors.append(exc)

    threads = [threading.Thread(target=host) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    warned = "\n".join(body_of(message) for _rcpt, message in smtp.messages)
    assert all(warned.count(serial) == 2 for serial in serials), warned  # owner mail + digest
    assert len(to(smtp, "alice@example.org")) >= 1 and len(to(smtp, "boss@example.org")) >= 1


def test_portal_serve_s_thread_runs_the_job(mail_app, smtp):
    import threading
    import time

    from portal.services import notify

    row = issue("web.example.org", owner="alice", days_left=10)
    mail_app.config["PORTAL_NOTIFY_INTERVAL"] = 1
    stop = threading.Event()
    thread = threading.Thread(target=notify.run_periodically, args=(mail_app, stop))
    thread.start()
    try:
        for _ in range(600):  # the thread's first run comes after one interval
            if len(smtp.messages) == 2:
                break
            time.sleep(0.1)
    finally:
        stop.set()
        thread.join()
    assert row.serial in body_of(to(smtp, "alice@example.org")[0])
    assert len(smtp.messages) == 2


@pytest.mark.parametrize("mode", ["starttls", "smtps"])
def test_tls_to_the_mail_server_is_verified(people, runner, tmp_path, mode):
    from tests.notifying import loopback_tls

    context, trusted = loopback_tls(tmp_path)
    receiver = SMTPReceiver(**{"starttls" if mode == "starttls" else "implicit_tls": context})
    receiver.start()
    try:
        people.config.update(PORTAL_SMTP_URL=receiver.url, PORTAL_SMTP_STARTTLS=True)
        row = issue("web.example.org", owner="alice", days_left=10)
        refused = notify_run(runner, ok=False)  # not signed by a CA the system trusts
        assert "CERTIFICATE_VERIFY_FAILED" in refused.stderr
        assert receiver.messages == []
        people.config["PORTAL_SMTP_CA_FILE"] = trusted
        notify_run(runner)
        assert row.serial in body_of(to(receiver, "alice@example.org")[0])
    finally:
        receiver.stop()


def test_a_refused_address_does_not_hold_up_the_others(mail_app, smtp, runner, client):
    users.create_user("bob", role="user", password="bob-password-12", email="bounce@example.org",
                      actor="test")
    users.create_user("boss2", role="admin", password="admin-password-2",
                      email="bounce-admin@example.org", actor="test")
    bobs = issue("bob.example.org", owner="bob", days_left=10)
    alices = issue("alice.example.org", owner="alice", days_left=10)
    result = notify_run(runner, ok=False)
    assert "refused bounce@example.org (550 5.1.1 no such mailbox)" in result.stderr
    assert "refused bounce-admin@example.org" in result.stderr
    assert alices.serial in body_of(to(smtp, "alice@example.org")[0])
    digest = to(smtp, "boss@example.org")
    assert len(digest) == 1 and bobs.serial in body_of(digest[0])
    assert client.get("/healthz").get_json()["notify"]["mail"]["ok"] is False

    users.set_email("bob", "bob@example.org", actor="test")
    notify_run(runner, ok=True)
    assert bobs.serial in body_of(to(smtp, "bob@example.org")[0])
    assert len(to(smtp, "alice@example.org")) == 1 and len(to(smtp, "boss@example.org")) == 1


def _two_owners_and_a_digest(mail_app, smtp):
    """Alice's certificate expires first, then Carol's: their mails go out in that order."""
    users.create_user("carol", role="user", password="carol-password-1",
                      email="carol@example.org", actor="test")
    first = issue("alice.example.org", owner="alice", days_left=5)
    second = issue("carol.example.org", owner="carol", days_left=10)
    mail_app.config["PORTAL_SMTP_URL"] = smtp.url
    return first, second


@pytest.mark.parametrize("drop", ["421", "drop"])
def test_one_connection_per_run_and_a_dropped_one_is_opened_again(mail_app, runner, drop):
    smtp = SMTPReceiver(script=["ok", drop, "ok"]).start()
    try:
        first, second = _two_owners_and_a_digest(mail_app, smtp)
        notify_run(runner)  # the second mail is sent again on a new connection
        assert [rcpt for rcpt, _message in smtp.messages] == [
            ["alice@example.org"], ["carol@example.org"], ["boss@example.org"]]
        assert smtp.sessions == 2
        assert first.serial in body_of(smtp.messages[0][1])
        assert second.serial in body_of(smtp.messages[1][1])
        notify_run(runner)
        assert len(smtp.messages) == 3
    finally:
        smtp.stop()

    smtp = SMTPReceiver().start()  # a server that keeps the session: one connection
    try:
        mail_app.config["PORTAL_SMTP_URL"] = smtp.url
        issue("later.example.org", owner="alice", days_left=6)
        issue("later.example.org", owner="carol", days_left=7)
        notify_run(runner)
        assert len(smtp.messages) == 3 and smtp.sessions == 1
    finally:
        smtp.stop()


@pytest.mark.parametrize("script", [["ok", "451", "ok"], ["ok", "drop", "drop", "ok"]],
                         ids=["refused-for-now", "dropped-twice"])
def test_a_failure_after_some_mails_records_only_those_accepted(mail_app, runner, client,
                                                                 script):
    from portal.extensions import db
    from portal.models import ExpiryNotice

    smtp = SMTPReceiver(script=script).start()
    try:
        first, second = _two_owners_and_a_digest(mail_app, smtp)
        result = notify_run(runner, ok=False)
        assert "did not accept a message" in result.stderr
        assert "sent on the next run" in result.stderr
        assert [rcpt for rcpt, _message in smtp.messages] == [["alice@example.org"]]
        notices = db.session.scalars(db.select(ExpiryNotice)).all()
        sent = [(notice.certificate_id, channel) for notice in notices
                for channel in notice.sent()]
        assert sent == [(first.id, "owner")]
        # no claim is left behind: the next run sends the others
        assert all(notice.owner_claim is None and notice.admins_claim is None
                   for notice in notices)
        assert client.get("/healthz").get_json()["notify"]["mail"]["ok"] is False

        notify_run(runner)  # Carol's mail and the digest, not Alice's again
        assert [rcpt for rcpt, _message in smtp.messages] == [
            ["alice@example.org"], ["carol@example.org"], ["boss@example.org"]]
        assert second.serial in body_of(smtp.messages[1][1])
        digest = body_of(smtp.messages[2][1])
        assert first.serial in digest and second.serial in digest
        assert client.get("/healthz").get_json()["notify"]["mail"]["ok"] is True
        notify_run(runner)
        assert len(smtp.messages) == 3
    finally:
        smtp.stop()


def test_a_long_run_renews_its_claims_so_no_host_resends_them(mail_app, smtp, runner,
                                                              monkeypatch):
    from datetime import timedelta

    from portal.extensions import db
    from portal.models import ExpiryNotice
    from portal.services import notify_claims

    monkeypatch.setattr(notify_claims, "KEEP_CLAIMS", timedelta(0))  # renewed before each mail
    renewed, keep = [], notify_claims.keep

    def kept(notices, now, token):
        keep(notices, now, token)
        renewed.append(db.session.execute(db.select(
            ExpiryNotice.admins_at, ExpiryNotice.admins_claim)).all())

    monkeypatch.setattr(notify_claims, "keep", kept)
    _two_owners_and_a_digest(mail_app, smtp)
    notify_run(runner)
    assert len(smtp.messages) == 3 and len(renewed) == 3
    # before the digest went out, its claims (not sent yet) had been renewed after the first
    # mail had arrived
    before_digest = renewed[-1]
    assert before_digest and all(claim is not None for _at, claim in before_digest)
    assert all(at >= smtp.arrivals[0] for at, _claim in before_digest)
