"""A client connection's limits: a total deadline for its head, then one for its body.

gunicorn's only bound on a client is a timeout per read, so a client that sends one header
line every few seconds holds a thread for ever. The worker reads the TLS handshake and the
request head on its poller, without a thread, within `ClientLimits.header_timeout` in all
(nginx's `client_header_timeout`, Go's `ReadHeaderTimeout`); a thread then reads the body
within `ClientLimits.body_timeout`, enforced by the socket classes below.
"""

import socket
import ssl
import time
from dataclasses import dataclass, field

from werkzeug.exceptions import RequestTimeout

from .gunicorn_internals import SOCKET_KEY, close_if_body_unread

# How long one blocking read or write may wait once a thread has the connection.
CLIENT_IO_TIMEOUT = 30
# The most a request head may be; a longer one is answered 431 and closed.
MAX_HEAD_BYTES = 64 * 1024
# Lingering close (nginx's lingering_time and lingering_timeout): after answering a request
# whose body it did not read, the server reads and discards for this long at most, and until
# the client is silent this long, so that the client finishes sending and reads the answer.
LINGER_SECONDS = 30.0
LINGER_IDLE_SECONDS = 5.0
LINGER_MAX_BYTES = 64 * 1024 * 1024
TOO_LARGE = (b"HTTP/1.1 431 Request Header Fields Too Large\r\nConnection: close\r\n"
             b"Content-Type: text/plain\r\nContent-Length: 33\r\n\r\n"
             b"The request head is over 64 KiB.\n")


@dataclass(frozen=True)
class ClientLimits:
    """How long a client may take: its handshake and head together, then its body."""

    header_timeout: float = 15.0
    body_timeout: float = 60.0


class ClientTooSlow(RequestTimeout, TimeoutError):
    """The body did not arrive in time: the app answers 408, the server closes."""

    description = "The request body did not arrive in time."


class _Bounded:
    """A socket on which "blocking" waits CLIENT_IO_TIMEOUT at most, and reads meet a deadline.

    `deadline` (a time.monotonic() value, or None) is set when a thread takes the connection;
    a read that would end after it raises ClientTooSlow, and `on_late` is called once first.
    """

    deadline: float | None = None
    on_late = None
    late = False
    # One TLS record for a response's head and the start of its body: gunicorn writes them
    # with two sendall calls (two records, two system calls). While `hold_head` is set, the
    # first write (the head) waits for the next one; `flush_held()` sends it if none came.
    hold_head = False
    _held = b""

    def setblocking(self, flag: bool) -> None:
        """Blocking with a timeout, or non-blocking."""
        self.settimeout(CLIENT_IO_TIMEOUT if flag else 0.0)

    def _bound_read(self) -> None:
        timeout = self.gettimeout()
        if self.deadline is None or timeout == 0.0:
            return
        remaining = self.deadline - time.monotonic()
        if remaining <= 0:
            self._late()
        self.settimeout(min(remaining, timeout or CLIENT_IO_TIMEOUT))

    def _late(self):
        self.late = True
        callback, self.on_late = self.on_late, None
        if callback is not None:
            callback(self)
        raise ClientTooSlow()

    def sendall(self, data, *args):
        """Send all of `data` (after the held head, if any); hold it if it is the head."""
        if self._held:
            data, self._held = self._held + data, b""
        elif self.hold_head:
            self.hold_head = False
            self._held = bytes(data)
            return None
        return super().sendall(data, *args)

    def flush_held(self) -> None:
        """Send a held head that no body followed (an empty body, a HEAD request)."""
        self.hold_head = False
        if self._held:
            data, self._held = self._held, b""
            super().sendall(data)

    def recv(self, *args, **kwargs):
        """Read, within the deadline."""
        self._bound_read()
        try:
            return super().recv(*args, **kwargs)
        except TimeoutError:
            self._late()

    def recv_into(self, *args, **kwargs):
        """Read into a buffer, within the deadline."""
        self._bound_read()
        try:
            return super().recv_into(*args, **kwargs)
        except TimeoutError:
            self._late()


class BoundedSocket(_Bounded, socket.socket):
    """An accepted connection, with the limits above."""


class BoundedSSLSocket(_Bounded, ssl.SSLSocket):
    """The TLS side of BoundedSocket (the SSLContext builds these)."""


class AnswerLateBodies:
    """WSGI wrapper: a request whose body missed its deadline is answered 408.

    The app sees the read fail (werkzeug makes that a 400 "client disconnected"); whatever
    it answered, the client is told what happened, and the connection closes after it. An
    answer given before the body was read to its end closes the connection too.
    """

    BODY = b"The request body did not arrive in time.\n"

    def __init__(self, app):
        self.app = app

    def __call__(self, environ, start_response):
        """Run the app; replace its answer with 408 if the body came too late."""
        sock = environ.get(SOCKET_KEY)
        replaced = []

        def respond(status, headers, exc_info=None):
            close_if_body_unread(start_response)
            if not getattr(sock, "late", False):
                return start_response(status, headers, exc_info)
            replaced.append(status)
            return start_response("408 Request Timeout", [
                ("Content-Type", "text/plain; charset=utf-8"),
                ("Content-Length", str(len(self.BODY)))], exc_info)

        body = self.app(environ, respond)
        if not replaced:
            return body
        if hasattr(body, "close"):
            body.close()
        return [self.BODY]


