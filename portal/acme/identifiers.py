"""ACME identifiers (RFC 8555 §7.1.3, RFC 8738): syntax, and an endpoint's name policy."""

import ipaddress
from dataclasses import dataclass

from cryptography import x509

from ..ca.names import check_dns_name
from ..ca.pkilint_values import checked_san_findings
from ..errors import PolicyViolation
from ..translatable import N_
from .problems import AcmeProblem


@dataclass(frozen=True, order=True)
class Identifier:
    """A checked identifier: `dns` (lower case, maybe `*.`) or `ip` (canonical text)."""

    type: str
    value: str

    @property
    def wildcard(self) -> bool:
        """Whether this is a wildcard DNS name."""
        return self.type == "dns" and self.value.startswith("*.")

    @property
    def base(self) -> str:
        """The name an authorization proves: without the `*.` of a wildcard."""
        return self.value[2:] if self.wildcard else self.value

    def json(self) -> dict:
        """The identifier object of an order."""
        return {"type": self.type, "value": self.value}

    def general_name(self) -> x509.GeneralName:
        """The subjectAltName entry that carries it."""
        if self.type == "ip":
            return x509.IPAddress(ipaddress.ip_address(self.value))
        return x509.DNSName(self.value)


@dataclass(frozen=True)
class NamePolicy:
    """The DNS suffixes and IP networks one endpoint may issue for."""

    suffixes: tuple[str, ...]
    networks: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]

    def check(self, identifier: Identifier) -> None:
        """RejectedIdentifier unless the endpoint may issue for `identifier`."""
        if identifier.type == "ip":
            address = ipaddress.ip_address(identifier.value)
            if any(address in network for network in self.networks):
                return
            allowed = ", ".join(str(n) for n in self.networks) or "no IP address"
        else:
            name = identifier.base
            if any(name == s or name.endswith("." + s) for s in self.suffixes):
                return
            allowed = ", ".join(self.suffixes) or "no DNS name"
        raise AcmeProblem(
            "rejectedIdentifier",
            f"this endpoint does not issue for {identifier.value[:80]} (it issues for "
            f"{allowed})",
            identifier=identifier.json(),
        )


def parse_suffix(text: str) -> str:
    """A DNS suffix for a policy: a fully qualified name, lower case."""
    return check_dns_name(text.strip().lstrip("."), allow_wildcard=False)


def parse_network(text: str) -> ipaddress.IPv4Network | ipaddress.IPv6Network:
    """An IP network for a policy (CIDR, host bits zero)."""
    try:
        return ipaddress.ip_network(text.strip())
    except ValueError:
        raise PolicyViolation(N_("%(text)r is not an IP network (CIDR such as 10.0.0.0/8)"),
                              field="network",
            text=text[:60]) from None


def parse_identifier(raw) -> Identifier:
    """Check one identifier object of a newOrder; malformed or unsupportedIdentifier if bad."""
    if not isinstance(raw, dict) or not isinstance(raw.get("value"), str):
        raise AcmeProblem("malformed", "an identifier must be an object with type and value")
    kind, value = raw.get("type"), raw["value"]
    if kind == "dns":
        try:
            name = check_dns_name(value)
        except PolicyViolation as exc:
            raise AcmeProblem("rejectedIdentifier", exc.message, identifier={
                "type": "dns", "value": value[:255]}) from None
        # What the pre-signing lint would refuse at finalize is refused now, before any
        # validation (a wildcard over a public suffix, for one).
        findings = checked_san_findings([x509.DNSName(name)])
        if findings:
            raise AcmeProblem("rejectedIdentifier", f"{name} cannot be issued: the lint "
                              f"reports {findings[0]}", identifier={"type": "dns",
                                                                    "value": name})
        return Identifier("dns", name)
    if kind == "ip":
        try:
            address = ipaddress.ip_address(value)
        except ValueError:
            raise AcmeProblem("malformed", f"{value[:60]!r} is not an IP address") from None
        return Identifier("ip", str(address))
    raise AcmeProblem("unsupportedIdentifier",
                      f"identifier type {str(kind)[:20]!r} is not supported (dns, ip)")


def reverse_name(identifier: Identifier) -> str:
    """The name tls-alpn-01 sends as SNI: the name, or an address's reverse-DNS name."""
    if identifier.type == "ip":
        return ipaddress.ip_address(identifier.value).reverse_pointer
    return identifier.base
