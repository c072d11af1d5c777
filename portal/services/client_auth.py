"""Authenticating a client certificate against the portal's CAs and its records."""

from dataclasses import dataclass
from datetime import UTC, datetime

from cryptography import x509
from flask import current_app
from sqlalchemy import select

from ..ca.clientcert import check_client_certificate
from ..ca.serials import serial_to_hex
from ..ca.signer import fingerprint_sha256
from ..errors import ClientCertificateMissing, ClientCertificateRefused
from ..extensions import db
from ..models import STATUS_ISSUED, STATUS_REVOKED, Certificate, CertificateAuthority


@dataclass(frozen=True)
class ClientIdentity:
    """Who a verified client certificate says the caller is."""

    subject: str
    serial: str
    issuer: str
    not_after: datetime


def _authorities() -> dict[x509.Certificate, int]:
    """The CA certificates (parsed once per process) and their ids."""
    cache: dict = current_app.extensions.setdefault("portal.ca_certificates", {})
    result = {}
    for ca_id, fingerprint, der in db.session.execute(
        select(
            CertificateAuthority.id,
            CertificateAuthority.fingerprint_sha256,
            CertificateAuthority.certificate_der,
        )
    ):
        parsed = cache.get(fingerprint)
        if parsed is None:
            parsed = cache[fingerprint] = x509.load_der_x509_certificate(der)
        result[parsed] = ca_id
    return result


def authenticate_client(certificate: x509.Certificate | None) -> ClientIdentity:
    """Accept a certificate of this portal's CA: valid now, clientAuth, known and not revoked.

    The status is read from the database on every call, so a revocation takes effect on the
    very next request.
    """
    if certificate is None:
        raise ClientCertificateMissing(
            "a client certificate is required: present one issued by this portal"
        )
    authorities = _authorities()
    issuer = check_client_certificate(certificate, list(authorities), now=datetime.now(UTC))
    serial = serial_to_hex(certificate.serial_number)
    row = db.session.execute(
        select(Certificate.status, Certificate.fingerprint_sha256).filter_by(
            ca_id=authorities[issuer], serial=serial
        )
    ).first()
    if row is None:
        raise ClientCertificateRefused(f"this portal has no record of certificate {serial}")
    if row.status == STATUS_REVOKED:
        raise ClientCertificateRefused(f"certificate {serial} has been revoked")
    if row.status != STATUS_ISSUED or row.fingerprint_sha256 != fingerprint_sha256(certificate):
        raise ClientCertificateRefused(f"certificate {serial} is not recorded as issued")
    return ClientIdentity(
        subject=certificate.subject.rfc4514_string(),
        serial=serial,
        issuer=issuer.subject.rfc4514_string(),
        not_after=certificate.not_valid_after_utc,
    )
