"""Trusted reverse proxies: which peers may say who the client is, and who the client then is.

Behind nginx or Apache every connection comes from the web server, so the client's address is
in `X-Forwarded-For` (or `X-Real-IP`). Those headers are believed only from a peer listed in
PORTAL_TRUSTED_PROXIES; from anyone else they are removed, so nothing downstream (the
throttle, the audit log, the access log, Flask-Login) can read a forged one.
"""

import ipaddress
from collections.abc import Iterable

from .errors import ConfigurationError
from .translatable import N_

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
# The connection's own peer, kept in the environ when REMOTE_ADDR is replaced by the client's.
PEER_ADDRESS = "portal.peer_address"
_FORWARDING_HEADERS = ("HTTP_X_FORWARDED_FOR", "HTTP_X_REAL_IP")


def parse_trusted_proxies(text: str | None) -> tuple[IPNetwork, ...]:
    """The networks in PORTAL_TRUSTED_PROXIES (addresses or CIDR, comma or space separated)."""
    networks = []
    for entry in (text or "").replace(",", " ").split():
        try:
            networks.append(ipaddress.ip_network(entry, strict=False))
        except ValueError:
            raise ConfigurationError(
                N_("PORTAL_TRUSTED_PROXIES: %(entry)r is not an IP address or network (host "
                   "names are not accepted: write the proxy's address, e.g. 127.0.0.1)"),
                entry=entry
            ) from None
    return tuple(networks)


def _address(text: str | None) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address((text or "").strip().strip("[]"))
    except ValueError:
        return None


def is_trusted(address: str | None, networks: Iterable[IPNetwork]) -> bool:
    """Whether `address` lies in one of the trusted networks."""
    parsed = _address(address)
    return parsed is not None and any(parsed in network for network in networks)


def forwarded_client(environ: dict, networks: tuple[IPNetwork, ...]) -> str | None:
    """The client address a trusted peer forwarded, or None.

    X-Forwarded-For is read from the right, skipping trusted proxies (as nginx's
    `real_ip_recursive`): the first address not in the list is the client, so an address a
    client wrote at the left of the header is never taken. X-Real-IP is the fallback.
    """
    chain = environ.get("HTTP_X_FORWARDED_FOR", "")
    entries = [entry.strip() for entry in chain.split(",") if entry.strip()]
    if not entries and environ.get("HTTP_X_REAL_IP"):
        entries = [environ["HTTP_X_REAL_IP"].strip()]
    client = None
    for entry in reversed(entries):
        parsed = _address(entry)
        if parsed is None:
            break  # garbage in the chain: trust nothing to the left of it
        client = str(parsed)
        if not any(parsed in network for network in networks):
            break
    return client


class TrustedProxies:
    """WSGI middleware: REMOTE_ADDR becomes the forwarded client when the peer is trusted."""

    def __init__(self, app, networks: tuple[IPNetwork, ...]):
        self.app = app
        self.networks = networks

    def __call__(self, environ, start_response):
        """Resolve the client's address, then run the app."""
        resolve_client(environ, self.networks)
        return self.app(environ, start_response)


def resolve_client(environ: dict, networks: tuple[IPNetwork, ...]) -> None:
    """What TrustedProxies does to an environ: keep the peer, put the client in REMOTE_ADDR.

    The peer's address is kept under PEER_ADDRESS; forwarding headers from an untrusted peer
    are removed.
    """
    peer = environ.get("REMOTE_ADDR")
    environ[PEER_ADDRESS] = peer
    client = None
    if networks and is_trusted(peer, networks):
        client = forwarded_client(environ, networks)
    if client is None:
        for name in _FORWARDING_HEADERS:
            environ.pop(name, None)
    else:
        environ["REMOTE_ADDR"] = client
        environ["HTTP_X_FORWARDED_FOR"] = client
        environ.pop("HTTP_X_REAL_IP", None)
