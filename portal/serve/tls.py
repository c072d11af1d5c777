"""The HTTPS listener's TLS context: built once per worker, rebuilt when its files change."""

import ctypes
import os
import ssl
import sys
import threading

# OpenSSL's X509_V_FLAG_NO_CHECK_TIME: let an expired client certificate through the handshake
# so that /ping can answer 403 "expired" instead of a bare TLS alert.
X509_V_FLAG_NO_CHECK_TIME = 0x200000

# Mozilla's "intermediate" server configuration (ssl-config.mozilla.org, guidelines 5.7):
# TLS 1.2 and 1.3; for TLS 1.2 only ECDHE with AES-GCM or ChaCha20-Poly1305 (the optional DHE
# suites are left out); TLS 1.3's suites as OpenSSL has them; the client picks the cipher.
INTERMEDIATE_CIPHERS = ":".join([
    "ECDHE-ECDSA-AES128-GCM-SHA256", "ECDHE-RSA-AES128-GCM-SHA256",
    "ECDHE-ECDSA-AES256-GCM-SHA384", "ECDHE-RSA-AES256-GCM-SHA384",
    "ECDHE-ECDSA-CHACHA20-POLY1305", "ECDHE-RSA-CHACHA20-POLY1305",
])
INTERMEDIATE_GROUPS = "X25519:P-256:P-384"
# OpenSSL's SSL_CTRL_SET_GROUPS_LIST, the control behind SSL_CTX_set1_groups_list().
_SSL_CTRL_SET_GROUPS_LIST = 92


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
    context.load_cert_chain(certfile, keyfile)
    context.load_verify_locations(cafile=ca_certs)
    context.verify_mode = ssl.CERT_OPTIONAL  # asked on every page, required only by /ping
    context.verify_flags |= X509_V_FLAG_NO_CHECK_TIME
    context.set_alpn_protocols(["http/1.1"])
    apply_intermediate_profile(context)
    return context


def apply_intermediate_profile(context: ssl.SSLContext) -> None:
    """Restrict a server context to Mozilla's intermediate protocols, ciphers and groups."""
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.set_ciphers(INTERMEDIATE_CIPHERS)
    context.options &= ~ssl.OP_CIPHER_SERVER_PREFERENCE
    set_groups(context, INTERMEDIATE_GROUPS)


def set_groups(context: ssl.SSLContext, groups: str) -> None:
    """Set the key-exchange groups a context offers, e.g. "X25519:P-256:P-384".

    Python's ssl module sets one curve at most (set_ecdh_curve) before SSLContext.set_groups
    (proposed in CPython issue 136306). Until then this calls OpenSSL's
    SSL_CTX_set1_groups_list through ctypes on the SSL_CTX that CPython's SSLContext holds
    as its first field, after checking that pointer against the context's own options.
    """
    if hasattr(context, "set_groups"):
        context.set_groups(groups)
        return
    if sys.implementation.name != "cpython" or type(context).__basicsize__ < 3 * 8:
        raise RuntimeError("cannot set the TLS groups on this Python")
    import _ssl

    libssl = ctypes.CDLL(_ssl.__file__)  # symbols from the libssl that _ssl is linked with
    libssl.SSL_CTX_get_options.restype = ctypes.c_uint64
    libssl.SSL_CTX_get_options.argtypes = [ctypes.c_void_p]
    libssl.SSL_CTX_ctrl.restype = ctypes.c_long
    libssl.SSL_CTX_ctrl.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_long, ctypes.c_void_p]
    ssl_ctx = ctypes.c_void_p.from_address(id(context) + 2 * ctypes.sizeof(ctypes.c_ssize_t))
    if not ssl_ctx.value or libssl.SSL_CTX_get_options(ssl_ctx.value) != context.options:
        raise RuntimeError("CPython's SSLContext layout changed: cannot set the TLS groups")
    if libssl.SSL_CTX_ctrl(ssl_ctx.value, _SSL_CTRL_SET_GROUPS_LIST, 0,
                           ctypes.c_char_p(groups.encode())) != 1:
        raise ssl.SSLError(f"OpenSSL refused the TLS groups {groups!r}")
