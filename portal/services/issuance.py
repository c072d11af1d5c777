"""Issuing certificates: check the request, record a pending row, sign, store."""

from datetime import UTC, datetime

from cryptography import x509
from flask import current_app
from sqlalchemy.exc import IntegrityError

from ..ca.csr import load_csr
from ..ca.names import common_name_of, describe_general_name
from ..ca.pem import to_der
from ..ca.profiles import Profile, apply_profile, get_profile, validity_window
from ..ca.serials import random_serial, serial_to_hex
from ..ca.signer import build_certificate, fingerprint_sha256
from ..errors import PortalError
from ..extensions import db
from ..models import STATUS_ISSUED, STATUS_PENDING, Certificate, CertificateName
from . import audit
from .authorities import get_ca, get_signer, urls_for

SERIAL_ATTEMPTS = 5


def validity_days(profile: Profile, days: int | None) -> int:
    """The requested validity, or the profile's default, capped by configuration."""
    config = current_app.config
    default = config[f"PORTAL_{profile.name.upper()}_DAYS"]
    return min(days or default, config["PORTAL_MAX_DAYS"])


def issue_from_csr(
    csr_data: bytes,
    profile_name: str,
    *,
    ca_name: str | None = None,
    days: int | None = None,
    owner_id: int | None = None,
    actor: str,
) -> Certificate:
    """Issue a leaf certificate for a CSR; return its committed row (status issued)."""
    config = current_app.config
    request = load_csr(
        csr_data, max_bytes=config["PORTAL_MAX_CSR_BYTES"], max_sans=config["PORTAL_MAX_SANS"]
    )
    profile = get_profile(profile_name, leaf_only=True)
    subject, sans = apply_profile(profile, request.subject, request.sans)
    return issue_for_key(
        request.public_key, request.key_type, subject, sans, profile,
        ca_name=ca_name, days=days, owner_id=owner_id, actor=actor,
    )


def issue_for_key(
    public_key,
    key_type: str,
    subject: x509.Name,
    sans: tuple[x509.GeneralName, ...],
    profile: Profile,
    *,
    ca_name: str | None,
    days: int | None,
    owner_id: int | None,
    actor: str,
) -> Certificate:
    """Sign a checked subject, SANs and public key; the row is committed before signing."""
    ca = get_ca(ca_name)
    signer = get_signer(ca)  # fails before anything is written when the CA key is unusable
    urls = urls_for(ca)
    not_before, not_after = validity_window(
        datetime.now(UTC), validity_days(profile, days), ca_not_after=signer.not_after
    )
    row, serial = _record_pending(
        ca.id, subject, sans, profile.name, key_type, not_before, not_after, owner_id
    )
    try:
        certificate = build_certificate(
            signer, public_key=public_key, subject=subject, sans=sans, profile=profile,
            serial=serial, not_before=not_before, not_after=not_after, urls=urls,
        )
    except Exception as exc:
        audit.record_now(
            "certificate.issue", actor=actor, serial=row.serial, outcome="error",
            detail=f"signing failed, row left pending: {exc}",
        )
        raise
    row.der = to_der(certificate)
    row.fingerprint_sha256 = fingerprint_sha256(certificate)
    row.status = STATUS_ISSUED
    audit.record(
        "certificate.issue", actor=actor, serial=row.serial,
        detail=f"{profile.name} {row.subject} by {ca.name}",
    )
    db.session.commit()
    return row


def _record_pending(
    ca_id, subject, sans, profile_name, key_type, not_before, not_after, owner_id
) -> tuple[Certificate, int]:
    """Insert the pending row with a fresh random serial, retrying on a (rare) collision."""
    subject_text = subject.rfc4514_string()
    described = [describe_general_name(name) for name in sans]
    for _attempt in range(SERIAL_ATTEMPTS):
        serial = random_serial()
        row = Certificate(
            ca_id=ca_id,
            serial=serial_to_hex(serial),
            common_name=common_name_of(subject),
            subject=subject_text,
            sans=", ".join(described),
            profile=profile_name,
            key_type=key_type,
            not_before=not_before,
            not_after=not_after,
            status=STATUS_PENDING,
            owner_id=owner_id,
            names=[
                CertificateName(kind=text.split(":", 1)[0], value=text.split(":", 1)[1].lower())
                for text in described
            ],
        )
        db.session.add(row)
        try:
            db.session.commit()
        except IntegrityError:
            db.session.rollback()
            continue
        return row, serial
    raise PortalError("could not allocate a unique serial number; try again")