def bounded(client: socket.socket, family: int | None = None) -> BoundedSocket:
    """The accepted socket as a non-blocking BoundedSocket (`family`: its listener's)."""
    # A TCP listener's connections are SOCK_STREAM of its family: socket's `family` and
    # `type` properties each convert to an enum, on every connection.
    sock = BoundedSocket(client.family if family is None else family, socket.SOCK_STREAM,
                         client.proto, fileno=client.detach())
    sock.setblocking(False)
    return sock


def head_complete(buffer: bytearray, searched: int) -> bool:
    """Whether the request head (up to its empty line) is in `buffer`, looking from `searched`."""
    start = max(0, searched - 3)
    return buffer.find(b"\r\n\r\n", start) >= 0 or buffer.find(b"\n\n", start) >= 0


@dataclass(eq=False)
class HeadReader:
    """A connection whose handshake or request head is still arriving, read on the poller.

    `conn` is the gunicorn connection of a kept-alive client (None for a new one); `sock` is
    the TLS socket once wrapped. `advance()` does what can be done without blocking.
    """

    sock: socket.socket
    address: tuple
    server: tuple
    deadline: float
    conn: object = None
    handshaking: bool = False
    buffer: bytearray = field(default_factory=bytearray)
    wants_write: bool = False

    def advance(self) -> bool:
        """Handshake and read what has arrived; True once the head is complete (or too large).

        Raises OSError (ssl.SSLError included) when the client is gone or breaks TLS, and
        EOFError when it closes cleanly.
        """
        self.wants_write = False
        if self.handshaking:
            if not self._step(self.sock.do_handshake):
                return False
            self.handshaking = False
        if self.buffer and (head_complete(self.buffer, 0) or self.too_large):
            return True  # a kept-alive client's next request, read ahead with the last one
        while True:
            chunk = self._step(self.sock.recv, 65536)
            if chunk is None:
                return False
            if not chunk:
                raise EOFError
            searched = len(self.buffer)
            self.buffer += chunk
            if head_complete(self.buffer, searched) or self.too_large:
                return True

    @property
    def too_large(self) -> bool:
        """Whether the head is over MAX_HEAD_BYTES."""
        return len(self.buffer) > MAX_HEAD_BYTES

    def _step(self, operation, *args):
        """Run one non-blocking step: its result, or None (True for a handshake) if it waits."""
        try:
            result = operation(*args)
        except (ssl.SSLWantReadError, BlockingIOError, InterruptedError):
            return None
        except ssl.SSLWantWriteError:
            self.wants_write = True
            return None
        return True if result is None else result

    def describe(self) -> str:
        """Where this connection stopped, for the log line that closes it."""
        if self.handshaking:
            return "TLS handshake"
        return f"request head ({len(self.buffer)} bytes received)"


@dataclass(eq=False)
class Lingering:
    """A connection being closed: its answer is sent, what the client still sends is dropped."""

    sock: socket.socket
    address: tuple
    until: float
    idle_until: float
    discarded: int = 0

    def discard(self) -> bool:
        """Read and drop what has arrived; True once the client is done (or over the cap)."""
        while True:
            try:
                data = self.sock.recv(65536)
            except (BlockingIOError, InterruptedError, ssl.SSLWantReadError):
                self.idle_until = time.monotonic() + LINGER_IDLE_SECONDS
                return False
            except OSError:
                return True
            if not data:
                return True
            self.discarded += len(data)
            if self.discarded > LINGER_MAX_BYTES:
                return True

    @property
    def deadline(self) -> float:
        """When to close it even if the client still sends."""
        return min(self.until, self.idle_until)


def close_at_once(sock: socket.socket) -> None:
    """Half-close, drop what has arrived (a TLS close_notify, say), close: a done client's end.

    What the worker's lingering close does at once for a client that sends nothing more.
    """
    try:
        sock.shutdown(socket.SHUT_WR)  # a TLS socket's records are then read raw
        sock.setblocking(False)
        while sock.recv(65536):
            pass
    except (OSError, ValueError):  # nothing more to read (EAGAIN included), or already closed
        pass
    finally:
        sock.close()


def peer(address) -> str:
    """host:port of a client, for the log."""
    if isinstance(address, tuple) and len(address) >= 2:
        return f"{address[0]}:{address[1]}"
    return str(address)
