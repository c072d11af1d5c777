"""`portal serve`: the portal under gunicorn, over HTTPS, with the public paths on plain HTTP."""

import ctypes
import errno
import multiprocessing
import os
import re
import select
import selectors
import signal
import socket
import ssl
import sys
import threading
import time
from functools import partial

import click
from gunicorn.app.base import BaseApplication
from gunicorn.workers.gthread import _DEFER, TConn, ThreadWorker

from .cli.common import reports_errors
from .webserver import PUBLIC_PATHS

# OpenSSL's X509_V_FLAG_NO_CHECK_TIME: let an expired client certificate through the handshake
# so that /ping can answer 403 "expired" instead of a bare TLS alert.
X509_V_FLAG_NO_CHECK_TIME = 0x200000
RENEWAL_CHECK_SECONDS = 6 * 3600
PLAIN_HTTP_PATHS = re.compile(rf"/({PUBLIC_PATHS}|healthz|metrics)")
# How long a worker thread waits on one client's bytes (a handshake, a request, a send) before
# it drops the connection. gunicorn waits forever once a thread has a connection, so a few
# clients that stall mid-request would hold every thread.
CLIENT_IO_TIMEOUT = 30
# A client sends its request right after its side of the handshake, so a thread waits this
# long for it before parking the connection on the poller (a round trip there costs more).
REQUEST_GRACE = 0.1


class _BoundedBlocking:
    """A socket on which "blocking" means waiting CLIENT_IO_TIMEOUT at most."""

    def setblocking(self, flag: bool) -> None:
        """Blocking with a timeout, or non-blocking."""
        self.settimeout(CLIENT_IO_TIMEOUT if flag else 0.0)


class BoundedSocket(_BoundedBlocking, socket.socket):
    """An accepted connection, bounded (gunicorn sets it blocking before the handshake)."""


class BoundedSSLSocket(_BoundedBlocking, ssl.SSLSocket):
    """The TLS side of BoundedSocket (the SSLContext builds these)."""


class TLSContextCache:
    """One SSLContext per worker, rebuilt only when the certificate files change.

    gunicorn builds a context per connection by default; loading the chain and the CA bundle
    each time would cost more than the handshake itself.
    """

    def __init__(self):
        self._key = None
        self._context = None
        self._lock = threading.Lock()

    def __call__(self, conf, default_factory):
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

    @staticmethod
    def _build(conf) -> ssl.SSLContext:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        context.load_cert_chain(conf.certfile, conf.keyfile)
        context.load_verify_locations(cafile=conf.ca_certs)
        context.verify_mode = ssl.CERT_OPTIONAL  # asked on every page, required only by /ping
        context.verify_flags |= X509_V_FLAG_NO_CHECK_TIME
        context.set_alpn_protocols(["http/1.1"])
        context.sslsocket_class = BoundedSSLSocket
        return context


class PollingThreadWorker(ThreadWorker):
    """gthread, but a connection waits on the poller, not in a thread, for its request.

    Stock gthread gives each new connection a thread for up to 5 s before deferring it, so a
    few idle TCP connections that never start TLS delayed every other client; and once the TLS
    handshake was done, the thread waited for the request without limit, so as many idle TLS
    connections as there are threads stopped the server. Here a new connection is parked until
    it is readable, the handshake is bounded by CLIENT_IO_TIMEOUT, and a connection whose
    request has not arrived once the handshake is done goes back to the poller.
    """

    def handle(self, conn):
        """Handshake a new TLS connection first; without a request yet, park it again."""
        if self.cfg.is_ssl and not conn.initialized:
            try:
                conn.sock.setblocking(True)
                conn.init()  # the handshake, bounded by CLIENT_IO_TIMEOUT
            except (OSError, ValueError) as exc:  # ssl.SSLError and timeouts are OSErrors
                self.log.debug("portal: TLS handshake failed: %s", exc)
                return False
            if not _has_bytes(conn.sock, REQUEST_GRACE):
                return _DEFER
        return super().handle(conn)

    def accept(self, listener):
        """Accept a connection and park it until it is readable (or its keep-alive expires)."""
        try:
            client, address = listener.accept()
        except OSError as exc:
            if exc.errno not in (errno.EAGAIN, errno.ECONNABORTED, errno.EWOULDBLOCK):
                raise
            return
        self.nr_conns += 1
        client = BoundedSocket(client.family, client.type, client.proto, fileno=client.detach())
        conn = TConn(self.cfg, client, address, listener.getsockname())
        conn.timeout = time.monotonic() + self.cfg.keepalive
        self.pending_conns.append(conn)
        self.poller.register(
            conn.sock, selectors.EVENT_READ, partial(self.on_pending_socket_readable, conn)
        )


def _has_bytes(sock, wait: float) -> bool:
    """Whether a (TLS) socket has data to read, decrypted or not, within `wait` seconds."""
    if isinstance(sock, ssl.SSLSocket) and sock.pending():
        return True
    return bool(select.select([sock], [], [], wait)[0])


