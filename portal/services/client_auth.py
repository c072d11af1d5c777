"""Authenticating a client certificate against the portal's CAs and its records."""

from dataclasses import dataclass
from datetime import UTC, datetime

from cryptography import x509
from sqlalchemy import select

from ..ca.clientcert import check_client_certificate
from ..ca.serials import serial_to_hex
from ..ca.signer import fingerprint_sha256
from ..errors import ClientCertificateMissing, ClientCertificateRefused
from ..extensions import db
from ..models import STATUS_ISSUED, STATUS_REVOKED, Certificate
from . import ca_state, cache
from .ca_state import CAStates


@dataclass(frozen=True)
class ClientIdentity:
    """Who a verified client certificate says the caller is."""

    subject: str
    serial: str
    issuer: str
    not_after: datetime


def _authorities() -> tuple[dict[x509.Certificate, int], CAStates]:
    """The CA certificates (parsed once per process) with their ids, and each CA's state now.

    One query: the CA rows, each joined to its own certificate's row under its parent.
    """
    parsed_by_fingerprint = cache.table("client_auth.ca_certificates")
    rows = db.session.execute(ca_state.STATES_WITH_CERTIFICATES).all()
    result = {}
    for row in rows:
        parsed = parsed_by_fingerprint.get(row.fingerprint_sha256)
        if parsed is None:
            parsed = parsed_by_fingerprint[row.fingerprint_sha256] = (
                x509.load_der_x509_certificate(row.certificate_der)
            )
        result[parsed] = row.id
    return result, CAStates(rows)


def authenticate_client(certificate: x509.Certificate | None) -> ClientIdentity:
    """Accept a certificate of this portal's CA: valid now, clientAuth, known and not revoked.

    The status, and that of the issuing CA and every CA above it, is read from the database on
    every call, so a revocation (of the leaf or of a CA) takes effect on the very next request.
    """
    if certificate is None:
        raise ClientCertificateMissing(
            "a client certificate is required: present one issued by this portal"
        )
    authorities, states = _authorities()
    issuer = check_client_certificate(certificate, list(authorities), now=datetime.now(UTC))
    serial = serial_to_hex(certificate.serial_number)
    state = states[authorities[issuer]]
    if not state.usable:
        raise ClientCertificateRefused(
            f"certificate {serial} was issued by CA {state.name}, which can no longer be "
            f"trusted: {state.problem}"
        )
    row = db.session.execute(
        select(Certificate.status, Certificate.fingerprint_sha256).filter_by(
            ca_id=state.id, serial=serial
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
