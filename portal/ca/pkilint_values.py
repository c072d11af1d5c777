"""pkilint's validators for single values (a SAN entry, a subject e-mail), without a document.

pkilint's validators take a node of a decoded document, but those that check a name's syntax
read only the node's value (`node.pdu`) and whether it sits inside nameConstraints
(`node.parents`). Handing them a node made from the value alone runs pkilint's own checks in
microseconds, where decoding a whole certificate with pyasn1 takes milliseconds. This is the
one module that relies on that; tests/ca/test_lint.py fails if pkilint changes it.

Wildcards are linted the CA/Browser Forum way. pkilint's PKIX profile reports `*.name` as
`pkix.invalid_domain_name_syntax` (RFC 5280 knows no wildcards); its CA/B profile drops that
finding for every dNSName (DnsNameGeneralNamePreferredNameSyntaxFilter) and checks the name with
DnsNameLdhLabelSyntaxValidator, which allows one leftmost `*` label. Here only that one finding,
for that one wildcard name, is waived, and only when the name passes the CA/B validator, the
rest of the name passes the PKIX validators, and the rest is not a public suffix.
"""

import functools
from types import SimpleNamespace

from cryptography import x509
from cryptography.x509.oid import NameOID

THRESHOLD = 2  # pkilint's ValidationFindingSeverity.WARNING (tests/ca/test_lint.py checks it)


class Octets(bytes):
    """An OCTET STRING value as the validators read it (pyasn1's `asOctets`)."""

    def asOctets(self) -> bytes:  # noqa: N802 (pyasn1's name)
        """The bytes themselves."""
        return bytes(self)


class ValueNode:
    """The part of a pkilint document node that its value validators read."""

    __slots__ = ("pdu", "name")
    parents = ()  # not inside nameConstraints

    def __init__(self, pdu, name: str):
        self.pdu = pdu  # str() of it is the value (a str stands in for pyasn1's IA5String)
        self.name = name


@functools.cache
def _validators() -> SimpleNamespace:
    """The validators per kind of value, made on first use (importing pkilint is slow)."""
    from pkilint import validation
    from pkilint.pkix import general_name

    return SimpleNamespace(
        validation=validation,
        dns=(general_name.GeneralNameDnsNameSyntaxValidator(),
             general_name.GeneralNameDnsNameDomainNameLengthValidator()),
        rfc822=(general_name.GeneralNameMailboxAddressSyntaxValidator(),
                general_name.GeneralNameRfc822NameDomainNameLengthValidator()),
        ip=(general_name.GeneralNameIpAddressSyntaxValidator(),),
        uri=(general_name.GeneralNameUriSyntaxValidator(),),
        mailbox=(general_name.MailboxAddressSyntaxValidator(),),
        domain=(general_name.DomainNameSyntaxValidator(),),
        dns_name=general_name.GeneralNameTypeName.DNS_NAME,
    )


@functools.cache
def _wildcard_validators() -> SimpleNamespace:
    """The CA/B name validator of pkilint and the public suffix list, made on the first wildcard."""
    import publicsuffixlist
    from pkilint.cabf.serverauth import serverauth_name
    from pkilint.pkix import general_name

    return SimpleNamespace(
        cabf_dns=(serverauth_name.DnsNameLdhLabelSyntaxValidator(),),
        pkix_syntax=general_name.DomainNameSyntaxValidator.VALIDATION_NOT_PREFERRED_NAME_SYNTAX,
        public_suffixes=publicsuffixlist.PublicSuffixList(),
    )


def run(validators, node: ValueNode, what) -> list[str]:
    """Run pkilint validators on one value node; its findings at WARNING or above."""
    validation = _validators().validation
    findings = []
    for validator in validators:
        try:
            result = validator.validate(node)
        except validation.ValidationFindingEncountered as found:
            descriptions = [validation.ValidationFindingDescription(found.finding, found.message)]
        else:
            descriptions = result.finding_descriptions if result is not None else []
        for description in descriptions:
            if description.finding.severity <= THRESHOLD:  # FATAL is 0, INFO 4
                message = f" ({description.message})" if description.message else ""
                where = what() if callable(what) else what
                findings.append(f"{description.finding.code}{message} at {where}")
    return findings


