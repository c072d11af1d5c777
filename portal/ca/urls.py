"""The plain-HTTP URLs that certificates carry for their issuer's CRL and certificate."""

from urllib.parse import urlsplit, urlunsplit

from ..errors import PolicyViolation
from ..translatable import N_
from .profiles import PublicationUrls


def certificate_base_url(public_url: str) -> str:
    """The public base URL as written into certificates.

    RFC 5280 URIs name a host by a domain name or an IP literal; pkilint flags a single-label
    host such as `localhost`. `localhost` is written as 127.0.0.1 (the same loopback address
    the portal publishes on); any other single-label host is refused with advice.
    """
    parts = urlsplit(public_url.strip())
    if parts.scheme != "http" or not parts.hostname:
        raise PolicyViolation(
            N_("PORTAL_PUBLIC_URL must be a plain http:// URL with a host (got "
               "%(public_url)r): relying parties fetch CRLs over HTTP (RFC 5280)"),
            public_url=public_url
        )
    host = parts.hostname
    if host == "localhost":
        host = "127.0.0.1"
    elif "." not in host and ":" not in host:
        raise PolicyViolation(
            N_("PORTAL_PUBLIC_URL host %(host)r is a single label: use a fully qualified name "
               "or an IP address, as RFC 5280 URIs require"),
            host=host
        )
    netloc = f"[{host}]" if ":" in host else host
    if parts.port:
        netloc += f":{parts.port}"
    return urlunsplit(("http", netloc, parts.path.rstrip("/"), "", ""))


def publication_urls(public_url: str, ca_path: str, *, ocsp: bool = False) -> PublicationUrls:
    """CRL and caIssuers URLs under `ca_path` ('' for the default CA, 'ca/<name>' for others).

    With `ocsp`, the OCSP responder's URL too (`<base>/ocsp`, `<base>/ca/<name>/ocsp`).
    """
    base = certificate_base_url(public_url)
    prefix = f"{base}/{ca_path}" if ca_path else base
    return PublicationUrls(crl=f"{prefix}/crl.der", ca_issuers=f"{prefix}/ca.crt",
                           ocsp=f"{prefix}/ocsp" if ocsp else None)
