"""Authenticating a client certificate against the portal's CAs and its records.

A certificate forwarded by a reverse proxy (`X-SSL-Client-Cert`) is believed only on a
connection that comes from a PORTAL_TRUSTED_PROXIES address AND presents, over TLS, a valid,
unrevoked proxy certificate of this portal (see proxy_certs): the header alone is a public
document anyone can send.
"""

from dataclasses import dataclass
from datetime import UTC, datetime

from cryptography import x509
from flask import current_app
from sqlalchemy import select

from ..ca.clientcert import check_client_certificate, load_forwarded_certificate
from ..ca.profiles import PROXY_PROFILE
from ..ca.serials import serial_to_hex
from ..ca.signer import fingerprint_sha256
from ..errors import ClientCertificateMissing, ClientCertificateRefused, PortalError
from ..extensions import db
from ..models import STATUS_ISSUED, STATUS_REVOKED, Certificate
from ..proxies import is_trusted
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


def _recorded(certificate: x509.Certificate) -> tuple[x509.Certificate, str, str]:
    """Check chain, validity and usage, then the record: (issuer, serial, profile) if issued."""
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
        select(Certificate.status, Certificate.fingerprint_sha256, Certificate.profile).filter_by(
            ca_id=state.id, serial=serial
        )
    ).first()
    if row is None:
        raise ClientCertificateRefused(f"this portal has no record of certificate {serial}")
    if row.status == STATUS_REVOKED:
        raise ClientCertificateRefused(f"certificate {serial} has been revoked")
    if row.status != STATUS_ISSUED or row.fingerprint_sha256 != fingerprint_sha256(certificate):
        raise ClientCertificateRefused(f"certificate {serial} is not recorded as issued")
    return issuer, serial, row.profile


def authenticate_client(certificate: x509.Certificate | None) -> ClientIdentity:
    """Accept a certificate of this portal's CA: valid now, clientAuth, known and not revoked.

    The status, and that of the issuing CA and every CA above it, is read from the database on
    every call, so a revocation (of the leaf or of a CA) takes effect on the very next request.
    A proxy's own certificate stands for nobody.
    """
    if certificate is None:
        raise ClientCertificateMissing(
            "a client certificate is required: present one issued by this portal"
        )
    issuer, serial, profile = _recorded(certificate)
    if profile == PROXY_PROFILE.name:
        raise ClientCertificateRefused(
            f"certificate {serial} is a proxy's certificate: it identifies no client"
        )
    return ClientIdentity(
        subject=certificate.subject.rfc4514_string(),
        serial=serial,
        issuer=issuer.subject.rfc4514_string(),
        not_after=certificate.not_valid_after_utc,
    )


def is_trusted_proxy(peer: x509.Certificate | None, peer_address: str | None) -> bool:
    """Whether a connection is a trusted proxy's: a listed address AND a valid proxy certificate.

    The address must be in PORTAL_TRUSTED_PROXIES, and the TLS peer certificate an unrevoked
    certificate of the `proxy` profile (read from the database on every request).
    """
    networks = current_app.extensions.get("portal.trusted_proxies", ())
    if peer is None or not is_trusted(peer_address, networks):
        return False
    try:
        return _recorded(peer)[2] == PROXY_PROFILE.name
    except PortalError:
        return False


def authenticate_connection(
    peer: x509.Certificate | None, forwarded: str | None, peer_address: str | None
) -> ClientIdentity:
    """Authenticate a connection's client: forwarded by a trusted proxy, or its own certificate.

    From a trusted proxy (see is_trusted_proxy) the header is the client's certificate (none
    without it); from anyone else the header is ignored.
    """
    if is_trusted_proxy(peer, peer_address):
        return authenticate_client(
            load_forwarded_certificate(forwarded) if forwarded is not None else None
        )
    return authenticate_client(peer)