def _ip_octets(entry: x509.IPAddress) -> bytes:
    value = entry.value
    if hasattr(value, "packed"):
        return value.packed
    return value.network_address.packed + value.netmask.packed  # how cryptography encodes it


def san_findings(sans) -> list[str]:
    """Pkilint's findings for each subjectAltName entry's value."""
    known = _validators()
    findings: list[str] = []
    for index, entry in enumerate(sans):
        def where(index=index):
            return f"subjectAltName entry {index + 1}"

        if isinstance(entry, x509.DNSName):
            node = ValueNode(entry.value, known.dns_name)
            findings += run(known.dns, node, where)
        elif isinstance(entry, x509.RFC822Name):
            node = ValueNode(entry.value, "rfc822Name")
            findings += run(known.rfc822, node, where)
        elif isinstance(entry, x509.IPAddress):
            node = ValueNode(Octets(_ip_octets(entry)), "iPAddress")
            findings += run(known.ip, node, where)
        elif isinstance(entry, x509.UniformResourceIdentifier):
            node = ValueNode(entry.value, "uniformResourceIdentifier")
            findings += run(known.uri, node, where)
    return findings


def subject_findings(subject: x509.Name) -> list[str]:
    """Pkilint's findings for the subject's e-mail addresses and domain components."""
    known = _validators()
    findings: list[str] = []
    for attribute in subject:
        if attribute.oid == NameOID.EMAIL_ADDRESS:
            node = ValueNode(attribute.value, "emailAddress")
            findings += run(known.mailbox, node, "the subject's emailAddress")
        elif attribute.oid == NameOID.DOMAIN_COMPONENT:
            node = ValueNode(attribute.value, "domainComponent")
            findings += run(known.domain, node, "the subject's DC")
    return findings



def _wildcards(sans):
    for index, entry in enumerate(sans):
        if isinstance(entry, x509.DNSName) and entry.value.startswith("*"):
            yield index, entry.value


def wildcard_findings(sans) -> list[str]:
    """The CA/B objections to each wildcard dNSName (BR 7.1.2.7.12 syntax, public suffix)."""
    findings: list[str] = []
    for index, name in _wildcards(sans):
        known = _wildcard_validators()
        where = f"subjectAltName entry {index + 1}"
        found = run(known.cabf_dns, ValueNode(name, _validators().dns_name), where)
        base = name[2:]
        if not found and name.startswith("*.") and known.public_suffixes.is_public(base):
            found = [f'portal.wildcard_public_suffix (Wildcard over the public suffix "{base}": '
                     f'"{name}") at {where}']
        findings += found
    return findings


def waived_wildcard_findings(sans) -> frozenset[str]:
    """The exact PKIX finding texts (`code (message)`) that CA/B-valid wildcards are spared."""
    waived = set()
    for _index, name in _wildcards(sans):
        known, base = _validators(), name[2:]
        if (name.startswith("*.") and not wildcard_findings([x509.DNSName(name)])
                and not run(known.dns, ValueNode(base, known.dns_name), "")):
            code = _wildcard_validators().pkix_syntax.code
            waived.add(f'{code} (Invalid domain name syntax: "{name}")')
    return frozenset(waived)


def without_waived(findings, waived: frozenset[str]) -> list[str]:
    """`findings` (`code (message) at where` lines) less those whose `code (message)` is waived."""
    if not waived:
        return list(findings)
    return [text for text in findings if text.partition(" at ")[0] not in waived]


def has_wildcard(sans) -> bool:
    """Whether a dNSName among the SANs starts with `*` (most requests have none)."""
    return any(entry.value.startswith("*") for entry in sans if isinstance(entry, x509.DNSName))


def checked_san_findings(sans) -> list[str]:
    """Pkilint's findings for the SAN values, wildcards linted the CA/B way."""
    if not has_wildcard(sans):  # nothing to lint the CA/B way, nothing to waive
        return san_findings(sans)
    return without_waived(wildcard_findings(sans) + san_findings(sans),
                          waived_wildcard_findings(sans))
