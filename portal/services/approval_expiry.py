"""Approved requests for a key made here expire when nobody downloads them in time.

An approval for a server-generated key is a standing promise to make a key and a certificate;
left alone it would stay open for ever. It lasts PORTAL_APPROVAL_DOWNLOAD_DAYS from the
decision; after that it is marked expired (audited once, as `request.expire`) and the requester
asks again.
"""

from datetime import UTC, datetime, timedelta

from flask import current_app
from sqlalchemy import select, update

from ..errors import Gone
from ..extensions import db
from ..models import REQUEST_APPROVED, REQUEST_EXPIRED, CertificateRequest
from . import audit

SYSTEM_ACTOR = "system:approval-expiry"


class ApprovalExpired(Gone):
    """An approval that was not downloaded in time."""


def download_window() -> timedelta:
    """How long an approval waits for its download."""
    return timedelta(days=current_app.config["PORTAL_APPROVAL_DOWNLOAD_DAYS"])


def download_deadline(row: CertificateRequest) -> datetime | None:
    """Until when an approved (or expired) request can be downloaded; None if it never could."""
    if row.decided_at is None or row.status not in (REQUEST_APPROVED, REQUEST_EXPIRED):
        return None
    decided = row.decided_at
    if decided.tzinfo is None:
        decided = decided.replace(tzinfo=UTC)
    return decided + download_window()


def expired_message(row: CertificateRequest) -> str:
    """What the requester is told about an approval that ran out."""
    return (f"This approval expired on {download_deadline(row):%Y-%m-%d at %H:%M} UTC without "
            "being downloaded, and no key was made. Request the certificate again.")


def expire_overdue(user_id: int | None = None, *, now: datetime | None = None) -> int:
    """Mark approvals past their deadline as expired (one audit event each); how many."""
    cutoff = (now or datetime.now(UTC)) - download_window()
    query = select(CertificateRequest).where(CertificateRequest.status == REQUEST_APPROVED,
                                             CertificateRequest.decided_at < cutoff)
    if user_id is not None:
        query = query.where(CertificateRequest.requester_id == user_id)
    expired = 0
    for row in db.session.scalars(query.limit(1000)).all():
        changed = db.session.execute(
            update(CertificateRequest)
            .where(CertificateRequest.id == row.id, CertificateRequest.status == REQUEST_APPROVED)
            .values(status=REQUEST_EXPIRED)
        ).rowcount
        if changed:
            expired += 1
            audit.record("request.expire", actor=SYSTEM_ACTOR, detail=(
                f"request {row.id} of {row.requester.username}: approved "
                f"{row.decided_at:%Y-%m-%d %H:%M} UTC, not downloaded within "
                f"{download_window().days} days"))
    if expired:
        db.session.commit()
        db.session.expire_all()
    return expired


def refuse_if_expired(row: CertificateRequest, *, actor: str) -> None:
    """Refuse (410, audited) a download of an approval that has expired."""
    if row.status == REQUEST_EXPIRED:
        audit.record_now("request.download", actor=actor, outcome="denied",
                         detail=f"request {row.id}: the approval expired")
        db.session.commit()
        raise ApprovalExpired(expired_message(row), field="request")
