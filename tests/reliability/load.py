"""A load client for the JSON API: threads, each on its own keep-alive HTTPS connection.

Used by the load, crash and backup tests and by benchmarks/load.py. Each request's outcome is
kept (status and JSON body, or the connection error) so that the tests can check every
certificate a client received against the database afterwards.
"""

import http.client
import json
import socket
import ssl
import threading
from collections.abc import Callable
from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID


@dataclass
class Outcome:
    """What one request got: an HTTP status and JSON body, or a connection error."""

    index: int
    status: int | None = None
    body: dict | None = None
    error: str | None = None

    @property
    def issued(self) -> bool:
        """A certificate was handed out."""
        return self.status == 201 and bool(self.body and self.body.get("certificate"))


def make_csrs(count: int, *, prefix: str = "load") -> list[str]:
    """`count` distinct server CSRs as PEM text (fresh EC P-256 keys, ~0.2 ms each)."""
    csrs = []
    for index in range(count):
        host = f"{prefix}{index}.example.com"
        key = ec.generate_private_key(ec.SECP256R1())
        csr = (x509.CertificateSigningRequestBuilder()
               .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, host)]))
               .add_extension(x509.SubjectAlternativeName([x509.DNSName(host)]), critical=False)
               .sign(key, hashes.SHA256()))
        csrs.append(csr.public_bytes(serialization.Encoding.PEM).decode())
    return csrs


def wrap_tls(context: ssl.SSLContext, raw: socket.socket, host: str) -> ssl.SSLSocket:
    """`context.wrap_socket(raw)`, closing the TLS socket whatever fails (the raw one too).

    CPython's `SSLSocket._create` moves the descriptor into the new SSLSocket before it checks
    the connection; when the peer reset it in between (a listen backlog dropped by kill -9),
    `recv(1)` raises ECONNRESET and the half-made SSLSocket is left unclosed: a ResourceWarning
    later, wherever the exception is dropped. It is the `self` of a frame in the traceback.
    """
    try:
        return context.wrap_socket(raw, server_hostname=host)
    except BaseException as exc:
        traceback = exc.__traceback__
        while traceback is not None:
            orphan = traceback.tb_frame.f_locals.get("self")
            if isinstance(orphan, ssl.SSLSocket):
                orphan.close()
            traceback = traceback.tb_next
        raw.close()
        raise


class _TLSConnection(http.client.HTTPSConnection):
    """An HTTPS connection with TCP_NODELAY whose set-up leaks no socket when it fails."""

    def __init__(self, host: str, port: int, context: ssl.SSLContext, timeout: float):
        super().__init__(host, port, timeout=timeout)
        self.tls_context = context

    def connect(self) -> None:
        """Open TCP (no Nagle stalls), then TLS; close everything on any failure."""
        raw = socket.create_connection((self.host, self.port), self.timeout)
        try:
            # After a reset (the server was killed) even this can fail.
            raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except BaseException:
            raw.close()
            raise
        self.sock = wrap_tls(self.tls_context, raw, self.host)


class ApiConnection:
    """One keep-alive HTTPS connection to the API."""

    def __init__(self, port: int, cafile: str, token: str, *, host: str = "127.0.0.1"):
        self.context = ssl.create_default_context(cafile=cafile)
        self.host, self.port = host, port
        self.headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
        self.connection: http.client.HTTPSConnection | None = None

    def _connect(self) -> http.client.HTTPSConnection:
        connection = _TLSConnection(self.host, self.port, self.context, timeout=120)
        try:
            connection.connect()
        except BaseException:
            connection.close()
            raise
        return connection

    def request(self, method: str, path: str, payload: dict | None = None) -> tuple[int, dict]:
        """Send one request; (status, JSON body). Raises OSError/HTTPException on failure."""
        body = json.dumps(payload).encode() if payload is not None else None
        try:
            if self.connection is None:
                self.connection = self._connect()
            self.connection.request(method, path, body=body, headers=self.headers)
            response = self.connection.getresponse()
            data = response.read()
        except (OSError, http.client.HTTPException):
            self.close()
            raise
        if response.getheader("Connection", "").lower() == "close":
            self.close()
        return response.status, json.loads(data) if data else {}

    def close(self) -> None:
        """Close the connection (the next request opens a new one)."""
        if self.connection is not None:
            self.connection.close()
            self.connection = None


def run_load(port: int, cafile: str, token: str, csrs: list[str], *, concurrency: int = 32,
             profile: str = "server",
             on_outcome: Callable[[Outcome], None] | None = None) -> list[Outcome]:
    """POST every CSR to /api/v1/certificates from `concurrency` threads; every outcome, in order.

    A request that fails at the connection level is not retried (a retry could issue twice);
    its outcome carries the error and the thread goes on with a new connection.
    """
    outcomes = [Outcome(index) for index in range(len(csrs))]
    lock = threading.Lock()
    cursor = iter(range(len(csrs)))

    def worker():
        connection = ApiConnection(port, cafile, token)
        try:
            while True:
                with lock:
                    index = next(cursor, None)
                if index is None:
                    return
                outcome = outcomes[index]
                try:
                    outcome.status, outcome.body = connection.request(
                        "POST", "/api/v1/certificates", {"csr": csrs[index], "profile": profile})
                except (OSError, http.client.HTTPException, ValueError) as exc:
                    outcome.error = f"{type(exc).__name__}: {exc}"
                if on_outcome is not None:
                    on_outcome(outcome)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, daemon=True) for _ in range(concurrency)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return outcomes
