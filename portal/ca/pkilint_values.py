"""pkilint's validators for single values (a SAN entry, a subject e-mail), without a document.

pkilint's validators take a node of a decoded document, but those that check a name's syntax
read only the node's value (`node.pdu`) and whether it sits inside nameConstraints
(`node.parents`). Handing them a node made from the value alone runs pkilint's own checks in
microseconds, where decoding a whole certificate with pyasn1 takes milliseconds. This is the
one module that relies on that; tests/ca/test_lint.py fails if pkilint changes it.
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

