"""Revocations a restore must not lose: read from the live database, put back after restoring.

A CA never un-revokes. A backup predates every revocation made after it, so `portal restore`
reads the live database's recent revocations first (every certificate revoked since an hour
before the backup was taken, with its names), restores, and then makes each of them revoked
again in the restored database: the row is updated when the backup has it as issued or pending,
inserted when the backup predates the certificate altogether. The hour covers a revocation whose
time was taken just before the snapshot and committed just after it.
"""

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import delete, insert, select, update

from ..extensions import db
from ..models import (
    STATUS_REVOKED,
    Certificate,
    CertificateAuthority,
    CertificateName,
    OCSPResponse,
    User,
)
from . import audit

MARGIN = timedelta(hours=1)

_cert = Certificate.__table__
_names = CertificateName.__table__
_ca = CertificateAuthority.__table__
_user = User.__table__
_ocsp = OCSPResponse.__table__
_COPIED = [column for column in _cert.c if column.name not in ("id", "ca_id", "owner_id")]


@dataclass(frozen=True)
class Revocation:
    """A revoked certificate of the live database, with what is needed to recreate its row."""

    ca_fingerprint: str
    ca_name: str
    owner: str | None
    values: dict
    names: list[tuple[str, str]]

    @property
    def serial(self) -> str:
        """The certificate's serial (hex text)."""
        return self.values["serial"]


@dataclass
class CarryReport:
    """What carrying forward did: serials made revoked again, and those it could not place."""

    carried: list[Revocation] = field(default_factory=list)
    missing_ca: list[Revocation] = field(default_factory=list)


def live_revocations(since: datetime | None) -> list[Revocation]:
    """The live database's certificates revoked at or after `since` (all of them without it)."""
    query = (
        select(_ca.c.fingerprint_sha256, _ca.c.name, _user.c.username, _cert.c.id, *_COPIED)
        .select_from(_cert.join(_ca, _ca.c.id == _cert.c.ca_id)
                     .outerjoin(_user, _user.c.id == _cert.c.owner_id))
        .where(_cert.c.status == STATUS_REVOKED)
        .order_by(_cert.c.id)
    )
    if since is not None:
        query = query.where(_cert.c.revoked_at >= since - MARGIN)
    found = []
    for row in db.session.execute(query):
        fingerprint, ca_name, owner, row_id, *values = row
        names = db.session.execute(
            select(_names.c.kind, _names.c.value).where(_names.c.certificate_id == row_id)
            .order_by(_names.c.id)).all()
        found.append(Revocation(fingerprint, ca_name, owner,
                                dict(zip([c.name for c in _COPIED], values, strict=True)),
                                [tuple(name) for name in names]))
    db.session.remove()
    return found


def carry_forward(revocations: list[Revocation], *, actor: str) -> CarryReport:
    """Make every revocation true again in the (restored) database; audit each; commit."""
    report = CarryReport()
    cas = dict(db.session.execute(select(_ca.c.fingerprint_sha256, _ca.c.id)).all())
    for revocation in revocations:
        ca_id = cas.get(revocation.ca_fingerprint)
        if ca_id is None:
            report.missing_ca.append(revocation)
            continue
        values = revocation.values
        existing = db.session.execute(
            select(_cert.c.id, _cert.c.status)
            .where(_cert.c.ca_id == ca_id, _cert.c.serial == values["serial"])).first()
        if existing is not None and existing.status == STATUS_REVOKED:
            continue
        if existing is not None:
            db.session.execute(update(_cert).where(_cert.c.id == existing.id).values(
                status=STATUS_REVOKED, revoked_at=values["revoked_at"],
                revocation_reason=values["revocation_reason"]))
            how = "the backup had it as " + existing.status
        else:
            owner_id = db.session.scalar(
                select(_user.c.id).where(_user.c.username == revocation.owner)
            ) if revocation.owner else None
            new_id = db.session.execute(
                insert(_cert).values(ca_id=ca_id, owner_id=owner_id, **values)
                .returning(_cert.c.id)).scalar()
            if revocation.names:
                db.session.execute(insert(_names), [
                    {"certificate_id": new_id, "kind": kind, "value": value}
                    for kind, value in revocation.names])
            how = "the backup predates it"
        # The backup's stored OCSP answers may say "good": drop them, the next request signs.
        db.session.execute(delete(_ocsp).where(_ocsp.c.ca_id == ca_id,
                                               _ocsp.c.serial == values["serial"]))
        audit.record("certificate.revoke", actor=actor, serial=values["serial"],
                     detail=f"{values['revocation_reason'] or 'unspecified'}: carried forward "
                            f"by a restore ({how})")
        report.carried.append(revocation)
    db.session.commit()
    return report
