"""Finding, listing and revoking issued certificates."""

from datetime import UTC, datetime

from cryptography import x509
from sqlalchemy import select, update

from ..ca.revocation import parse_reason
from ..ca.serials import normalize_serial
from ..clock import iso_utc
from ..errors import Conflict, NotFound
from ..extensions import db
from ..models import STATUS_REVOKED, Certificate, User
from ..translatable import N_
from . import audit, cache, ocsp_store
from .authorities import get_ca, list_cas
from .crl import publish_after_revocation


def find_certificate(
    serial_text: str,
    *,
    ca_name: str | None = None,
    owner_id: int | None = None,
    name_the_ca: str = "name the CA",
) -> Certificate:
    """One certificate by serial (any notation), optionally within one CA or of one owner.

    With `owner_id`, someone else's certificate is NotFound, exactly as an unknown serial, so
    that its existence does not leak. `name_the_ca` is how the caller's user names a CA, for
    the error when the serial exists under several.
    """
    serial = normalize_serial(serial_text)
    query = select(Certificate).filter_by(serial=serial)
    if owner_id is not None:
        query = query.filter_by(owner_id=owner_id)
    if ca_name:
        query = query.filter_by(ca_id=get_ca(ca_name).id)
    rows = list(db.session.scalars(query.limit(2)))
    if not rows:
        raise NotFound(N_("no certificate with serial %(serial)s"), field="serial",
            serial=serial)
    if len(rows) > 1:
        raise Conflict(N_("serial %(serial)s exists under several CAs: %(name_the_ca)s"),
                       field="ca",
            serial=serial, name_the_ca=name_the_ca)
    return rows[0]


def get_certificate(serial_text: str, *, ca_name: str | None = None) -> Certificate:
    """One certificate by serial: the older name of `find_certificate`, kept for its callers."""
    return find_certificate(serial_text, ca_name=ca_name)


def certificate_by_id(certificate_id: int, *, owner_id: int | None = None) -> Certificate:
    """One certificate by id; with `owner_id`, only that owner's (anyone else's is NotFound)."""
    row = db.session.get(Certificate, certificate_id)
    if row is None or (owner_id is not None and row.owner_id != owner_id):
        raise NotFound(N_("no certificate with id %(certificate_id)s"),
            certificate_id=certificate_id)
    return row


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
    row = find_certificate(serial_text, ca_name=ca_name)
    now = datetime.now(UTC).replace(microsecond=0)
    changed = db.session.execute(
        update(Certificate)
        .where(Certificate.id == row.id, Certificate.status != STATUS_REVOKED)
        .values(status=STATUS_REVOKED, revoked_at=now, revocation_reason=reason_name)
    ).rowcount
    if not changed:
        db.session.rollback()
        raise Conflict(N_("certificate %(serial)s is already revoked"), field="serial",
            serial=row.serial)
    audit.record("certificate.revoke", actor=actor, serial=row.serial, detail=reason_name)
    db.session.commit()
    db.session.refresh(row)
    ocsp_store.after_revocation(row.ca_id, row.serial)  # stored answers say revoked first
    publish_after_revocation(row.ca_id, actor=actor)  # the CRL lists it before we return
    return row


def load_x509(row: Certificate) -> x509.Certificate | None:
    """The signed certificate of a row (None for a pending row)."""
    return x509.load_der_x509_certificate(row.der) if row.der else None



def ca_name_of(ca_id: int) -> str:
    """The name of a CA by id, cached per process (a CA's name never changes)."""
    names = cache.table("certificates.ca_names")
    if ca_id not in names:
        names.update((ca.id, ca.name) for ca in list_cas())
    return names.get(ca_id, "?")


def owner_names(owner_ids: set[int]) -> dict[int, str]:
    """User id -> user name, for the owners of some certificates (one query)."""
    if not owner_ids:
        return {}
    return dict(db.session.execute(
        select(User.id, User.username).where(User.id.in_(owner_ids))
    ).all())


def summaries(rows, *, owners: dict[int, str] | None = None) -> list[dict]:
    """Certificates as plain JSON-ready values, the fields the CLI and the API show.

    `rows` are Certificate rows or just-issued certificates; `owners` (id -> name) may hold
    names already known, the others are read in one query.
    """
    known = dict(owners or {})
    known.update(owner_names({row.owner_id for row in rows if row.owner_id is not None
                              and row.owner_id not in known}))
    return [{
        "serial": row.serial,
        "subject": row.subject,
        "common_name": row.common_name,
        "sans": [text for text in (row.sans or "").split(", ") if text],
        "profile": row.profile,
        "status": row.status,
        "ca": ca_name_of(row.ca_id),
        "key_type": row.key_type,
        "not_before": iso_utc(row.not_before),
        "not_after": iso_utc(row.not_after),
        "revoked_at": iso_utc(row.revoked_at),
        "revocation_reason": row.revocation_reason,
        "fingerprint_sha256": row.fingerprint_sha256,
        "owner": known.get(row.owner_id),
    } for row in rows]


def summary(row: Certificate) -> dict:
    """One certificate as plain JSON-ready values (see `summaries`)."""
    return summaries([row])[0]
