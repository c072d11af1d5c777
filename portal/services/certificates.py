"""Finding, listing and revoking issued certificates."""

from datetime import UTC, datetime

from cryptography import x509
from sqlalchemy import select, update

from ..ca.revocation import parse_reason
from ..ca.serials import normalize_serial
from ..errors import Conflict, NotFound
from ..extensions import db
from ..models import STATUS_REVOKED, Certificate
from . import audit, ocsp_store
from .authorities import get_ca
from .crl import publish_after_revocation


def get_certificate(serial_text: str, *, ca_name: str | None = None) -> Certificate:
    """One certificate by serial (any notation), optionally within one CA."""
    serial = normalize_serial(serial_text)
    query = select(Certificate).filter_by(serial=serial)
    if ca_name:
        query = query.filter_by(ca_id=get_ca(ca_name).id)
    rows = list(db.session.scalars(query.limit(2)))
    if not rows:
        raise NotFound(f"no certificate with serial {serial}", field="serial")
    if len(rows) > 1:
        raise Conflict(f"serial {serial} exists under several CAs: name the CA", field="ca")
    return rows[0]


def list_certificates(*, status: str | None = None, limit: int = 1000) -> list[Certificate]:
    """The most recently created certificates, newest first."""
    query = select(Certificate).order_by(Certificate.id.desc()).limit(limit)
    if status:
        query = query.filter_by(status=status)
    return list(db.session.scalars(query))


def revoke_certificate(
    serial_text: str, *, reason: str | None = None, ca_name: str | None = None, actor: str
) -> Certificate:
    """Revoke a certificate (pending rows too, so crash leftovers can be put on the CRL)."""
    reason_name = parse_reason(reason)
    row = get_certificate(serial_text, ca_name=ca_name)
    now = datetime.now(UTC).replace(microsecond=0)
    changed = db.session.execute(
        update(Certificate)
        .where(Certificate.id == row.id, Certificate.status != STATUS_REVOKED)
        .values(status=STATUS_REVOKED, revoked_at=now, revocation_reason=reason_name)
    ).rowcount
    if not changed:
        db.session.rollback()
        raise Conflict(f"certificate {row.serial} is already revoked", field="serial")
    audit.record("certificate.revoke", actor=actor, serial=row.serial, detail=reason_name)
    db.session.commit()
    db.session.refresh(row)
    ocsp_store.after_revocation(row.ca_id, row.serial)  # stored answers say revoked first
    publish_after_revocation(row.ca_id, actor=actor)  # the CRL lists it before we return
    return row


def load_x509(row: Certificate) -> x509.Certificate | None:
    """The signed certificate of a row (None for a pending row)."""
    return x509.load_der_x509_certificate(row.der) if row.der else None


def _iso(moment: datetime | None) -> str | None:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ") if moment else None


def summary(row: Certificate) -> dict:
    """A certificate as plain JSON-ready values (for the CLI and the API)."""
    return {
        "serial": row.serial,
        "subject": row.subject,
        "common_name": row.common_name,
        "sans": [text for text in row.sans.split(", ") if text],
        "profile": row.profile,
        "status": row.status,
        "ca": row.ca.name,
        "key_type": row.key_type,
        "not_before": _iso(row.not_before),
        "not_after": _iso(row.not_after),
        "revoked_at": _iso(row.revoked_at),
        "revocation_reason": row.revocation_reason,
        "fingerprint_sha256": row.fingerprint_sha256,
        "owner": row.owner.username if row.owner else None,
    }
