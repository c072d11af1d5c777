"""Loading certificate signing requests from untrusted bytes."""

import warnings
from dataclasses import dataclass

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.x509.oid import PublicKeyAlgorithmOID

from ..errors import InvalidInput, PolicyViolation
from ..translatable import N_
from .keys import check_key_policy
from .names import (
    check_general_name,
    check_subject,
    describe_general_name,
)
from .spki import csr_spki

MAX_CSR_BYTES = 64 * 1024
MAX_SANS = 100
_PEM_CSR_LABELS = (b"CERTIFICATE REQUEST", b"NEW CERTIFICATE REQUEST")


@dataclass(frozen=True)
class CertificateRequest:
    """What the CA takes from a CSR: its key, a checked subject and checked SANs, nothing else.

    `spki` is the key exactly as the CSR encodes it: the certificate must carry these bytes.
    """

    public_key: object
    key_type: str
    subject: x509.Name
    sans: tuple[x509.GeneralName, ...]
    spki: bytes


def _parse(data: bytes) -> x509.CertificateSigningRequest:
    begin = data.find(b"-----BEGIN")
    if begin >= 0:  # PEM, possibly after text such as `openssl req -text` prints
        pem = data[begin:].strip()
        label = pem[len(b"-----BEGIN ") :].split(b"-----", 1)[0]
        if label not in _PEM_CSR_LABELS:
            shown = label.decode("ascii", "replace")[:40]
            raise InvalidInput(
                N_("this PEM holds a %(shown)r, not a CERTIFICATE REQUEST"), field="csr",
                shown=shown
            )
        loader, data = x509.load_pem_x509_csr, pem + b"\n"
        problem = N_("the PEM CERTIFICATE REQUEST is damaged: its content does not parse")
    else:
        loader = x509.load_der_x509_csr
        problem = N_("not a certificate signing request: expected PEM or DER")
    try:
        return loader(data)
    except (ValueError, TypeError, UnsupportedAlgorithm, x509.InvalidVersion):
        raise InvalidInput(problem, field="csr") from None


def _malformed_extensions(error: Exception) -> InvalidInput:
    """One line saying what cryptography could not parse, without its internal dump."""
    text = str(error)
    if "does not appear to be an IPv4 or IPv6 address" in text:
        return InvalidInput(
            N_("the CSR's subjectAltName extension is malformed: an IP address entry is "
               "neither 4 nor 16 bytes long"), field="csr")
    if "subject_alternative_name" in text:
        return InvalidInput(N_("the CSR's subjectAltName extension is malformed: it is not "
                               "valid DER"), field="csr")
    if isinstance(error, x509.DuplicateExtension):
        return InvalidInput(N_("the CSR requests the extension %(oid)s twice"), field="csr",
                            oid=error.oid.dotted_string)
    if "ParseError" in text:
        return InvalidInput(N_("the CSR's extensions are malformed: they are not valid DER"),
                            field="csr")
    return InvalidInput(N_("the CSR's extensions are malformed (%(detail)s)"), field="csr",
                        detail=text[:120])


def _requested_sans(csr: x509.CertificateSigningRequest, max_sans: int) -> list[x509.GeneralName]:
    try:
        extension = csr.extensions.get_extension_for_class(x509.SubjectAlternativeName)
    except x509.ExtensionNotFound:
        return []
    except (ValueError, x509.DuplicateExtension, UnsupportedAlgorithm) as exc:
        raise _malformed_extensions(exc) from None
    names = list(extension.value)
    if len(names) > max_sans:
        raise PolicyViolation(
            N_("the CSR asks for %(count)s subject alternative names; at most %(max_sans)s "
               "are allowed"),
            field="sans",
            count=len(names), max_sans=max_sans,
        )
    if not names:  # GeneralNames is SIZE (1..MAX)
        raise PolicyViolation(N_("the CSR's subjectAltName extension is empty"), field="sans")
    checked: list[x509.GeneralName] = []
    for name in names:
        # Wildcards are checked again against the profile when it is applied.
        entry = check_general_name(name, allow_wildcard=True)
        if entry in checked:
            raise PolicyViolation(
                N_("the CSR lists the subject alternative name %(value)s twice"),
                field="sans",
                value=describe_general_name(entry)[:90],
            )
        checked.append(entry)
    return checked


def load_csr(
    data: bytes, *, max_bytes: int = MAX_CSR_BYTES, max_sans: int = MAX_SANS
) -> CertificateRequest:
    """Parse a CSR (PEM or DER), verify its signature and key, and check its names.

    Requested extensions other than subjectAltName are ignored: a CSR cannot ask for CA:TRUE
    or for extra key usages; the profile decides those.
    """
    if not data or not data.strip():
        raise InvalidInput(N_("the CSR is empty"), field="csr")
    if len(data) > max_bytes:
        raise InvalidInput(
            N_("the CSR is %(count)s bytes; at most %(max_bytes)s are accepted"), field="csr",
            count=len(data), max_bytes=max_bytes
        )
    csr = _parse(data)
    if csr.public_key_algorithm_oid == PublicKeyAlgorithmOID.RSASSA_PSS:
        # cryptography would re-encode the key as rsaEncryption: the certificate would no
        # longer match its private key (OpenSSL: "key type mismatch").
        raise PolicyViolation(
            N_("RSA-PSS keys (id-RSASSA-PSS) are not accepted: make an ordinary RSA key "
               "(openssl genpkey -algorithm RSA) or an EC key; the certificate can still be "
               "used with PSS signatures"),
            field="csr",
        )
    try:
        spki = csr_spki(csr)
    except ValueError:
        raise InvalidInput(N_("the CSR's public key is malformed"), field="csr") from None
    try:
        public_key = csr.public_key()
    except (ValueError, UnsupportedAlgorithm) as exc:
        raise PolicyViolation(N_("the CSR's key type is not supported (%(exc)s)"), field="csr",
            exc=exc) from None
    key_type = check_key_policy(public_key)
    try:
        valid = csr.is_signature_valid
    except (ValueError, UnsupportedAlgorithm) as exc:
        raise InvalidInput(N_("the CSR's signature cannot be checked (%(exc)s)"), field="csr",
            exc=exc) from None
    if not valid:
        raise InvalidInput(
            N_("the CSR's signature does not verify: it was altered or not made with its key"),
            field="csr",
        )
    try:
        with warnings.catch_warnings():
            # cryptography warns (rather than fails) about an over-long attribute it parses;
            # check_subject refuses it with a clear message instead.
            warnings.simplefilter("ignore", UserWarning)
            requested_subject = csr.subject
        subject, emails = check_subject(requested_subject)
    except ValueError as exc:
        raise InvalidInput(N_("the CSR's subject is malformed (%(exc)s)"), field="csr",
            exc=exc) from None
    sans = _requested_sans(csr, max_sans)
    for email in emails:
        if x509.RFC822Name(email) not in sans:
            sans.append(x509.RFC822Name(email))
    return CertificateRequest(
        public_key=public_key, key_type=key_type, subject=subject, sans=tuple(sans), spki=spki
    )
