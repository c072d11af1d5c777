"""Checks on subject names and subjectAltNames taken from untrusted requests."""

import ipaddress
import re
import unicodedata

from cryptography import x509
from cryptography.x509.oid import NameOID

from ..errors import PolicyViolation
from ..translatable import N_, Message

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

# fullmatch everywhere: `$` also matches before a trailing newline.
_LABEL = re.compile(r"(?!-)[a-z0-9-]{1,63}(?<!-)")
_EMAIL_LOCAL = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]{1,64}")
_TOP_LABEL = re.compile(r"[a-z0-9][a-z0-9-]{0,61}[a-z]")  # what pkilint's domain check asks
_MARKUP = re.compile(r"[<>]")
_ASCII_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
# Unicode categories that print nothing or reorder what follows: controls (Cc), format
# characters (Cf: bidi overrides, zero-width spaces and joiners, BOM), surrogates (Cs), private
# use (Co), unassigned (Cn), line and paragraph separators (Zl, Zp).
_INVISIBLE_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"})
# Characters outside those categories that still render as nothing: fillers, blank patterns,
# the combining grapheme joiner and variation selectors.
_INVISIBLE_EXTRA = frozenset(
    "\u034f\u115f\u1160\u17b4\u17b5\u180b\u180c\u180d\u180f\u2800\u3164\uffa0"
) | frozenset(chr(code) for code in range(0xFE00, 0xFE10)) | frozenset(
    chr(code) for code in range(0xE0100, 0xE01F0)
)


def invisible_character(value: str) -> str | None:
    """The first control, format or otherwise invisible character in `value`, described.

    Every space other than U+0020 counts too (no-break, ideographic, thin spaces...): names
    that look alike must be alike.
    """
    if value.isascii():  # the common case: only C0 controls and DEL can hide here
        found = _ASCII_CONTROL.search(value)
        if found is None:
            return None
        value = found.group()
    for character in value:
        category = unicodedata.category(character)
        if (
            category in _INVISIBLE_CATEGORIES
            or character in _INVISIBLE_EXTRA
            or (category == "Zs" and character != " ")
        ):
            label = unicodedata.name(character, "a control or unassigned character")
            return f"U+{ord(character):04X} ({label})"
    return None


def refuse_invisible(value: str, what: str, *, field: str) -> str:
    """Refuse a name holding a control, format (bidi, zero-width) or invisible character."""
    found = invisible_character(value)
    if found is not None:
        raise PolicyViolation(
            N_("%(what)s contains %(found)s: control characters, format characters (bidi, "
               "zero-width) and invisible characters are not allowed"),
            field=field,
            what=what, found=found,
        )
    return value


def check_text(value: str, what: str, limit: int) -> str:
    """Refuse empty, oversize, control-character and markup-bearing values in a name."""
    if not value or not value.strip():
        raise PolicyViolation(N_("%(what)s is empty"), field="subject",
            what=what)
    if len(value.encode("utf-8")) > limit:  # cryptography counts UTF-8 bytes, not characters
        message = (N_("%(what)s is longer than %(limit)s characters") if value.isascii()
                   else N_("%(what)s is longer than %(limit)s bytes in UTF-8"))
        raise PolicyViolation(message, field="subject", what=what, limit=limit)
    refuse_invisible(value, what, field="subject")
    if _MARKUP.search(value):
        raise PolicyViolation(
            N_("%(what)s contains markup (< >), which is not allowed"), field="subject",
            what=what
        )
    if value != value.strip():
        raise PolicyViolation(N_("%(what)s starts or ends with white space"), field="subject",
            what=what)
    return value


def check_dns_name(name: str, *, allow_wildcard: bool = True) -> str:
    """Return a DNS name in lower case if it is a valid, fully qualified host name."""
    shown = name[:80]
    if not name.isascii():
        raise PolicyViolation(
            N_("DNS name %(shown)r has non-ASCII characters: write an international name in "
               "its xn-- (punycode) form"),
            field="sans",
            shown=shown,
        )
    lowered = name.lower()
    if not lowered:
        raise PolicyViolation(N_("a DNS name is empty"), field="sans")
    if len(lowered) > 253:
        raise PolicyViolation(
            N_("DNS name %(shown)r… is longer than 253 characters"), field="sans",
            shown=shown
        )
    if lowered.endswith("."):
        raise PolicyViolation(
            N_("DNS name %(shown)r ends with a dot: write it without the trailing dot"),
            field="sans",
            shown=shown,
        )
    labels = lowered.split(".")
    if "" in labels:
        raise PolicyViolation(
            N_("DNS name %(shown)r is not a valid host name: it has an empty label"), field="sans",
            shown=shown
        )
    if labels[0] == "*" and not allow_wildcard:
        raise PolicyViolation(N_("wildcard %(shown)r is not allowed here"), field="sans",
            shown=shown)
    if allow_wildcard and labels[0] == "*":
        labels = labels[1:]
        if len(labels) < 2:
            raise PolicyViolation(N_("wildcard %(shown)r is too broad"), field="sans",
                shown=shown)
    if len(labels) < 2:
        raise PolicyViolation(
            N_("DNS name %(shown)r is a single label: use a fully qualified name (RFC 5280 "
               "requires a domain name; for this machine use an IP address such as 127.0.0.1)"),
            field="sans",
            shown=shown,
        )
    for label in labels:
        if len(label) > 63:
            raise PolicyViolation(
                N_("DNS name %(shown)r is not a valid host name: a label is longer than 63 "
                   "characters"),
                field="sans",
                shown=shown,
            )
        if not _LABEL.fullmatch(label):
            raise PolicyViolation(
                N_("DNS name %(shown)r is not a valid host name: label %(label)r must be "
                   "letters, digits and inner hyphens"),
                field="sans",
                shown=shown, label=label[:63],
            )
    if labels[-1].isdigit():
        raise PolicyViolation(
            N_("DNS name %(shown)r is not a valid host name: its last label is a number"),
            field="sans",
            shown=shown,
        )
    if not _TOP_LABEL.fullmatch(labels[-1]):
        raise PolicyViolation(
            N_("DNS name %(shown)r is not a valid host name: its last label (the top-level "
               "domain) must be at least two characters and end with a letter"),
            field="sans",
            shown=shown,
        )
    return lowered


