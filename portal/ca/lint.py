"""The safety net before signing: pkilint's RFC 5280 validators on every certificate (as Boulder).

A whole-certificate pkilint run costs about 3 ms (pyasn1 decoding), twenty times a P-256
signature, so it is not run per certificate. Instead:

- the whole certificate, signed with a throwaway key of the CA key's type, is linted once per
  *shape*: the issuer, the profile's extensions and criticality, the subject key's type, the
  subject's attribute types, the SAN's entry kinds, the time encodings. Everything pkilint looks
  at beyond those is a value, and the verdict for the shape is cached per process;
- every certificate's values (each SAN entry, each e-mail and DC in the subject) go through
  pkilint's own validators for those values, called on the value itself (pkilint_values.py)
  rather than on a decoded document: microseconds instead of milliseconds.

Any finding at WARNING or above refuses the signature: nothing is signed with the CA key.
"""

import functools
import threading
from datetime import datetime

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, rsa

from ..errors import PolicyViolation
from . import pkilint_values
from .keys import signature_hash_for
from .profiles import Profile, PublicationUrls
from .signer import CASigner, certificate_builder

THRESHOLD = 2  # pkilint's ValidationFindingSeverity.WARNING (tests/ca/test_lint.py checks it)
LOCALHOST_FINDING = 'pkix.invalid_domain_name_syntax (Invalid domain name syntax: "localhost")'
MAX_SHAPES = 4096  # distinct shapes remembered per process; the cache starts over when full


class LintRefused(PolicyViolation):
    """pkilint found a problem in the certificate about to be signed: it is not signed."""


@functools.cache
def _validator():
    """What `lint_pkix_cert lint` runs, built on first use.

    Importing pkilint (pyasn1 and its RFC modules) would cost every command a third of a second.
    """
    from pkilint.pkix import certificate as pkix_certificate
    from pkilint.pkix import extension, name

    return pkix_certificate.create_pkix_certificate_validator_container(
        pkix_certificate.create_decoding_validators(
            name.ATTRIBUTE_TYPE_MAPPINGS, extension.EXTENSION_MAPPINGS
        ),
        [
            pkix_certificate.create_issuer_validator_container([]),
            pkix_certificate.create_validity_validator_container(),
            pkix_certificate.create_subject_validator_container([]),
            pkix_certificate.create_extensions_validator_container([]),
            pkix_certificate.create_spki_validator_container([]),
        ],
    )


_VERDICTS: dict[tuple, tuple[str, ...]] = {}
_THROWAWAY_KEYS: dict[tuple, object] = {}
_LOCK = threading.Lock()


def forget_verdicts() -> None:
    """Forget every cached verdict (for tests that change what a profile produces)."""
    with _LOCK:
        _VERDICTS.clear()


def lint_certificate_der(der: bytes) -> list[str]:
    """Pkilint's findings at WARNING or above for a DER certificate, as `code: message` lines."""
    from pkilint import loader

    document = loader.load_der_certificate(der, "certificate")
    findings = []
    for result in _validator().validate(document.root):
        for description in result.finding_descriptions:
            if description.finding.severity <= THRESHOLD:  # FATAL is 0, INFO 4
                text = description.finding.code
                if description.message:
                    text += f" ({description.message})"
                findings.append(f"{text} at {result.node.path}")
    return findings


def _key_shape(key) -> tuple:
    if isinstance(key, rsa.RSAPublicKey | rsa.RSAPrivateKey):
        return ("rsa", key.key_size)
    if isinstance(key, ec.EllipticCurvePublicKey | ec.EllipticCurvePrivateKey):
        return ("ec", key.curve.name)
    return (type(key).__name__,)


def _throwaway_key(ca_public_key):
    """A key of the CA key's type, made once per process, that signs only what is linted."""
    shape = _key_shape(ca_public_key)
    key = _THROWAWAY_KEYS.get(shape)
    if key is None:
        if isinstance(ca_public_key, rsa.RSAPublicKey):
            key = rsa.generate_private_key(public_exponent=65537, key_size=ca_public_key.key_size)
        elif isinstance(ca_public_key, ec.EllipticCurvePublicKey):
            key = ec.generate_private_key(type(ca_public_key.curve)())
        elif isinstance(ca_public_key, ed25519.Ed25519PublicKey):
            key = ed25519.Ed25519PrivateKey.generate()
        elif isinstance(ca_public_key, ed448.Ed448PublicKey):
            key = ed448.Ed448PrivateKey.generate()
        else:
            raise LintRefused(f"cannot lint certificates for a CA key of type {shape[0]}")
        _THROWAWAY_KEYS[shape] = key
    return key


