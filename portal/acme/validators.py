"""Challenge validation over the network (RFC 8555 §8.3, §8.4; RFC 8737).

http-01, dns-01 and tls-alpn-01, each bounded in time and size. Run by the background worker,
never in a request thread.
"""

import base64
import hashlib
import http.client
import ipaddress
import socket
import ssl
from dataclasses import dataclass, field
from urllib.parse import urljoin, urlsplit

import dns.exception
import dns.resolver

from ..ca.acme_tls_alpn import check_validation_certificate
from .identifiers import Identifier, reverse_name
from .problems import AcmeProblem

MAX_REDIRECTS = 10
MAX_BODY = 8192  # a key authorization is ~90 bytes; more than this is not an answer
ALPN = "acme-tls/1"


@dataclass(frozen=True)
class ValidationSettings:
    """Where validation connects: ports, the dns-01 resolver, and fixed name=address pairs."""

    http_port: int = 80
    tls_port: int = 443
    dns_server: tuple[str, int] | None = None
    resolve: dict[str, str] = field(default_factory=dict)
    timeout: float = 10.0


def parse_settings(config) -> ValidationSettings:
    """The PORTAL_ACME_* settings."""
    resolve = {}
    for pair in str(config.get("PORTAL_ACME_RESOLVE", "")).split(","):
        if pair.strip():
            name, _, address = pair.partition("=")
            resolve[name.strip().lower()] = str(ipaddress.ip_address(address.strip()))
    server = str(config.get("PORTAL_ACME_DNS_SERVER", "")).strip()
    dns_server = None
    if server.startswith("["):  # [IPv6]:port
        host, _, rest = server[1:].partition("]")
        dns_server = (host, int(rest.lstrip(":") or 53))
    elif server.count(":") == 1:
        host, port = server.split(":")
        dns_server = (host, int(port))
    elif server:
        dns_server = (server, 53)
    return ValidationSettings(
        http_port=int(config.get("PORTAL_ACME_HTTP_PORT", 80)),
        tls_port=int(config.get("PORTAL_ACME_TLS_PORT", 443)),
        dns_server=dns_server, resolve=resolve,
        timeout=float(config.get("PORTAL_ACME_TIMEOUT", 10)),
    )


def _address(host: str, port: int, settings: ValidationSettings) -> str:
    try:
        return str(ipaddress.ip_address(host.strip("[]")))
    except ValueError:
        pass
    labels = host.lower().split(".")
    # an exact pair first, then `*.suffix=address` pairs from the closest suffix out
    for candidate in [host.lower()] + ["*." + ".".join(labels[i:]) for i in range(1, len(labels))]:
        fixed = settings.resolve.get(candidate)
        if fixed:
            return fixed
    try:
        return socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0][4][0]
    except (OSError, UnicodeError) as exc:
        raise AcmeProblem("dns", f"{host} does not resolve ({exc})") from None


def check_http01(identifier: Identifier, token: str, key_authorization: str,
                 settings: ValidationSettings) -> None:
    """GET http://<name>/.well-known/acme-challenge/<token>: the body is the key authorization."""
    url = f"http://{_host_part(identifier.value)}/.well-known/acme-challenge/{token}"
    for _ in range(MAX_REDIRECTS + 1):
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise AcmeProblem("connection", f"redirected to an unusable URL {url[:200]!r}")
        port = settings.http_port if parts.scheme == "http" else settings.tls_port
        if parts.port not in (None, port):
            raise AcmeProblem("connection", f"redirected to port {parts.port}; only "
                              f"{settings.http_port} and {settings.tls_port} are followed")
        status, location, body = _get(parts, port, settings)
        if status in (301, 302, 303, 307, 308) and location:
            url = urljoin(url, location)
            continue
        if status != 200:
            raise AcmeProblem("unauthorized", f"{url[:200]} answered HTTP {status}")
        if body.strip() != key_authorization.encode():
            raise AcmeProblem("incorrectResponse", f"{url[:200]} did not answer the key "
                              f"authorization (got {body[:40]!r})")
        return
    raise AcmeProblem("connection", f"more than {MAX_REDIRECTS} redirects")


def _host_part(value: str) -> str:
    return f"[{value}]" if ":" in value else value