def check_email(address: str) -> str:
    """Return an e-mail address (domain in lower case) if it is a plain mailbox."""
    if len(address) > MAX_EMAIL:
        raise PolicyViolation(N_("the e-mail address %(address)r… is too long"), field="email",
            address=address[:40])
    local, at, domain = address.rpartition("@")
    if (
        not at
        or not _EMAIL_LOCAL.fullmatch(local)
        or local.startswith(".")
        or local.endswith(".")
        or ".." in local
    ):
        raise PolicyViolation(N_("%(address)r is not a valid e-mail address"), field="email",
            address=address[:80])
    return f"{local}@{check_dns_name(domain, allow_wildcard=False)}"


def check_general_name(name: x509.GeneralName, *, allow_wildcard: bool) -> x509.GeneralName:
    """Check one subjectAltName entry's syntax; return it normalised (DNS names in lower case).

    Only DNS names, IP addresses (4 or 16 bytes) and e-mail addresses are accepted: URIs,
    otherName, directoryName, registeredID and x400 addresses are refused, whatever the profile.
    """
    if isinstance(name, x509.DNSName):
        return x509.DNSName(check_dns_name(name.value, allow_wildcard=allow_wildcard))
    if isinstance(name, x509.RFC822Name):
        return x509.RFC822Name(check_email(name.value))
    if isinstance(name, x509.IPAddress):
        if not isinstance(name.value, ipaddress.IPv4Address | ipaddress.IPv6Address):
            # cryptography reads an 8- or 32-byte iPAddress as a network (a name constraint's
            # form): in a subjectAltName it is malformed (RFC 5280 4.2.1.6).
            size = 8 if isinstance(name.value, ipaddress.IPv4Network) else 32
            raise PolicyViolation(
                N_("the subject alternative name IP:%(value)s is %(size)s bytes long: an IP "
                   "address entry must be 4 bytes (IPv4) or 16 bytes (IPv6)"),
                field="sans",
                value=name.value, size=size,
            )
        return name
    raise PolicyViolation(
        N_("subject alternative names of type %(kind)s are not accepted (%(value)s); only "
           "DNS names, IP addresses and e-mail addresses"),
        field="sans",
        kind=type(name).__name__, value=describe_general_name(name)[:80],
    )


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
    if isinstance(name, x509.OtherName):
        return f"othername:{name.type_id.dotted_string}"
    if isinstance(name, x509.RegisteredID):
        return f"RID:{name.value.dotted_string}"
    if isinstance(name, x509.DirectoryName):
        return f"dirName:{name.value.rfc4514_string()}"
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
            raise PolicyViolation(N_("%(value)r is not an IP address"), field="sans",
                value=value[:60]) from None
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
            N_("the subject has %(count)s attributes; at most %(max_subject_attributes)s are "
               "allowed"),
            field="subject",
            count=len(name), max_subject_attributes=MAX_SUBJECT_ATTRIBUTES,
        )
    attributes: list[x509.NameAttribute] = []
    emails: list[str] = []
    for attribute in name:
        value = attribute.value
        if isinstance(value, bytes):
            raise PolicyViolation(N_("the subject has a binary attribute value"), field="subject")
        if attribute.oid == EMAIL_ATTRIBUTE:
            emails.append(check_email(check_text(value, Message(N_("the e-mail address")), 254)))
            continue
        if attribute.oid not in SUBJECT_ATTRIBUTES:
            label = attribute.oid._name if attribute.oid._name != "Unknown OID" else None
            raise PolicyViolation(
                N_("the subject attribute %(value)s is not allowed"),
                field="subject",
                value=label or attribute.oid.dotted_string,
            )
        short, limit = SUBJECT_ATTRIBUTES[attribute.oid]
        check_text(value, Message(N_("the subject's %(attribute)s"), attribute=short), limit)
        if attribute.oid == NameOID.COUNTRY_NAME and not re.fullmatch(r"[A-Z]{2}", value):
            raise PolicyViolation(N_("the country (C) must be two capital letters"),
                                  field="subject")
        if attribute.oid == NameOID.DOMAIN_COMPONENT and not _LABEL.fullmatch(value.lower()):
            raise PolicyViolation(N_("DC=%(value)r is not a domain label"), field="subject",
                value=value[:63])
        attributes.append(x509.NameAttribute(attribute.oid, value))
    subject = x509.Name(attributes)
    if len(subject.rfc4514_string()) > MAX_SUBJECT_TEXT:  # the database column's size
        raise PolicyViolation(
            N_("the subject is longer than %(max_subject_text)s characters"), field="subject",
            max_subject_text=MAX_SUBJECT_TEXT
        )
    return subject, emails


def common_name_of(name: x509.Name) -> str | None:
    """The subject's (first) common name, if it has one."""
    values = name.get_attributes_for_oid(NameOID.COMMON_NAME)
    return str(values[0].value) if values else None
