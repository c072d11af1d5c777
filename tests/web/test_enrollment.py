"""Enrollment links: made by an admin or the CLI, used once without an account, never stored."""

import base64
import hashlib
import re
import sqlite3
import threading
from datetime import UTC, datetime, timedelta

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.serialization import pkcs12
from sqlalchemy import select, update

from portal.errors import PortalError
from portal.extensions import db
from portal.models import AuditEvent, Certificate, EnrollmentLink
from portal.services import enrollment
from tests.web.conftest import HttpsClient
from tests.web.selfhelp import P12_PASSWORD, page_errors, post_form

LINK = re.compile(r'id="new-link">(https://[^<]+/enroll/([A-Za-z0-9_-]+))<')


def _create(admin_web, **changes) -> tuple[str, str]:
    """Create a link on the admin page; return (the link, its token)."""
    response = post_form(admin_web, "/enrollment", {
        "common_name": "Jane Doe", "email": "jane@example.com", "profile": "client",
        "key_type": "ec-p256", "hours": "72", **changes})
    assert response.status_code == 200, response.get_data(as_text=True)
    match = LINK.search(response.get_data(as_text=True))
    assert match, "the new link is shown"
    return match.group(1), match.group(2)


def _use(client, token, password=P12_PASSWORD, compatibility="compatible", *, again=False):
    """Open the link's page, then download from it, as the recipient's browser does.

    `again`: post from a page left open (the link's page itself may not have a form any more).
    """
    return post_form(client, f"/enroll/{token}",
                     {"password": password, "compatibility": compatibility},
                     token_from="/login" if again else None)


@pytest.fixture
def stranger(app):
    """A browser with no account (its own cookies), over HTTPS."""
    app.test_client_class = HttpsClient
    client = app.test_client()
    client.environ_base["HTTP_REFERER"] = "https://localhost/"
    return client


def test_a_link_works_exactly_once(admin_web, stranger):
    link, token = _create(admin_web)
    assert link.startswith("https://localhost:8443/enroll/") and len(token) == 43
    page = stranger.get(f"/enroll/{token}")
    assert page.status_code == 200 and "Jane Doe" in page.get_data(as_text=True)
    weak = _use(stranger, token, password="short")
    assert weak.status_code == 400 and list(page_errors(weak.get_data(as_text=True))[0]) == [
        "password"]
    response = _use(stranger, token)
    assert response.status_code == 200 and response.mimetype == "application/x-pkcs12"
    assert response.headers["Cache-Control"] == "no-store"
    bundle = pkcs12.load_pkcs12(response.data, P12_PASSWORD.encode())
    certificate = bundle.cert.certificate
    assert certificate.subject.rfc4514_string() == "CN=Jane Doe"
    san = certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.RFC822Name) == ["jane@example.com"]
    for second in (_use(stranger, token, again=True), stranger.get(f"/enroll/{token}")):
        assert second.status_code == 410
        assert "already used" in second.get_data(as_text=True)
    row = db.session.scalar(select(EnrollmentLink))
    assert row.used_at is not None
    assert int(row.certificate.serial, 16) == certificate.serial_number
    assert db.session.scalar(select(AuditEvent).filter_by(
        action="enroll.use", outcome="denied")).actor == f"enroll:link-{row.id}"
    assert "used" in admin_web.get("/enrollment").get_data(as_text=True)


def test_an_expired_link_is_refused(admin_web, stranger):
    _link, token = _create(admin_web, hours="1")
    db.session.execute(update(EnrollmentLink).values(
        expires_at=datetime.now(UTC) - timedelta(minutes=1)))
    db.session.commit()
    for response in (stranger.get(f"/enroll/{token}"), _use(stranger, token, again=True)):
        assert response.status_code == 410
        assert "expired" in response.get_data(as_text=True)
    assert db.session.scalar(select(Certificate.id)) is None


def test_an_altered_or_made_up_token_is_refused_without_saying_whose_it_is(admin_web, stranger):
    _link, token = _create(admin_web)
    for position in (0, 21, 42):
        changed = token[:position] + ("A" if token[position] != "A" else "B") + token[position + 1:]
        for response in (stranger.get(f"/enroll/{changed}"),
                         _use(stranger, changed, again=True)):
            body = response.get_data(as_text=True)
            assert response.status_code == 404
            assert "not valid" in body and "Jane" not in body and "jane@" not in body
    for bad in (token[:-1], token + "x", "x" * 43, "%00" * 10, "." * 43):
        assert stranger.get(f"/enroll/{bad}").status_code == 404, bad
    assert db.session.scalar(select(Certificate.id)) is None
    assert _use(stranger, token).status_code == 200  # the real one still works


def test_a_withdrawn_link_is_refused(admin_web, stranger):
    _link, token = _create(admin_web)
    link_id = db.session.scalar(select(EnrollmentLink.id))
    response = post_form(admin_web, f"/enrollment/{link_id}/cancel", {}, token_from="/enrollment")
    assert response.status_code == 302
    refused = _use(stranger, token, again=True)
    assert refused.status_code == 410 and "withdrawn" in refused.get_data(as_text=True)


