"""Checks on subject names and subjectAltNames taken from untrusted requests."""

import ipaddress
import re

from cryptography import x509
from cryptography.x509.oid import NameOID

from ..errors import PolicyViolation

# The subject attributes a request may carry, with RFC 5280's upper bounds on their length.
SUBJECT_ATTRIBUTES = {
    NameOID.COMMON_NAME: ("CN", 64),
    NameOID.ORGANIZATION_NAME: ("O", 64),
    NameOID.ORGANIZATIONAL_UNIT_NAME: ("OU", 64),
    NameOID.LOCALITY_NAME: ("L", 128),
    NameOID.STATE_OR_PROVINCE_NAME: ("ST", 128),
    NameOID.COUNTRY_NAME: ("C", 2),
    NameOID.SERIAL_NUMBER: ("serialNumber", 64),
    NameOID.DOMAIN_COMPONENT: ("DC", 63),
}
EMAIL_ATTRIBUTE = NameOID.EMAIL_ADDRESS
MAX_SUBJECT_ATTRIBUTES = 16
MAX_SUBJECT_TEXT = 1024  # as RFC 4514 text, which is what the certificates table stores
MAX_EMAIL = 254  # RFC 5321's longest path; also fits the SAN column (255)

_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")
_EMAIL_LOCAL = re.compile(r"^[A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]{1,64}$")
_FORBIDDEN = re.compile(r"[\x00-\x1f\x7f-\x9f<>\u2028\u2029\ufeff]")


def check_text(value: str, what: str, limit: int) -> str:
    """Refuse empty, oversize, control-character and markup-bearing values in a name."""
    if not value or not value.strip():
        raise PolicyViolation(f"{what} is empty", field="subject")
    if len(value.encode("utf-8")) > limit:  # cryptography counts UTF-8 bytes, not characters
        unit = "characters" if value.isascii() else "bytes in UTF-8"
        raise PolicyViolation(f"{what} is longer than {limit} {unit}", field="subject")
    if _FORBIDDEN.search(value):
        raise PolicyViolation(
            f"{what} contains control characters or markup (< >), which are not allowed",
            field="subject",
        )
    if value != value.strip():
        raise PolicyViolation(f"{what} starts or ends with white space", field="subject")
    return value


def check_dns_name(name: str, *, allow_wildcard: bool = True) -> str:
    """Return a DNS name in lower case if it is a valid, fully qualified host name."""
    shown = name[:80]
    if not name.isascii():
        raise PolicyViolation(
            f"DNS name {shown!r} has non-ASCII characters: write an international name in its "
            "xn-- (punycode) form",
            field="sans",
        )
    lowered = name.lower()
    if len(lowered) > 253 or lowered.endswith("."):
        raise PolicyViolation(f"DNS name {shown!r} is not a valid host name", field="sans")
    labels = lowered.split(".")
    if allow_wildcard and labels[0] == "*":
        labels = labels[1:]
        if len(labels) < 2:
            raise PolicyViolation(f"wildcard {shown!r} is too broad", field="sans")
    if len(labels) < 2:
        raise PolicyViolation(
            f"DNS name {shown!r} is a single label: use a fully qualified name "
            "(RFC 5280 requires a domain name; for this machine use an IP address such as "
            "127.0.0.1)",
            field="sans",
        )
    if not all(_LABEL.match(label) for label in labels) or labels[-1].isdigit():
        raise PolicyViolation(f"DNS name {shown!r} is not a valid host name", field="sans")
    return lowered


def check_email(address: str) -> str:
    """Return an e-mail address (domain in lower case) if it is a plain mailbox."""
    if len(address) > MAX_EMAIL:
        raise PolicyViolation(f"the e-mail address {address[:40]!r}… is too long", field="email")
    local, at, domain = address.rpartition("@")
    if not at or not _EMAIL_LOCAL.match(local) or local.startswith(".") or ".." in local:
        raise PolicyViolation(f"{address[:80]!r} is not a valid e-mail address", field="email")
    return f"{local}@{check_dns_name(domain, allow_wildcard=False)}"


