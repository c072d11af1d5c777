"""Migration 0018 folds the old notice rows (one per channel) into one row per threshold.

On SQLite and on a real PostgreSQL: a database at 0017 with sent warnings, a claim in flight
and a webhook marker is upgraded; the sent ones stay sent (the job does not repeat them), the
claim left in flight is retried once it is stale, and the downgrade gives the old rows back.
"""

from datetime import timedelta

import pytest
from flask_migrate import downgrade, upgrade
from sqlalchemy import text

from portal.extensions import db
from portal.models import ExpiryNotice, utcnow
from portal.services import notify_claims
from tests.notifying import issue
from tests.reliability.conftest import BACKENDS

pytestmark = pytest.mark.parametrize("backend", BACKENDS, indirect=True)

OLD = ("INSERT INTO expiry_notices (certificate_id, threshold_days, channel, claimed_at, "
       "sent_at) VALUES (:certificate, :days, :channel, :claimed, :sent)")


def _old_rows() -> list[tuple]:
    return sorted(tuple(row) for row in db.session.execute(text(
        "SELECT certificate_id, threshold_days, channel, claimed_at, sent_at "
        "FROM expiry_notices")))


def test_upgrade_folds_old_rows_and_downgrade_unfolds_them(app, root_ca, backend):
    first = issue("a.example.org", days_left=10).id
    second = issue("b.example.org", days_left=20).id
    db.session.remove()
    downgrade(revision="0017")
    sent = (utcnow() - timedelta(days=2)).replace(tzinfo=None, microsecond=0)
    stale = sent + timedelta(hours=1)
    rows = [(first, 14, "owner", sent, sent), (first, 14, "admins", sent, sent),
            (first, 14, "webhook", sent, sent), (first, 30, "owner", sent, sent),
            (second, 30, "admins", stale, None)]  # a dead host's claim
    for certificate, days, channel, claimed, at in rows:
        db.session.execute(text(OLD), {"certificate": certificate, "days": days,
                                       "channel": channel, "claimed": claimed, "sent": at})
    db.session.commit()
    before = _old_rows()
    db.session.remove()

    upgrade(revision="0018")
    notices = {(notice.certificate_id, notice.threshold_days): notice
               for notice in db.session.scalars(db.select(ExpiryNotice))}
    assert sorted(notices) == [(first, 14), (first, 30), (second, 30)]
    assert set(notices[(first, 14)].sent()) == {"owner", "admins", "webhook"}
    assert set(notices[(first, 30)].sent()) == {"owner"}
    claim = notices[(second, 30)]
    assert claim.sent() == {} and claim.admins_claim == 0  # no run's token
    assert claim.owner_at is None and claim.webhook_at is None
    notify_claims.forget_stale(utcnow())  # stale: emptied, so the next run sends it
    db.session.commit()
    db.session.refresh(claim)
    assert claim.admins_at is None and claim.admins_claim is None
    assert set(db.session.get(ExpiryNotice, notices[(first, 14)].id).sent()) == {
        "owner", "admins", "webhook"}
    db.session.remove()

    downgrade(revision="0017")
    assert _old_rows() == sorted(before[:4])  # the emptied claim is gone, as it was deleted
    db.session.remove()
    upgrade()
