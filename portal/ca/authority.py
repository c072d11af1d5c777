"""Creating a root or intermediate CA, and checking a CA brought in from elsewhere."""

from datetime import UTC, datetime, timedelta

from cryptography import x509
from cryptography.x509.oid import NameOID, PublicKeyAlgorithmOID

from ..errors import InvalidInput, PolicyViolation
from ..translatable import N_
from .keys import check_key_policy, generate_private_key, public_keys_match, signature_hash_for
from .lint import check_before_signing
from .names import check_text
from .profiles import BACKDATE, PROFILES, PublicationUrls, leaf_extensions, validity_window
from .serials import random_serial
from .signer import CASigner, build_certificate


def ca_subject(common_name: str, organization: str | None = None) -> x509.Name:
    """A CA subject from a common name and an optional organization."""
    attributes = [x509.NameAttribute(NameOID.COMMON_NAME, check_text(common_name, "CN", 64))]
    if organization:
        organization = check_text(organization, "O", 64)
        attributes.insert(0, x509.NameAttribute(NameOID.ORGANIZATION_NAME, organization))
    return x509.Name(attributes)


def create_root_ca(
    subject: x509.Name, *, key_type: str, days: int, now: datetime | None = None
) -> tuple[x509.Certificate, object]:
    """Generate a key and a self-signed root certificate; return both."""
    now = (now or datetime.now(UTC)).replace(microsecond=0)
    key = generate_private_key(key_type)
    own_identifier = x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(
        x509.SubjectKeyIdentifier.from_public_key(key.public_key())
    )
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(random_serial())
        .not_valid_before(now - BACKDATE)
        .not_valid_after(now + timedelta(days=days))
    )
    for value, critical in leaf_extensions(
        PROFILES["ca"],
        key.public_key(),
        issuer_key_identifier=own_identifier,
        subject=subject,
        sans=(),
        urls=None,
    ):
        builder = builder.add_extension(value, critical=critical)
    return builder.sign(key, signature_hash_for(key)), key


def check_may_have_intermediates(parent: CASigner) -> None:
    """Refuse an intermediate under a CA whose pathLenConstraint is 0."""
    if parent.path_length == 0:
        raise PolicyViolation(
            N_("the parent CA may not have intermediates below it (its path length is 0)"),
            field="parent",
        )


def create_intermediate_ca(
    parent: CASigner,
    subject: x509.Name,
    *,
    key_type: str,
    days: int,
    urls: PublicationUrls,
    now: datetime | None = None,
    serial: int | None = None,
) -> tuple[x509.Certificate, object]:
    """Generate a key and an intermediate certificate signed by `parent`; return both."""
    check_may_have_intermediates(parent)
    now = (now or datetime.now(UTC)).replace(microsecond=0)
    not_before, not_after = validity_window(now, days, ca_not_after=parent.not_after)
    key = generate_private_key(key_type)
    serial = serial or random_serial()
    check_before_signing(
        parent, public_key=key.public_key(), key_type=key_type, subject=subject, sans=(),
        profile=PROFILES["ca"],
        serial=serial, not_before=not_before, not_after=not_after, urls=urls, path_length=0,
    )
    certificate = build_certificate(
        parent,
        public_key=key.public_key(),
        subject=subject,
        sans=(),
        profile=PROFILES["ca"],
        serial=serial,
        not_before=not_before,
        not_after=not_after,
        urls=urls,
        path_length=0,
    )
    return certificate, key


def load_certificate_file(data: bytes) -> x509.Certificate:
    """Load one certificate (the first, for a PEM bundle) from PEM or DER bytes."""
    if not data or not data.strip():
        raise InvalidInput(N_("the certificate file is empty"), field="cert")
    try:
        if data.lstrip().startswith(b"-----"):
            return x509.load_pem_x509_certificates(data)[0]
        return x509.load_der_x509_certificate(data)
    except (ValueError, x509.InvalidVersion) as exc:
        raise InvalidInput(
            N_("not a certificate in PEM or DER (%(value)s)"), field="cert",
            value=str(exc).splitlines()[0][:100]
        ) from None


def check_ca_pair(certificate: x509.Certificate, private_key, *, now: datetime | None = None):
    """Refuse a certificate that is not a usable CA, or a key that is not its own."""
    try:
        constraints = certificate.extensions.get_extension_for_class(x509.BasicConstraints).value
    except x509.ExtensionNotFound:
        constraints = None
    if constraints is None or not constraints.ca:
        raise PolicyViolation(
            N_("this certificate is not a CA certificate (basicConstraints CA:TRUE is missing)"),
            field="cert",
        )
    try:
        usage = certificate.extensions.get_extension_for_class(x509.KeyUsage).value
        if not usage.key_cert_sign:
            raise PolicyViolation(
                N_("this CA certificate's keyUsage does not allow signing certificates"),
                field="cert",
            )
    except x509.ExtensionNotFound:
        pass
    if certificate.public_key_algorithm_oid == PublicKeyAlgorithmOID.RSASSA_PSS:
        raise PolicyViolation(
            N_("CA certificates with an RSA-PSS key (id-RSASSA-PSS) are not accepted: the "
               "portal signs with PKCS#1 v1.5, which such a key must not make"),
            field="cert",
        )
    check_key_policy(certificate.public_key())
    if not public_keys_match(private_key, certificate.public_key()):
        raise PolicyViolation(N_("the private key does not belong to this certificate"),
                              field="key")
    if certificate.not_valid_after_utc <= (now or datetime.now(UTC)):
        raise PolicyViolation(N_("this CA certificate has expired"), field="cert")
