"""A restore never un-revokes and never reuses a CRL number (SQLite and PostgreSQL)."""

import re

import pytest
from cryptography import x509
from sqlalchemy import select

from portal.extensions import db
from portal.models import STATUS_REVOKED, Certificate
from portal.services import certificates
from tests.conftest import run_portal
from tests.publishing import crl_number, fetch_crl, issue
from tests.reliability.conftest import BACKENDS
from tests.test_crl_concurrency import _publish_events

pytestmark = [pytest.mark.slow, pytest.mark.parametrize("backend", BACKENDS, indirect=True)]


def _release() -> None:
    """Close our connections: pg_restore --clean waits for every session that read a table."""
    db.session.remove()
    db.engine.dispose()


def test_restore_keeps_later_revocations_and_crl_numbers_grow(app, client, root_ca, tmp_path):
    from portal.models import WebSession
    from portal.services import sessions, users

    user, _ = users.create_user("sam", role="user", password="sam-password-0123", actor="t")
    sessions.start(user.id)  # in the backup: it must not come back to life after the restore
    db.session.commit()
    issued = [issue(name=f"user{index}") for index in range(4)]
    certificates.revoke_certificate(issued[0][0].serial, actor="test")
    fetch_crl(client)
    _release()
    backup_file = tmp_path / "portal.backup"
    made = run_portal("backup", "--out", str(backup_file))
    assert made.returncode == 0, made.stderr.decode()
    assert re.search(rb"bytes, 4 certificates\)", made.stdout), made.stdout

    # After the backup: three revocations of certificates it has, one of a newer certificate.
    later = [*issued[1:], issue(name="newcomer")]
    published = set()
    for row, _cert, _key in later:
        certificates.revoke_certificate(row.serial, reason="keyCompromise", actor="test")
        published.add(crl_number(fetch_crl(client)))
    published |= {number for _outcome, number in _publish_events()}
    _release()

    restored = run_portal("restore", str(backup_file), "--force")
    assert restored.returncode == 0, restored.stderr.decode()
    output = restored.stdout.decode()
    assert "4 revocations made after the backup are kept" in output
    for row, _cert, _key in later:
        assert f"revoked: {row.serial} of CA root" in output
    assert re.search(r"root: published CRL number \d+", output)

    assert db.session.scalar(select(WebSession.id)) is None  # everyone signs in again
    revoked = {cert.serial_number for _row, cert, _key in issued + later}
    rows = db.session.scalars(select(Certificate)).all()
    assert {int(row.serial, 16) for row in rows if row.status == STATUS_REVOKED} == revoked
    crl = fetch_crl(client)
    assert {entry.serial_number for entry in crl} == revoked
    assert crl_number(crl) > max(published)
    reasons = {entry.serial_number: entry.extensions.get_extension_for_class(x509.CRLReason)
               .value.reason for entry in crl if entry.serial_number != issued[0][1].serial_number}
    assert set(reasons.values()) == {x509.ReasonFlags.key_compromise}

    # The next revocation: a number above every one published, before and after the restore.
    after_restore = crl_number(crl)
    row, cert, _key = issue(name="after")
    certificates.revoke_certificate(row.serial, actor="test")
    next_crl = fetch_crl(client)
    assert crl_number(next_crl) > after_restore
    assert cert.serial_number in {entry.serial_number for entry in next_crl}
    # The audit log is the backup's again, plus what was signed since the restore.
    signed_since = [number for _outcome, number in _publish_events() if number not in published]
    assert signed_since == [after_restore, crl_number(next_crl)]
    _release()

    again = run_portal("restore", str(backup_file), "--force")  # nothing new to carry: still kept
    assert again.returncode == 0, again.stderr.decode()
    assert "5 revocations made after the backup are kept" in again.stdout.decode()
    assert {entry.serial_number for entry in fetch_crl(client)} == revoked | {cert.serial_number}
