"""The client certificate mod_ssl hands the portal when it runs inside Apache's mod_wsgi.

mod_ssl (`SSLOptions +ExportCertData`) puts the verified peer certificate in the request's
`SSL_CLIENT_CERT`. Under any other server that key means nothing: it is believed only when the
request really comes through mod_wsgi, which both puts its own `mod_wsgi.*` keys in the environ
and runs the portal in a process where its embedded `mod_wsgi` module is loaded. No HTTP header
can make either: headers arrive as HTTP_* keys, and nothing a client sends loads a module.
"""

import sys

from cryptography import x509

from ..ca.clientcert import load_forwarded_certificate


def under_mod_wsgi(environ: dict) -> bool:
    """Whether this request came through Apache's mod_wsgi (not another server, not a header)."""
    embedded = sys.modules.get("mod_wsgi")
    group = getattr(embedded, "process_group", None)
    return (
        isinstance(group, str)
        and "mod_wsgi.version" in environ
        and environ.get("mod_wsgi.process_group") == group
    )


def mod_wsgi_client_certificate(environ: dict) -> x509.Certificate | None:
    """The certificate mod_ssl verified for this request under mod_wsgi; None elsewhere."""
    if not under_mod_wsgi(environ):
        return None
    pem = environ.get("SSL_CLIENT_CERT")
    return load_forwarded_certificate(pem) if isinstance(pem, str) and pem else None