class PlainHttpGate:
    """WSGI wrapper for the plain-HTTP listener: public CA/CRL paths only, the rest to HTTPS."""

    def __init__(self, app, https_port: int):
        self.app = app
        self.https_port = https_port

    def __call__(self, environ, start_response):
        """Serve public paths; redirect everything else to the HTTPS listener."""
        path = environ.get("PATH_INFO", "")
        if PLAIN_HTTP_PATHS.fullmatch(path):
            return self.app(environ, start_response)
        host = environ.get("HTTP_HOST") or environ.get("SERVER_NAME", "localhost")
        host = re.sub(r":\d+\Z", "", host) if not host.endswith("]") else host
        if not re.fullmatch(r"[A-Za-z0-9.\-]+|\[[0-9A-Fa-f:.]+\]", host):
            host = "localhost"
        query = environ.get("QUERY_STRING")
        location = f"https://{host}:{self.https_port}{path}" + (f"?{query}" if query else "")
        start_response("308 Permanent Redirect", [("Location", location),
                                                  ("Content-Length", "0")])
        return [b""]


class PortalServer(BaseApplication):
    """gunicorn run from inside the `portal` command, with the app factory."""

    def __init__(self, options: dict, *, plain_http_gate_port: int | None = None):
        self.options = options
        self.gate_port = plain_http_gate_port
        super().__init__()

    def load_config(self):
        """Pass our options to gunicorn's settings."""
        for key, value in self.options.items():
            self.cfg.set(key, value)
        if "control_socket_disable" in self.cfg.settings:
            # gunicorn >= 24 opens a control socket at one fixed path per user: two listeners
            # (or two portals) would fight over it, and the portal has no use for it.
            self.cfg.set("control_socket_disable", True)

    def load(self):
        """Each worker builds its own app (and loads the CA key once)."""
        from . import create_app

        app = create_app()
        return PlainHttpGate(app, self.gate_port) if self.gate_port else app


def default_workers() -> int:
    """Two workers per core, at least two."""
    return max(2, multiprocessing.cpu_count() * 2)


def _die_with_parent() -> None:
    try:  # Linux: PR_SET_PDEATHSIG, so the HTTP listener never outlives `portal serve`
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)
    except OSError:
        pass


def _run_plain_http(options: dict, https_port: int) -> None:
    _die_with_parent()
    sys.argv = sys.argv[:1]
    PortalServer(options, plain_http_gate_port=https_port).run()


def _renew_periodically(app) -> None:
    from .services.server_tls import ensure_server_certificate

    while True:
        threading.Event().wait(RENEWAL_CHECK_SECONDS)
        try:
            with app.app_context():
                if ensure_server_certificate():
                    app.logger.warning("portal: renewed the server certificate")
        except Exception:  # keep serving with the current certificate; say so in the log
            app.logger.exception("portal: server certificate renewal failed")


def common_options(workers: int, threads: int = 4) -> dict:
    """Gunicorn settings shared by both listeners."""
    return {
        "workers": workers,
        "worker_class": "portal.server.PollingThreadWorker",
        "threads": threads,
        "timeout": 60,
        "graceful_timeout": 10,
        "keepalive": 5,
        "accesslog": "-",
        "logger_class": "portal.accesslog.RedactingLogger",  # no enrollment tokens in logs
        "limit_request_field_size": 16384,
    }


@click.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", type=click.IntRange(1, 65535), default=8443, show_default=True,
              help="HTTPS port (the whole portal).")
@click.option("--http-port", type=click.IntRange(0, 65535), default=8080, show_default=True,
              help="Plain HTTP port for the CA certificate and the CRL (0: none).")
@click.option("--workers", type=click.IntRange(min=1), default=default_workers)
@click.option("--threads", type=click.IntRange(min=1), default=4, show_default=True,
              help="Requests each worker handles at once (kept-alive connections wait on the "
              "worker's poller and take no thread).")
@reports_errors
def serve_command(host, port, http_port, workers, threads):
    """Serve the portal over HTTPS with gunicorn (client certificates asked, /ping requires one)."""
    from flask import current_app

    from .services.server_tls import ensure_server_certificate, server_files

    app = current_app._get_current_object()
    if ensure_server_certificate():
        click.echo("portal: issued a new server certificate", err=True)
    files = server_files()
    # End this process's transaction and close its connections before gunicorn forks: on
    # PostgreSQL an idle transaction held for the server's lifetime would block DDL (a
    # restore, a migration) and vacuum, and a forked child must never share a connection.
    from .extensions import db

    db.session.remove()
    db.engine.dispose()
    bind_host = f"[{host}]" if ":" in host else host
    options = common_options(workers, threads)
    plain = None
    if http_port:
        plain = multiprocessing.get_context("fork").Process(
            target=_run_plain_http,
            args=({**options, "bind": [f"{bind_host}:{http_port}"]}, port),
            daemon=False,
        )
        plain.start()
    threading.Thread(target=_renew_periodically, args=(app,), daemon=True).start()
    click.echo(f"portal: https://{bind_host}:{port}/ and http://{bind_host}:{http_port}/ "
               f"({workers} workers)", err=True)
    try:
        PortalServer(
            {
                **options,
                "bind": [f"{bind_host}:{port}"],
                "certfile": files.certificate,
                "keyfile": files.key,
                "ca_certs": files.client_ca_bundle,
                "cert_reqs": ssl.CERT_OPTIONAL,
                "ssl_context": TLSContextCache(),
            }
        ).run()
    finally:
        if plain is not None and plain.is_alive():
            plain.terminate()
            plain.join(10)
