"""pkilint's validators for single values (a SAN entry, a subject e-mail), without a document.

pkilint's validators take a node of a decoded document, but those that check a name's syntax
read only the node's value (`node.pdu`) and whether it sits inside nameConstraints
(`node.parents`). Handing them a node made from the value alone runs pkilint's own checks in
microseconds, where decoding a whole certificate with pyasn1 takes milliseconds. This is the
one module that relies on that; tests/ca/test_lint.py fails if pkilint changes it.
"""

from cryptography import x509
from cryptography.x509.oid import NameOID
from pkilint import validation
from pkilint.pkix import general_name

THRESHOLD = validation.ValidationFindingSeverity.WARNING


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


_DNS = (
    general_name.GeneralNameDnsNameSyntaxValidator(),
    general_name.GeneralNameDnsNameDomainNameLengthValidator(),
)
_RFC822 = (
    general_name.GeneralNameMailboxAddressSyntaxValidator(),
    general_name.GeneralNameRfc822NameDomainNameLengthValidator(),
)
_IP = (general_name.GeneralNameIpAddressSyntaxValidator(),)
_URI = (general_name.GeneralNameUriSyntaxValidator(),)
_MAILBOX = (general_name.MailboxAddressSyntaxValidator(),)
_DOMAIN = (general_name.DomainNameSyntaxValidator(),)


def run(validators, node: ValueNode, what) -> list[str]:
    """Run pkilint validators on one value node; its findings at WARNING or above."""
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
    findings: list[str] = []
    for index, entry in enumerate(sans):
        def where(index=index):
            return f"subjectAltName entry {index + 1}"

        if isinstance(entry, x509.DNSName):
            node = ValueNode(entry.value, general_name.GeneralNameTypeName.DNS_NAME)
            findings += run(_DNS, node, where)
        elif isinstance(entry, x509.RFC822Name):
            node = ValueNode(entry.value, "rfc822Name")
            findings += run(_RFC822, node, where)
        elif isinstance(entry, x509.IPAddress):
            node = ValueNode(Octets(_ip_octets(entry)), "iPAddress")
            findings += run(_IP, node, where)
        elif isinstance(entry, x509.UniformResourceIdentifier):
            node = ValueNode(entry.value, "uniformResourceIdentifier")
            findings += run(_URI, node, where)
    return findings


def subject_findings(subject: x509.Name) -> list[str]:
    """Pkilint's findings for the subject's e-mail addresses and domain components."""
    findings: list[str] = []
    for attribute in subject:
        if attribute.oid == NameOID.EMAIL_ADDRESS:
            node = ValueNode(attribute.value, "emailAddress")
            findings += run(_MAILBOX, node, "the subject's emailAddress")
        elif attribute.oid == NameOID.DOMAIN_COMPONENT:
            node = ValueNode(attribute.value, "domainComponent")
            findings += run(_DOMAIN, node, "the subject's DC")
    return findings

