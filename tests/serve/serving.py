"""A real `portal serve` with chosen options, and slow or half-open clients to throw at it."""

import os
import socket
import ssl
import subprocess
import threading
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from tests.conftest import BIN, run_portal
from tests.e2e.servers import free_port, stop, wait_for_port


@dataclass
class Running:
    """A running `portal serve`: its process, ports and combined stdout/stderr log."""

    process: subprocess.Popen
    port: int
    http_port: int
    log: Path

    def output(self) -> str:
        """Everything the server wrote so far."""
        return self.log.read_text(errors="replace")


def init_instance(folder: Path) -> dict:
    """An initialised instance; returns the environment that points at it."""
    env = {"PORTAL_INSTANCE": str(folder / "instance")}
    run_portal("init", env=env, check=True)
    return env


@contextmanager
def serve(env: dict, *args: str, workers: int = 2):
    """Run `portal serve ARGS` on free ports; yield a Running; stop the group at the end."""
    port, http_port = free_port(), free_port()
    log = Path(env["PORTAL_INSTANCE"]) / f"serve-{port}.log"
    with open(log, "wb") as output:
        process = subprocess.Popen(
            [str(BIN / "portal"), "serve", "--port", str(port), "--http-port", str(http_port),
             "--workers", str(workers), *args],
            env={**os.environ, **env}, stdout=output, stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        wait_for_port(port, process)
        wait_for_port(http_port, process)
        yield Running(process, port, http_port, log)
    finally:
        try:
            stop(process)
        except ProcessLookupError:
            pass


def tls_context(ca: Path) -> ssl.SSLContext:
    """A client context that trusts the portal's CA."""
    return ssl.create_default_context(cafile=str(ca))


def slow_request(port: int, context: ssl.SSLContext | None = None) -> socket.socket:
    """A connection (TLS if a context is given) that has sent a request line and one header."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=60)
    if context is not None:
        try:
            sock = context.wrap_socket(sock, server_hostname="localhost")
        except BaseException:
            sock.close()
            raise
    sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\n")
    return sock


def half_open_client_hello(port: int) -> socket.socket:
    """A connection that has sent half of a real TLS ClientHello, and then nothing."""
    hello = ssl.create_default_context().wrap_bio(ssl.MemoryBIO(), outgoing := ssl.MemoryBIO(),
                                                  server_hostname="localhost")
    try:
        hello.do_handshake()
    except ssl.SSLWantReadError:
        pass
    data = outgoing.read()
    sock = socket.create_connection(("127.0.0.1", port), timeout=60)
    sock.sendall(data[: len(data) // 2])
    return sock


class Trickler:
    """Sends one more header line on each connection every `every` seconds, in a thread.

    It only writes: the test reads nothing from these sockets while it runs.
    """

    def __init__(self, sockets: list[socket.socket], every: float):
        self.sockets = sockets
        self.every = every
        self.failed: set[int] = set()  # indexes the server has closed
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join(30)
        for sock in self.sockets:
            sock.close()

    def _run(self):
        while not self._stop.wait(self.every):
            for index, sock in enumerate(self.sockets):
                if index in self.failed:
                    continue
                try:
                    sock.sendall(b"X-Slow: 1\r\n")
                except OSError:
                    self.failed.add(index)
