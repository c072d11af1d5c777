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
from sqlalchemy import bindparam, select

from ..ca.clientcert import (
    check_client_certificate,
    load_forwarded_certificate,
    load_presented_certificate,
)
from ..ca.profiles import PROXY_PROFILE
from ..ca.serials import serial_to_hex
from ..ca.signer import fingerprint_sha256
from ..errors import ClientCertificateMissing, ClientCertificateRefused, PortalError
from ..extensions import db
from ..models import STATUS_ISSUED, STATUS_REVOKED, Certificate
from ..proxies import is_trusted
from ..translatable import N_
from . import ca_state, cache
from .ca_state import CAStates
from .driver import thread_connection

# A signature check costs as much as a TLS handshake's own: each (content-addressed) leaf's is
# made once per process. Its record, and its CA's, are still read on every request.
_VERIFIED_KEPT = 10_000
_RECORD = select(Certificate.status, Certificate.fingerprint_sha256, Certificate.profile).where(
    Certificate.ca_id == bindparam("ca_id"), Certificate.serial == bindparam("serial")
)


@dataclass(frozen=True)
class ClientIdentity:
    """Who a verified client certificate says the caller is.

    The names are spelled out only when asked for (a plain "pong" needs none of them).
    """

    certificate: x509.Certificate
    issuer_certificate: x509.Certificate
    serial: str

    @property
    def subject(self) -> str:
        """The certificate's subject, RFC 4514."""
        return self.certificate.subject.rfc4514_string()

    @property
    def issuer(self) -> str:
        """The issuing CA's subject, RFC 4514."""
        return self.issuer_certificate.subject.rfc4514_string()

    @property
    def not_after(self) -> datetime:
        """The end of the certificate's validity."""
        return self.certificate.not_valid_after_utc


def _authorities() -> tuple[dict[x509.Certificate, int], CAStates]:
    """The CA certificates (parsed once per process) with their ids, and each CA's state now.

    One query: the CA rows, each joined to its own certificate's row under its parent.
    """
    parsed_by_fingerprint = cache.table("client_auth.ca_certificates")
    with thread_connection(db.engine) as connection:  # no session: see services/driver.py
        rows = ca_state.ca_states_with_certificates_on(connection)
    result = {}
    for row in rows:
        ca_id, fingerprint, der = row[0], row[4], row[8]
        parsed = parsed_by_fingerprint.get(fingerprint)
        if parsed is None:
            parsed = parsed_by_fingerprint[fingerprint] = x509.load_der_x509_certificate(der)
        result[parsed] = ca_id
    return result, CAStates(rows)


def presented_certificate(der: bytes) -> x509.Certificate:
    """The certificate a TLS peer presented, from its DER: parsed once per process.

    The same object comes back for the same bytes, so its fingerprint and its extensions are
    worked out once too; nothing about its standing is kept (see _recorded).
    """
    parsed = cache.table("client_auth.presented")  # DER -> the parsed certificate
    certificate = parsed.get(der)
    if certificate is None:
        certificate = load_presented_certificate(der)
        if len(parsed) >= _VERIFIED_KEPT:
            parsed.clear()
        parsed[der] = certificate
    return certificate


def _fingerprint(certificate: x509.Certificate) -> str:
    fingerprints = cache.table("client_auth.fingerprints")  # certificate -> SHA-256 hex
    fingerprint = fingerprints.get(certificate)
    if fingerprint is None:
        if len(fingerprints) >= _VERIFIED_KEPT:
            fingerprints.clear()
        fingerprint = fingerprints[certificate] = fingerprint_sha256(certificate)
    return fingerprint


def _recorded(certificate: x509.Certificate) -> tuple[x509.Certificate, str, str]:
    """Check chain, validity and usage, then the record: (issuer, serial, profile) if issued."""
    authorities, states = _authorities()
    fingerprint = _fingerprint(certificate)
    verified = cache.table("client_auth.verified")  # leaf fingerprint -> the CA that signed it
    known = verified.get(fingerprint)
    if known not in authorities:  # not verified yet, or its CA is gone
        known = None
    issuer = check_client_certificate(
        certificate, list(authorities), now=datetime.now(UTC), issuer=known
    )
    if known is None:
        if len(verified) >= _VERIFIED_KEPT:
            verified.clear()
        verified[fingerprint] = issuer
    serial = serial_to_hex(certificate.serial_number)
    state = states[authorities[issuer]]
    if not state.usable:
        raise ClientCertificateRefused(
            N_("certificate %(serial)s was issued by CA %(name)s, which can no longer be "
               "trusted: %(problem)s"),
            serial=serial, name=state.name, problem=state.problem
        )
    with thread_connection(db.engine) as connection:
        row = connection.first(_RECORD, {"ca_id": state.id, "serial": serial})
    if row is None:
        raise ClientCertificateRefused(N_("this portal has no record of certificate %(serial)s"),
            serial=serial)
    status, recorded_fingerprint, profile = row
    if status == STATUS_REVOKED:
        raise ClientCertificateRefused(N_("certificate %(serial)s has been revoked"),
            serial=serial)
    if status != STATUS_ISSUED or recorded_fingerprint != fingerprint:
        raise ClientCertificateRefused(N_("certificate %(serial)s is not recorded as issued"),
            serial=serial)
    return issuer, serial, profile


def authenticate_client(certificate: x509.Certificate | None) -> ClientIdentity:
    """Accept a certificate of this portal's CA: valid now, clientAuth, known and not revoked.

    The status, and that of the issuing CA and every CA above it, is read from the database on
    every call, so a revocation (of the leaf or of a CA) takes effect on the very next request.
    A proxy's own certificate stands for nobody.
    """
    if certificate is None:
        raise ClientCertificateMissing(
            N_("a client certificate is required: present one issued by this portal")
        )
    issuer, serial, profile = _recorded(certificate)
    if profile == PROXY_PROFILE.name:
        raise ClientCertificateRefused(
            N_("certificate %(serial)s is a proxy's certificate: it identifies no client"),
            serial=serial
        )
    return ClientIdentity(certificate=certificate, issuer_certificate=issuer, serial=serial)


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
