"""Checking a client certificate presented over TLS, directly or through a proxy header."""

import re
from datetime import datetime
from urllib.parse import unquote

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.x509.oid import ExtendedKeyUsageOID

from ..errors import ClientCertificateRefused
from ..translatable import N_

_PEM_BODY = re.compile(
    r"-----BEGIN CERTIFICATE-----(?P<body>[A-Za-z0-9+/=\s]+)-----END CERTIFICATE-----"
)
MAX_HEADER_CERT = 16 * 1024


def load_presented_certificate(data: bytes) -> x509.Certificate:
    """Parse the DER a TLS socket reports for its peer."""
    try:
        return x509.load_der_x509_certificate(data)
    except (ValueError, x509.InvalidVersion):
        raise ClientCertificateRefused(N_("the client certificate cannot be parsed")) from None


def load_forwarded_certificate(value: str) -> x509.Certificate | None:
    """Parse a certificate forwarded by a proxy; None when the proxy says there is none.

    nginx sends `$ssl_client_escaped_cert` (URL-encoded PEM); Apache's `%{SSL_CLIENT_CERT}s`
    arrives as PEM whose line breaks became spaces. Both are accepted.
    """
    value = value.strip()
    if not value or value in ("(null)", "-"):
        return None
    if len(value) > MAX_HEADER_CERT:
        raise ClientCertificateRefused(N_("the forwarded client certificate is too large"))
    if "%" in value:
        value = unquote(value)
    match = _PEM_BODY.search(value)
    if match is None:
        raise ClientCertificateRefused(N_("the forwarded client certificate is not a PEM "
                                          "certificate"))
    body = "".join(match.group("body").split())
    lines = [body[i : i + 64] for i in range(0, len(body), 64)]
    pem = "-----BEGIN CERTIFICATE-----\n" + "\n".join(lines) + "\n-----END CERTIFICATE-----\n"
    try:
        return x509.load_pem_x509_certificate(pem.encode())
    except (ValueError, x509.InvalidVersion):
        raise ClientCertificateRefused(
            N_("the forwarded client certificate cannot be parsed")
        ) from None


def find_issuer(
    certificate: x509.Certificate, authorities: list[x509.Certificate]
) -> x509.Certificate | None:
    """The CA among `authorities` whose key signed `certificate` (a same-named impostor fails)."""
    for authority in authorities:
        if authority.subject != certificate.issuer:
            continue
        try:
            certificate.verify_directly_issued_by(authority)
        except (InvalidSignature, ValueError, TypeError, UnsupportedAlgorithm):
            continue
        return authority
    return None


def check_client_certificate(
    certificate: x509.Certificate,
    authorities: list[x509.Certificate],
    *,
    now: datetime,
    issuer: x509.Certificate | None = None,
) -> x509.Certificate:
    """Check chain, validity and clientAuth usage; return the issuing CA's certificate.

    `issuer`: the CA whose signature on this very certificate was already verified (it is
    not verified again); otherwise it is looked for among `authorities`.
    """
    if issuer is None:
        issuer = find_issuer(certificate, authorities)
    if issuer is None:
        raise ClientCertificateRefused(N_("the client certificate was not issued by this "
                                          "portal's CA"))
    if now < certificate.not_valid_before_utc:
        raise ClientCertificateRefused(N_("the client certificate is not valid yet"))
    if now > certificate.not_valid_after_utc:
        raise ClientCertificateRefused(N_("the client certificate has expired"))
    if now > issuer.not_valid_after_utc:
        raise ClientCertificateRefused(N_("the client certificate's CA has expired"))
    try:
        usages = certificate.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    except x509.ExtensionNotFound:
        usages = []
    except ValueError:
        raise ClientCertificateRefused(
            N_("the client certificate's extensions are malformed")
        ) from None
    if ExtendedKeyUsageOID.CLIENT_AUTH not in usages:
        raise ClientCertificateRefused(
            N_("the certificate is not for client authentication (no clientAuth usage)")
        )
    return issuer
