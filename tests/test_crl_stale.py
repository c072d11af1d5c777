"""A CRL that cannot be re-signed: loud in /healthz and the log, never served expired."""

import logging
from datetime import timedelta

import pytest
from cryptography import x509
from sqlalchemy import select, update

from portal import create_app
from portal.extensions import db
from portal.models import AuditEvent, PublishedCRL
from portal.services import certificates
from portal.services import crl as crl_service
from tests.publishing import crl_number, fetch_crl, issue


@pytest.fixture
def without_secret(app, client, root_ca, instance):
    """A CA with a published CRL, then a fresh app (a new worker) whose CA secret is gone."""
    fetch_crl(client)
    (instance / "ca-secret").unlink()
    fresh = create_app({"TESTING": True})
    with fresh.app_context():
        yield fresh
        db.session.remove()
        db.engine.dispose()


def _set_times(*, this_update, next_update) -> None:
    table = PublishedCRL.__table__
    db.session.execute(update(table).values(this_update=this_update, next_update=next_update))
    db.session.commit()


def test_healthz_is_503_and_says_why_without_the_secret(without_secret):
    client = without_secret.test_client()
    # The stored CRL is still fresh: it is served as it is...
    assert client.get("/crl.der").status_code == 200
    # ...but health says loudly that nothing can be re-signed.
    response = client.get("/healthz")
    assert response.status_code == 503
    report = response.get_json()
    assert report["status"] == "error"
    (entry,) = report["cas"]
    assert entry["key_usable"] is False
    assert "CA secret" in entry["key_error"]
    assert any("CA secret" in problem for problem in report["problems"])


def test_a_due_crl_that_cannot_be_resigned_is_served_uncached_and_logged(without_secret, caplog):
    client = without_secret.test_client()
    now = crl_service.utcnow()
    _set_times(this_update=now - timedelta(days=5), next_update=now + timedelta(days=2))
    with caplog.at_level(logging.ERROR):
        response = client.get("/crl.der")
    assert response.status_code == 200  # still valid for two days
    assert response.cache_control.no_cache and response.cache_control.max_age == 0
    assert any("cannot be re-signed" in record.getMessage() and "CA secret" in
               record.getMessage() for record in caplog.records)
    report = client.get("/healthz").get_json()
    assert report["cas"][0]["crl"]["due"] is True


def test_an_expired_crl_is_never_served(without_secret):
    client = without_secret.test_client()
    now = crl_service.utcnow()
    _set_times(this_update=now - timedelta(days=8), next_update=now - timedelta(days=1))
    for path in ("/crl.der", "/crl.pem", "/ca/root/crl.der"):
        response = client.get(path)
        assert response.status_code == 503
        assert "expired" in response.get_data(as_text=True)
        assert response.cache_control.no_store
        assert response.headers["Retry-After"]
    report = client.get("/healthz").get_json()
    assert any("expired" in problem for problem in report["problems"])
    assert report["cas"][0]["crl"]["expired"] is True
    # The CA certificate does not depend on the key.
    assert client.get("/ca.crt").status_code == 200


def test_no_crl_and_no_secret_is_a_503(app, root_ca, instance):
    (instance / "ca-secret").unlink()
    fresh = create_app({"TESTING": True})
    with fresh.app_context():
        response = fresh.test_client().get("/crl.der")
        assert response.status_code == 503
        assert "no CRL yet" in response.get_data(as_text=True)
        db.session.remove()
        db.engine.dispose()


def test_a_revocation_without_the_secret_stands_and_is_caught_up(app, client, root_ca, instance,
                                                                  caplog):
    row, cert, _ = issue()
    before = crl_number(fetch_crl(client))
    (instance / "ca-secret").unlink()
    fresh = create_app({"TESTING": True})
    with fresh.app_context():
        with caplog.at_level(logging.ERROR):
            revoked = certificates.revoke_certificate(row.serial, actor="test")
        assert revoked.status == "revoked"
        assert any("cannot be re-signed" in record.getMessage() for record in caplog.records)
        failure = db.session.scalars(select(AuditEvent).filter_by(
            action="crl.publish", outcome="error")).one()
        assert "CA secret" in failure.detail
        db.session.remove()
        db.engine.dispose()
    (instance / "ca-secret").write_text("test-ca-secret-" + "x" * 32 + "\n")
    # The CRL is not due by its age, but it is older than a revocation: refresh re-signs it.
    (outcome,) = crl_service.refresh(actor="test")
    assert outcome.action == "published"
    crl = fetch_crl(client)
    assert crl_number(crl) > before
    assert crl.get_revoked_certificate_by_serial_number(cert.serial_number) is not None
    assert isinstance(crl, x509.CertificateRevocationList)


def test_next_update_never_passes_the_ca_expiry(app):
    from datetime import UTC, datetime, timedelta

    from cryptography import x509

    from portal.services.authorities import create_ca
    from portal.services.crl import publish, stored_der

    app.config["PORTAL_CRL_DAYS"] = 30
    create_ca("root", key_type="ec-p256", actor="test")
    short = create_ca("short", key_type="ec-p256", parent="root", days=3, actor="test")
    state = publish(short, actor="test")
    crl = x509.load_der_x509_crl(stored_der(state))
    assert crl.next_update_utc == short.not_after
    assert crl.next_update_utc < datetime.now(UTC) + timedelta(days=4)