def lint_builder(builder: x509.CertificateBuilder, ca_public_key) -> list[str]:
    """Sign `builder` with a throwaway key of the CA's key type and lint the result in full."""
    key = _throwaway_key(ca_public_key)
    certificate = builder.sign(key, signature_hash_for(key))
    return lint_certificate_der(certificate.public_bytes(serialization.Encoding.DER))


def shape_of(
    *,
    issuer_fingerprint: bytes,
    key_type: str,
    subject: x509.Name,
    sans: tuple[x509.GeneralName, ...],
    profile: Profile,
    not_before: datetime,
    not_after: datetime,
    urls: PublicationUrls | None,
    path_length: int | None,
) -> tuple:
    """What pkilint's verdict on a certificate depends on, besides the values of its names."""
    return (
        issuer_fingerprint,
        profile,
        key_type,  # the subject key's type and size, as check_key_policy named it
        tuple(tuple(attribute.oid for attribute in rdn) for rdn in subject.rdns),
        frozenset(map(type, sans)),
        not_before.year >= 2050,  # UTCTime before 2050, GeneralizedTime after (RFC 5280)
        not_after.year >= 2050,
        not_after > not_before,
        urls,
        path_length,
    )


def check_before_signing(
    signer: CASigner,
    *,
    public_key,
    key_type: str,
    subject: x509.Name,
    sans: tuple[x509.GeneralName, ...],
    profile: Profile,
    serial: int,
    not_before: datetime,
    not_after: datetime,
    urls: PublicationUrls | None,
    path_length: int | None = None,
    allow_localhost: bool = False,
) -> None:
    """Refuse (LintRefused) a certificate that pkilint flags at WARNING or worse; sign nothing.

    `allow_localhost` waives the one finding the portal's own HTTPS certificate has by design:
    the single-label DNS name `localhost`, which browsers need.

    A wildcard dNSName is linted the CA/B way (pkilint_values.waived_wildcard_findings): the
    one PKIX syntax finding for it is waived, every other finding stays fatal.

    `serial` may be any serial of the kind the real certificate will carry: it is not part of
    the shape (a random positive 159-bit number always lints the same).
    """
    waived = (pkilint_values.waived_wildcard_findings(sans)
              if pkilint_values.has_wildcard(sans) else frozenset())
    findings = (pkilint_values.checked_san_findings(sans)
                + pkilint_values.subject_findings(subject))
    if not findings:
        issuer = signer.certificate
        shape = shape_of(
            issuer_fingerprint=signer.fingerprint, key_type=key_type,
            subject=subject, sans=sans, profile=profile, not_before=not_before,
            not_after=not_after, urls=urls, path_length=path_length,
        )
        verdict = _VERDICTS.get(shape)
        if verdict is None:
            builder = certificate_builder(
                issuer_key_identifier=signer.key_identifier, public_key=public_key,
                subject=subject, sans=sans, profile=profile, serial=serial,
                not_before=not_before, not_after=not_after, urls=urls, path_length=path_length,
            ).issuer_name(issuer.subject)
            with _LOCK:
                verdict = tuple(pkilint_values.without_waived(
                    lint_builder(builder, issuer.public_key()), waived))
                if len(_VERDICTS) >= MAX_SHAPES:
                    _VERDICTS.clear()
                if not verdict:  # a refused shape is linted again next time (it is rare)
                    _VERDICTS[shape] = verdict
        findings = list(verdict)
    if allow_localhost:
        findings = [text for text in findings if not text.startswith(LOCALHOST_FINDING)]
    if findings:
        raise LintRefused(
            f"the certificate was not signed: pkilint reports {findings[0][:200]}"
            + (f" and {len(findings) - 1} more finding(s)" if len(findings) > 1 else ""),
            field="sans" if "subjectAltName" in findings[0] else None,
        )
