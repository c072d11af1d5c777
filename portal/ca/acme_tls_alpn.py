"""The tls-alpn-01 certificate check (RFC 8737 §3): one SAN, the critical acmeIdentifier."""

import hashlib
import ipaddress

from cryptography import x509
from cryptography.x509.oid import ObjectIdentifier

ACME_IDENTIFIER = ObjectIdentifier("1.3.6.1.5.5.7.1.31")  # id-pe-acmeIdentifier


def expected_digest(key_authorization: str) -> bytes:
    """SHA-256 of the key authorization: what the extension must hold."""
    return hashlib.sha256(key_authorization.encode()).digest()


def check_validation_certificate(der: bytes, identifier_type: str, value: str,
                                 key_authorization: str) -> str | None:
    """Why the certificate a tls-alpn-01 responder showed does not prove the name; None if it does.

    It must name exactly the identifier in its subjectAltName and carry a critical
    acmeIdentifier extension whose value is the DER OCTET STRING of the digest.
    """
    try:
        certificate = x509.load_der_x509_certificate(der)
        sans = certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return "the certificate has no subjectAltName"
    except ValueError as exc:
        return f"the certificate does not parse ({exc})"
    names = list(sans)
    if identifier_type == "ip":
        wanted: x509.GeneralName = x509.IPAddress(ipaddress.ip_address(value))
    else:
        wanted = x509.DNSName(value)
    if len(names) != 1 or not _same_name(names[0], wanted):
        return f"the certificate must name exactly {value} in its subjectAltName"
    try:
        extension = certificate.extensions.get_extension_for_oid(ACME_IDENTIFIER)
    except x509.ExtensionNotFound:
        return "the certificate has no acmeIdentifier extension"
    if not extension.critical:
        return "the acmeIdentifier extension is not critical"
    digest = expected_digest(key_authorization)
    if extension.value.value != b"\x04\x20" + digest:
        return "the acmeIdentifier extension does not hold the key authorization's digest"
    return None


def _same_name(name: x509.GeneralName, wanted: x509.GeneralName) -> bool:
    if isinstance(wanted, x509.DNSName):
        return isinstance(name, x509.DNSName) and name.value.lower() == wanted.value.lower()
    return name == wanted
