"""The HTTPS listener's TLS context: built once per worker, rebuilt when its files change."""

import os
import ssl
import threading

# OpenSSL's X509_V_FLAG_NO_CHECK_TIME: let an expired client certificate through the handshake
# so that /ping can answer 403 "expired" instead of a bare TLS alert.
X509_V_FLAG_NO_CHECK_TIME = 0x200000


class TLSContextCache:
    """One SSLContext per worker, rebuilt only when the certificate files change.

    gunicorn builds a context per connection by default; loading the chain and the CA bundle
    each time would cost more than the handshake itself.
    """

    def __init__(self, sslsocket_class: type[ssl.SSLSocket] | None = None):
        self._key = None
        self._context = None
        self._lock = threading.Lock()
        self._sslsocket_class = sslsocket_class

    def __call__(self, conf, default_factory=None):
        """Gunicorn's `ssl_context` hook."""
        try:
            key = tuple(os.stat(path).st_mtime_ns for path in (conf.certfile, conf.keyfile,
                                                               conf.ca_certs))
        except OSError:
            key = self._key
        with self._lock:
            if key != self._key or self._context is None:
                try:
                    self._context = self._build(conf)
                    self._key = key
                except (OSError, ssl.SSLError):
                    if self._context is None:
                        raise  # nothing to fall back on; a renewal half-written is retried
        return self._context

    def _build(self, conf) -> ssl.SSLContext:
        context = server_context(conf.certfile, conf.keyfile, conf.ca_certs)
        if self._sslsocket_class is not None:
            context.sslsocket_class = self._sslsocket_class
        return context


def server_context(certfile: str, keyfile: str, ca_certs: str) -> ssl.SSLContext:
    """The portal's server-side SSLContext: client certificates asked, never required."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(certfile, keyfile)
    context.load_verify_locations(cafile=ca_certs)
    context.verify_mode = ssl.CERT_OPTIONAL  # asked on every page, required only by /ping
    context.verify_flags |= X509_V_FLAG_NO_CHECK_TIME
    context.set_alpn_protocols(["http/1.1"])
    return context
