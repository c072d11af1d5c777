"""The CA signer: public data in, signed certificates and CRLs out; the key never leaves it."""

import functools
from datetime import datetime

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization

from .keys import signature_hash_for
from .profiles import Profile, PublicationUrls, leaf_extensions


class CASigner:
    """Holds one CA's certificate and private key, loaded once per process."""

    def __init__(self, certificate: x509.Certificate, private_key):
        self.certificate = certificate
        self._private_key = private_key
        self._hash = signature_hash_for(private_key)
        try:
            ski = certificate.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
            self.key_identifier = x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(
                ski
            )
        except x509.ExtensionNotFound:
            self.key_identifier = x509.AuthorityKeyIdentifier.from_issuer_public_key(
                certificate.public_key()
            )

    @functools.cached_property
    def fingerprint(self) -> bytes:
        """The CA certificate's SHA-256 fingerprint (computed once: it costs a re-encoding)."""
        return self.certificate.fingerprint(hashes.SHA256())

    @property
    def not_after(self) -> datetime:
        """The CA certificate's notAfter (aware, UTC)."""
        return self.certificate.not_valid_after_utc

    @property
    def path_length(self) -> int | None:
        """The CA's pathLenConstraint (None when unlimited)."""
        constraints = self.certificate.extensions.get_extension_for_class(x509.BasicConstraints)
        return constraints.value.path_length

    def sign_certificate(self, builder: x509.CertificateBuilder) -> x509.Certificate:
        """Sign a certificate builder as this CA."""
        return builder.issuer_name(self.certificate.subject).sign(self._private_key, self._hash)

    def sign_crl(self, builder: x509.CertificateRevocationListBuilder):
        """Sign a CRL builder as this CA."""
        return builder.issuer_name(self.certificate.subject).sign(self._private_key, self._hash)

    def sign_ocsp(self, builder):
        """Sign an OCSP response builder with the CA key (the CA as its own responder)."""
        return builder.sign(self._private_key, self._hash)

    def certificate_pem(self) -> bytes:
        """The CA certificate as PEM."""
        return self.certificate.public_bytes(serialization.Encoding.PEM)


def certificate_builder(
    *,
    issuer_key_identifier: x509.AuthorityKeyIdentifier,
    public_key,
    subject: x509.Name,
    sans: tuple[x509.GeneralName, ...],
    profile: Profile,
    serial: int,
    not_before: datetime,
    not_after: datetime,
    urls: PublicationUrls | None,
    path_length: int | None = None,
) -> x509.CertificateBuilder:
    """A certificate builder (no issuer yet) whose extensions are fixed by the profile."""
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .public_key(public_key)
        .serial_number(serial)
        .not_valid_before(not_before)
        .not_valid_after(not_after)
    )
    for value, critical in leaf_extensions(
        profile,
        public_key,
        issuer_key_identifier=issuer_key_identifier,
        subject=subject,
        sans=sans,
        urls=urls,
        path_length=path_length,
    ):
        builder = builder.add_extension(value, critical=critical)
    return builder


def build_certificate(
    signer: CASigner,
    *,
    public_key,
    subject: x509.Name,
    sans: tuple[x509.GeneralName, ...],
    profile: Profile,
    serial: int,
    not_before: datetime,
    not_after: datetime,
    urls: PublicationUrls | None,
    path_length: int | None = None,
) -> x509.Certificate:
    """Build and sign a certificate whose extensions are fixed by the profile."""
    return signer.sign_certificate(certificate_builder(
        issuer_key_identifier=signer.key_identifier, public_key=public_key, subject=subject,
        sans=sans, profile=profile, serial=serial, not_before=not_before, not_after=not_after,
        urls=urls, path_length=path_length,
    ))


def fingerprint_sha256(certificate: x509.Certificate) -> str:
    """The SHA-256 fingerprint as lower-case hex."""
    return certificate.fingerprint(hashes.SHA256()).hex()
