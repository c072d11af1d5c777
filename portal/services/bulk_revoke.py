"""Revoking several certificates at once: one reason, one transaction, one CRL per CA."""

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import select, update

from ..ca.revocation import parse_reason
from ..errors import Conflict, InvalidInput, NotFound
from ..extensions import db
from ..models import STATUS_REVOKED, Certificate
from ..translatable import N_
from . import audit, ocsp_store
from .crl import publish_after_revocation

MAX_BULK = 500  # certificates per request: more than a list page holds, less than a mistake


@dataclass(frozen=True)
class BulkRevocation:
    """What a bulk revocation did: the serials it revoked and those that already were."""

    reason: str
    revoked: list[str]
    already_revoked: list[str]


def revoke_many(certificate_ids: list[int], *, reason: str | None, actor: str) -> BulkRevocation:
    """Revoke the certificates with these ids with one reason; every CRL concerned re-signed.

    All are revoked in one transaction (each with its own audit event) or none are; their
    stored OCSP answers then say revoked, and each CA's CRL is re-signed once, so it lists
    all of them before this returns. Certificates
    already revoked are left as they are and reported; if every one was, it is a Conflict.
    """
    reason_name = parse_reason(reason)
    wanted = sorted(set(certificate_ids))
    if not wanted:
        raise InvalidInput(N_("select at least one certificate to revoke"), field="ids")
    if len(wanted) > MAX_BULK:
        raise InvalidInput(N_("at most %(max_bulk)s certificates at once"), field="ids",
            max_bulk=MAX_BULK)
    rows = list(db.session.scalars(select(Certificate).where(Certificate.id.in_(wanted))))
    if len(rows) != len(wanted):
        raise NotFound(N_("some of the selected certificates do not exist"), field="ids")
    now = datetime.now(UTC).replace(microsecond=0)
    revoked, already, ca_ids, revoked_rows = [], [], set(), []
    for row in sorted(rows, key=lambda certificate: certificate.id):
        changed = db.session.execute(
            update(Certificate)
            .where(Certificate.id == row.id, Certificate.status != STATUS_REVOKED)
            .values(status=STATUS_REVOKED, revoked_at=now, revocation_reason=reason_name)
        ).rowcount
        if not changed:
            already.append(row.serial)
            continue
        revoked.append(row.serial)
        revoked_rows.append((row.ca_id, row.serial))
        ca_ids.add(row.ca_id)
        audit.record("certificate.revoke", actor=actor, serial=row.serial,
                     detail=f"{reason_name} (one of {len(wanted)} revoked together)")
    if not revoked:
        db.session.rollback()
        raise Conflict(N_("every selected certificate is already revoked"), field="ids")
    db.session.commit()
    for ca_id, serial in revoked_rows:
        ocsp_store.after_revocation(ca_id, serial)  # stored answers say revoked first
    for ca_id in sorted(ca_ids):
        publish_after_revocation(ca_id, actor=actor)
    return BulkRevocation(reason=reason_name, revoked=revoked, already_revoked=already)