def describe_general_name(name: x509.GeneralName) -> str:
    """A name as `DNS:x`, `IP:x`, `email:x` or `URI:x`, the way openssl shows SANs."""
    if isinstance(name, x509.DNSName):
        return f"DNS:{name.value}"
    if isinstance(name, x509.IPAddress):
        return f"IP:{name.value}"
    if isinstance(name, x509.RFC822Name):
        return f"email:{name.value}"
    if isinstance(name, x509.UniformResourceIdentifier):
        return f"URI:{name.value}"
    return f"{type(name).__name__}:{getattr(name, 'value', '?')}"


def parse_san(text: str) -> x509.GeneralName:
    """Parse a SAN typed by a person: `DNS:x`, `IP:x`, `email:x`, or a bare name or address."""
    kind, colon, value = text.strip().partition(":")
    if colon and kind.lower() in ("dns", "ip", "email"):
        kind = kind.lower()
    else:
        value = text.strip()
        kind = "email" if "@" in value else "dns"
        try:
            ipaddress.ip_address(value)
            kind = "ip"
        except ValueError:
            pass
    if kind == "ip":
        try:
            return x509.IPAddress(ipaddress.ip_address(value.strip()))
        except ValueError:
            raise PolicyViolation(f"{value[:60]!r} is not an IP address", field="sans") from None
    if kind == "email":
        return x509.RFC822Name(check_email(value.strip()))
    return x509.DNSName(check_dns_name(value.strip()))


def check_subject(name: x509.Name) -> tuple[x509.Name, list[str]]:
    """Rebuild a requested subject from the allowed attributes; return it and any e-mails in it.

    Every value is checked and re-encoded by cryptography's defaults (UTF8String, and
    PrintableString for the country), so odd encodings in a request never reach a certificate.
    """
    if len(name) > MAX_SUBJECT_ATTRIBUTES:
        raise PolicyViolation(
            f"the subject has {len(name)} attributes; at most {MAX_SUBJECT_ATTRIBUTES} are "
            "allowed",
            field="subject",
        )
    attributes: list[x509.NameAttribute] = []
    emails: list[str] = []
    for attribute in name:
        value = attribute.value
        if isinstance(value, bytes):
            raise PolicyViolation("the subject has a binary attribute value", field="subject")
        if attribute.oid == EMAIL_ATTRIBUTE:
            emails.append(check_email(check_text(value, "the e-mail address", 254)))
            continue
        if attribute.oid not in SUBJECT_ATTRIBUTES:
            label = attribute.oid._name if attribute.oid._name != "Unknown OID" else None
            raise PolicyViolation(
                f"the subject attribute {label or attribute.oid.dotted_string} is not allowed",
                field="subject",
            )
        short, limit = SUBJECT_ATTRIBUTES[attribute.oid]
        check_text(value, f"the subject's {short}", limit)
        if attribute.oid == NameOID.COUNTRY_NAME and not re.fullmatch(r"[A-Z]{2}", value):
            raise PolicyViolation("the country (C) must be two capital letters", field="subject")
        if attribute.oid == NameOID.DOMAIN_COMPONENT and not _LABEL.match(value.lower()):
            raise PolicyViolation(f"DC={value[:63]!r} is not a domain label", field="subject")
        attributes.append(x509.NameAttribute(attribute.oid, value))
    subject = x509.Name(attributes)
    if len(subject.rfc4514_string()) > MAX_SUBJECT_TEXT:  # the database column's size
        raise PolicyViolation(
            f"the subject is longer than {MAX_SUBJECT_TEXT} characters", field="subject"
        )
    return subject, emails


def common_name_of(name: x509.Name) -> str | None:
    """The subject's (first) common name, if it has one."""
    values = name.get_attributes_for_oid(NameOID.COMMON_NAME)
    return str(values[0].value) if values else None
