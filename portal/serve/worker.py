"""The gthread worker of `portal serve`: connections wait on the poller, not in a thread."""

import errno
import select
import selectors
import socket
import ssl
import time
from functools import partial

from .gunicorn_internals import DEFER, TConn, ThreadWorker, check

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


class PollingThreadWorker(ThreadWorker):
    """gthread, but a connection waits on the poller, not in a thread, for its request.

    Stock gthread gives each new connection a thread for up to 5 s before deferring it, so a
    few idle TCP connections that never start TLS delayed every other client; and once the TLS
    handshake was done, the thread waited for the request without limit, so as many idle TLS
    connections as there are threads stopped the server. Here a new connection is parked until
    it is readable, the handshake is bounded by CLIENT_IO_TIMEOUT, and a connection whose
    request has not arrived once the handshake is done goes back to the poller.
    """

    def init_process(self):
        """Refuse to start on a gunicorn whose internals changed, naming what changed."""
        check(self)
        super().init_process()

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
                return DEFER
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
