"""A lean HTTPS load client: prepared requests, keep-alive connections, one event loop.

The benchmark's client shares the machine's two cores with the server it measures, so it
should cost as little as possible, as wrk would: every request is serialised before the clock
starts, and one thread per process drives all its connections with a selector (Python threads
would spend the client's share on the GIL). Each response is still read whole and checked:
status 201 and a certificate in the body.
"""

import selectors
import socket
import ssl
import time
from dataclasses import dataclass, field

HEADER_END = b"\r\n\r\n"


def post_request(path: str, token: str, body: bytes, host: str = "127.0.0.1") -> bytes:
    """The bytes of one keep-alive POST of a JSON body."""
    head = (f"POST {path} HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {token}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n")
    return head.encode("ascii") + body


@dataclass
class _Connection:
    sock: ssl.SSLSocket
    buffer: bytearray = field(default_factory=bytearray)
    expected: int | None = None  # the whole response's length, once its headers are in


@dataclass
class LoadResult:
    """What a run of `drive` got."""

    ok: int = 0
    failures: list[str] = field(default_factory=list)
    started: float = 0.0
    ended: float = 0.0
    cpu_seconds: float = 0.0


def _connect(port: int, context: ssl.SSLContext) -> ssl.SSLSocket:
    raw = socket.create_connection(("127.0.0.1", port))
    raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock = context.wrap_socket(raw, server_hostname="127.0.0.1")
    sock.setblocking(False)
    return sock


def _response_length(buffer: bytearray) -> int | None:
    end = buffer.find(HEADER_END)
    if end < 0:
        return None
    for line in bytes(buffer[:end]).split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            return end + len(HEADER_END) + int(value)
    raise ValueError("a response without Content-Length")


def _receive(connection: _Connection) -> bool:
    """Read what has arrived; whether the whole response is in."""
    try:
        while True:
            chunk = connection.sock.recv(65536)
            if not chunk:
                raise ConnectionError("the server closed the connection")
            connection.buffer += chunk
    except ssl.SSLWantReadError:
        pass
    if connection.expected is None:
        connection.expected = _response_length(connection.buffer)
    return connection.expected is not None and len(connection.buffer) >= connection.expected


def drive(port: int, cafile: str, requests: list[bytes], connections: int,
          expect: bytes = b'"certificate"') -> LoadResult:
    """Send every request over `connections` keep-alive connections; count the good answers."""
    context = ssl.create_default_context(cafile=cafile)
    selector = selectors.DefaultSelector()
    queue = iter(requests)
    result = LoadResult()
    in_flight = 0

    def send_next(connection: _Connection) -> bool:
        request = next(queue, None)
        if request is None:
            return False
        connection.buffer.clear()
        connection.expected = None
        connection.sock.setblocking(True)  # a request is small: sendall at once
        connection.sock.sendall(request)
        connection.sock.setblocking(False)
        return True

    # Each connection sends its first request as soon as it is open: a server thread that
    # finished a handshake waits for that request (gthread), so opening them all first could
    # leave every server thread waiting and the next handshake unanswered.
    open_connections = []
    result.started, cpu = time.perf_counter(), time.process_time()
    for _ in range(connections):
        connection = _Connection(_connect(port, context))
        open_connections.append(connection)
        if send_next(connection):
            selector.register(connection.sock, selectors.EVENT_READ, connection)
            in_flight += 1
    while in_flight:
        for key, _events in selector.select():
            connection: _Connection = key.data
            try:
                done = _receive(connection)
                if done:
                    head = bytes(connection.buffer[:12])
                    if head.endswith(b"201") and expect in connection.buffer:
                        result.ok += 1
                    else:
                        result.failures.append(bytes(connection.buffer[:200]).decode("latin-1"))
                more = not done or send_next(connection)
            except (OSError, ValueError) as exc:  # the connection is lost: so is its request
                result.failures.append(f"{type(exc).__name__}: {exc}")
                more = False
            if not more:
                selector.unregister(connection.sock)
                in_flight -= 1
    result.ended, result.cpu_seconds = time.perf_counter(), time.process_time() - cpu
    for connection in open_connections:
        connection.sock.close()
    selector.close()
    return result