def _get(parts, port: int, settings: ValidationSettings) -> tuple[int, str | None, bytes]:
    host = parts.hostname
    address = _address(host, port, settings)
    if parts.scheme == "https":
        context = ssl.create_default_context()
        context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
        connection = http.client.HTTPSConnection(address, port, timeout=settings.timeout,
                                                 context=context)
    else:
        connection = http.client.HTTPConnection(address, port, timeout=settings.timeout)
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    response = None
    try:
        connection.request("GET", path, headers={
            "Host": _host_part(host) if port in (80, 443) else f"{_host_part(host)}:{port}",
            "User-Agent": "portal-acme-validation", "Accept": "*/*",
        })
        response = connection.getresponse()
        body = response.read(MAX_BODY + 1)
        if len(body) > MAX_BODY:
            raise AcmeProblem("unauthorized", f"the answer from {host} is over {MAX_BODY} bytes")
        return response.status, response.getheader("Location"), body
    except (OSError, http.client.HTTPException) as exc:
        raise AcmeProblem("connection", f"fetching from {host} port {port} failed: {exc}") \
            from None
    finally:
        if response is not None:  # a response to `Connection: close` owns the socket
            response.close()
        connection.close()


def dns01_value(key_authorization: str) -> str:
    """The TXT value dns-01 asks for: base64url(SHA-256(key authorization))."""
    digest = hashlib.sha256(key_authorization.encode()).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def check_dns01(identifier: Identifier, key_authorization: str,
                settings: ValidationSettings) -> None:
    """TXT _acme-challenge.<name> holds the digest (asked of PORTAL_ACME_DNS_SERVER)."""
    resolver = dns.resolver.Resolver(configure=settings.dns_server is None)
    if settings.dns_server is not None:
        resolver.nameservers = [settings.dns_server[0]]
        resolver.port = settings.dns_server[1]
    resolver.lifetime = settings.timeout
    name = f"_acme-challenge.{identifier.base}"
    try:
        answer = resolver.resolve(name, "TXT")
    except (dns.resolver.NXDOMAIN, dns.resolver.NoAnswer):
        raise AcmeProblem("incorrectResponse", f"no TXT record at {name}") from None
    except dns.exception.DNSException as exc:
        raise AcmeProblem("dns", f"looking up TXT {name} failed: {exc}") from None
    wanted = dns01_value(key_authorization).encode()
    if not any(b"".join(record.strings) == wanted for record in answer):
        raise AcmeProblem("incorrectResponse", f"the TXT records at {name} do not hold the "
                          "key authorization's digest")


def check_tls_alpn01(identifier: Identifier, key_authorization: str,
                     settings: ValidationSettings) -> None:
    """A TLS handshake with ALPN acme-tls/1 shows a certificate proving the name (RFC 8737)."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
    context.set_alpn_protocols([ALPN])
    host = identifier.value
    address = _address(host, settings.tls_port, settings)
    try:
        with socket.create_connection((address, settings.tls_port),
                                      timeout=settings.timeout) as raw:
            with context.wrap_socket(raw, server_hostname=reverse_name(identifier)) as tls:
                protocol = tls.selected_alpn_protocol()
                der = tls.getpeercert(binary_form=True)
    except (OSError, ssl.SSLError) as exc:
        raise AcmeProblem("tls", f"the TLS handshake with {host} port {settings.tls_port} "
                          f"failed: {exc}") from None
    if protocol != ALPN:
        raise AcmeProblem("tls", f"{host} did not choose the {ALPN} protocol")
    problem = check_validation_certificate(der or b"", identifier.type, identifier.value,
                                           key_authorization)
    if problem:
        raise AcmeProblem("incorrectResponse", problem)


def validate(kind: str, identifier: Identifier, token: str, thumbprint: str,
             settings: ValidationSettings) -> None:
    """Validate one challenge; an AcmeProblem says why it failed."""
    key_authorization = f"{token}.{thumbprint}"
    if kind == "http-01":
        check_http01(identifier, token, key_authorization, settings)
    elif kind == "dns-01":
        check_dns01(identifier, key_authorization, settings)
    elif kind == "tls-alpn-01":
        check_tls_alpn01(identifier, key_authorization, settings)
    else:
        raise AcmeProblem("malformed", f"unknown challenge type {kind}")