def test_the_admin_form_checks_its_fields(admin_web):
    for changes, field in [({"common_name": "Jane <b>"}, "common_name"),
                           ({"email": "jane"}, "email"),
                           ({"hours": "0"}, "hours"),
                           ({"profile": "server", "common_name": "not-a-host"}, "sans")]:
        response = post_form(admin_web, "/enrollment", {
            "common_name": "Jane Doe", "profile": "client", "key_type": "ec-p256",
            "hours": "72", **changes})
        assert response.status_code == 400, changes
        fields, form = page_errors(response.get_data(as_text=True))
        assert list(fields) == [field] or (field == "sans" and form), (changes, fields, form)
    assert db.session.scalar(select(EnrollmentLink.id)) is None


def _every_stored_value(path):
    connection = sqlite3.connect(path)
    try:
        tables = [name for (name,) in connection.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table'")]
        for table in tables:
            for row in connection.execute(f'SELECT * FROM "{table}"'):
                yield from ((table, value) for value in row)
    finally:
        connection.close()


def test_the_database_never_holds_the_token(admin_web, stranger, app, instance):
    _link, token = _create(admin_web)
    _unused, unused_token = _create(admin_web, common_name="Other Person", email="")
    assert _use(stranger, token).status_code == 200
    stored = db.session.scalars(select(EnrollmentLink.token_sha256)).all()
    assert hashlib.sha256(token.encode()).hexdigest() in stored
    db.session.remove()
    db.engine.dispose()  # checkpoint the WAL: every row is in the main file
    values = list(_every_stored_value(instance / "portal.sqlite3"))
    assert ("enrollment_links", hashlib.sha256(token.encode()).hexdigest()) in values  # the scan
    for secret in (token, unused_token):
        raw = base64.urlsafe_b64decode(secret + "=")
        forms = [secret.encode(), raw, secret.encode("utf-16-le"), raw.hex().encode()]
        for table, value in values:
            text = value.encode() if isinstance(value, str) else value
            if isinstance(text, bytes):
                assert not any(form in text for form in forms), table
        for path in instance.iterdir():
            if path.is_file():
                content = path.read_bytes()
                assert not any(form in content for form in forms), path.name


def test_two_concurrent_uses_cannot_both_succeed(admin_web, app):
    _link, token = _create(admin_web)
    db.session.remove()
    barrier, outcomes = threading.Barrier(2), []

    def use():
        with app.app_context():
            barrier.wait()
            try:
                enrollment.redeem(token, password=P12_PASSWORD)
                outcomes.append("ok")
            except PortalError as error:
                outcomes.append(type(error).__name__)
            finally:
                db.session.remove()

    threads = [threading.Thread(target=use) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["LinkRefused", "ok"]
    assert db.session.scalar(select(db.func.count()).select_from(Certificate)) == 1


def test_portal_enroll_create_prints_the_link(runner, app, root_ca):
    app.config["PORTAL_WEB_URL"] = "https://ca.example.com/"
    result = runner.invoke(args=["enroll", "create", "--cn", "Sam Field", "--email",
                                 "sam@example.com", "--profile", "client", "--hours", "5"])
    assert result.exit_code == 0, result.output
    link = result.stdout.strip()
    assert re.fullmatch(r"https://ca\.example\.com/enroll/[A-Za-z0-9_-]{43}", link)
    token = link.rsplit("/", 1)[1]
    row = db.session.scalar(select(EnrollmentLink))
    assert row.token_sha256 == hashlib.sha256(token.encode()).hexdigest()
    assert timedelta(hours=4, minutes=59) < row.expires_at - datetime.now(UTC) <= timedelta(hours=5)
    assert db.session.scalar(select(AuditEvent).filter_by(action="enroll.create")).actor.startswith(
        "cli:")
    default = runner.invoke(args=["enroll", "create", "--cn", "Kim"])
    assert default.exit_code == 0
    newest = db.session.scalars(select(EnrollmentLink).order_by(EnrollmentLink.id.desc())).first()
    assert newest.expires_at - newest.created_at == timedelta(hours=72)
    listing = runner.invoke(args=["enroll", "list"])
    assert "Sam Field" in listing.output and token not in listing.output
    bad = runner.invoke(args=["enroll", "create", "--cn", "Sam", "--email", "nope"])
    assert bad.exit_code == 1 and "not a valid e-mail" in bad.output


@pytest.mark.parametrize("key_type", ["rsa-2048", "ec-p256"])
def test_the_key_made_for_a_link_is_stored_nowhere(admin_web, stranger, app, instance, key_type):
    from cryptography.hazmat.primitives.serialization import pkcs12

    from tests.keyscan import places_holding_key

    _link, token = _create(admin_web, key_type=key_type)
    response = _use(stranger, token)
    assert response.status_code == 200
    key = pkcs12.load_pkcs12(response.data, P12_PASSWORD.encode()).key
    db.session.remove()
    assert places_holding_key(key, engine=db.engine, folders=[instance], p12=response.data,
                              password=P12_PASSWORD) == []
