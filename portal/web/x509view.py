"""Certificates described for people: names, fingerprints and extensions as readable lines."""

from cryptography import x509
from cryptography.hazmat.primitives import hashes

from ..ca.keys import key_type_of
from ..ca.names import describe_general_name

_KEY_USAGES = (
    "digital_signature", "content_commitment", "key_encipherment", "data_encipherment",
    "key_agreement", "key_cert_sign", "crl_sign",
)


def colon_hex(data: bytes) -> str:
    """Bytes as AB:CD:… the way browsers and openssl show fingerprints."""
    return ":".join(f"{byte:02X}" for byte in data)


def _usage_names(usage: x509.KeyUsage) -> list[str]:
    names = [name.replace("_", " ") for name in _KEY_USAGES if getattr(usage, name)]
    if usage.key_agreement:
        names += [label for label, flag in (("encipher only", "encipher_only"),
                                            ("decipher only", "decipher_only"))
                  if getattr(usage, flag)]
    return names


def _describe_value(value) -> list[str]:
    if isinstance(value, x509.BasicConstraints):
        text = "CA: yes" if value.ca else "CA: no (end entity)"
        if value.ca and value.path_length is not None:
            text += f", path length {value.path_length}"
        return [text]
    if isinstance(value, x509.KeyUsage):
        return [", ".join(_usage_names(value))]
    if isinstance(value, x509.ExtendedKeyUsage):
        return [", ".join(oid._name for oid in value)]
    if isinstance(value, x509.SubjectAlternativeName | x509.IssuerAlternativeName):
        return [describe_general_name(name) for name in value]
    if isinstance(value, x509.SubjectKeyIdentifier):
        return [colon_hex(value.digest)]
    if isinstance(value, x509.AuthorityKeyIdentifier):
        return [colon_hex(value.key_identifier)] if value.key_identifier else ["(issuer name)"]
    if isinstance(value, x509.CRLDistributionPoints):
        return [describe_general_name(name) for point in value for name in point.full_name or []]
    if isinstance(value, x509.AuthorityInformationAccess):
        return [f"{access.access_method._name}: {describe_general_name(access.access_location)}"
                for access in value]
    return [str(value)[:300]]


def describe_extensions(certificate: x509.Certificate) -> list[dict]:
    """Each extension: its name, whether it is critical, and its value as lines of text."""
    described = []
    for extension in certificate.extensions:
        name = extension.oid._name
        if name == "Unknown OID":
            name = extension.oid.dotted_string
        described.append({
            "name": name, "critical": extension.critical,
            "lines": _describe_value(extension.value),
        })
    return described


def describe_certificate(certificate: x509.Certificate) -> dict:
    """The facts a detail page shows."""
    public_key = certificate.public_key()
    return {
        "subject": certificate.subject.rfc4514_string(),
        "issuer": certificate.issuer.rfc4514_string(),
        "serial": colon_hex(certificate.serial_number.to_bytes(
            (certificate.serial_number.bit_length() + 7) // 8 or 1, "big")),
        "not_before": certificate.not_valid_before_utc,
        "not_after": certificate.not_valid_after_utc,
        "key_type": key_type_of(public_key),
        "signature": certificate.signature_algorithm_oid._name,
        "sha256": colon_hex(certificate.fingerprint(hashes.SHA256())),
        "sha1": colon_hex(certificate.fingerprint(hashes.SHA1())),
        "extensions": describe_extensions(certificate),
    }
