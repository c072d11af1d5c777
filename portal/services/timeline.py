"""A certificate's timeline: what happened to it, oldest first, from the audit log and the tables.

The audit log names a certificate by its serial (issued, key generated, downloaded, revoked,
a renewal asked for, an approval that issued it). The request that led to it, the expiry
warnings sent and the stored OCSP answers come from their own tables; the first CRL published
after a revocation (the one that lists it) is found among the `crl.publish` events of its CA.
"""

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from ..extensions import db
from ..models import AuditEvent, Certificate, CertificateRequest
from ..notification_models import ExpiryNotice
from ..ocsp_models import OCSPResponse

# Audit actions that the tables tell better (with the request's own times) are left out.
_TOLD_BY_TABLES = ("request.approve", "notify.mail")


@dataclass(frozen=True)
class TimelineEntry:
    """One thing that happened: when, what (an audit action or a table's event), who, detail."""

    at: datetime
    kind: str
    actor: str = ""
    detail: str = ""
    outcome: str = "ok"


def _audit_entries(row: Certificate) -> list[TimelineEntry]:
    events = db.session.scalars(
        select(AuditEvent).where(AuditEvent.serial == row.serial).order_by(AuditEvent.id)
    )
    return [TimelineEntry(event.at, event.action, event.actor, event.detail, event.outcome)
            for event in events if event.action not in _TOLD_BY_TABLES]


def _request_entries(row: Certificate) -> list[TimelineEntry]:
    entries = []
    requests = db.session.scalars(
        select(CertificateRequest).where(CertificateRequest.certificate_id == row.id)
    )
    for request in requests:
        entries.append(TimelineEntry(request.created_at, "request.created",
                                     request.requester.username, f"request {request.id}"))
        if request.decided_at:
            entries.append(TimelineEntry(request.decided_at, "request.approved",
                                         request.decided_by or "", request.comment or ""))
    return entries


def _notice_entries(row: Certificate) -> list[TimelineEntry]:
    notices = db.session.scalars(
        select(ExpiryNotice).where(ExpiryNotice.certificate_id == row.id))
    return [TimelineEntry(at, "notify.expiry",
                          detail=f"{notice.threshold_days} days before it expires, by {channel}")
            for notice in notices for channel, at in notice.sent().items()]


def _ocsp_entries(row: Certificate) -> list[TimelineEntry]:
    answers = db.session.execute(
        select(OCSPResponse.this_update, OCSPResponse.status).where(
            OCSPResponse.ca_id == row.ca_id, OCSPResponse.serial == row.serial)
    )
    return [TimelineEntry(this_update, "ocsp.answer", detail=status)
            for this_update, status in sorted(set(answers))]


def _crl_entry(row: Certificate, revoked_after: int | None) -> list[TimelineEntry]:
    """The first CRL of the certificate's CA published after its revocation."""
    if revoked_after is None:
        return []
    name = row.ca.name
    event = db.session.scalar(
        select(AuditEvent).where(
            AuditEvent.action == "crl.publish", AuditEvent.id > revoked_after,
            AuditEvent.detail.startswith(f"CA {name}:", autoescape=True),
        ).order_by(AuditEvent.id).limit(1)
    )
    if event is None:
        return []
    return [TimelineEntry(event.at, "crl.listed", event.actor, event.detail)]


def certificate_timeline(row: Certificate) -> list[TimelineEntry]:
    """Everything recorded about the certificate, oldest first."""
    revoked_after = None
    if row.revoked_at is not None:
        revoked_after = db.session.scalar(
            select(AuditEvent.id).where(AuditEvent.serial == row.serial,
                                        AuditEvent.action == "certificate.revoke")
            .order_by(AuditEvent.id).limit(1)
        )
    entries = (_request_entries(row) + _audit_entries(row) + _notice_entries(row)
               + _ocsp_entries(row) + _crl_entry(row, revoked_after))
    return sorted(entries, key=lambda entry: entry.at)
