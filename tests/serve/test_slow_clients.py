"""Slow and half-open clients against a real `portal serve`: others are still answered.

Each slow connection sends a request line, then one header line every few seconds, the way
a slowloris attack does; half-open ones send half a TLS ClientHello and stop. Client timeouts
below are generous bounds for a shared machine, not speed targets.
"""

import re
import select
import socket
import ssl
import subprocess

import pytest
import requests

from tests.conftest import require_program
from tests.e2e.test_serve_ping import issue
from tests.serve.serving import (
    Trickler,
    half_open_client_hello,
    init_instance,
    serve,
    slow_request,
    tls_context,
)

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def instance(tmp_path_factory):
    """An initialised instance with a client certificate for /ping."""
    folder = tmp_path_factory.mktemp("slow")
    env = init_instance(folder)
    cert, key, _ = issue(env, folder, "alice", "client", "/CN=alice")
    return {"env": env, "ca": folder / "instance" / "client-ca.pem", "cert": cert, "key": key}


def ping(instance, port: int) -> tuple[int, str]:
    """curl /ping with alice's certificate: (exit status, body)."""
    result = subprocess.run(
        [require_program("curl"), "-s", "--max-time", "60", "--cacert", str(instance["ca"]),
         "--cert", str(instance["cert"]), "--key", str(instance["key"]),
         f"https://localhost:{port}/ping"],
        capture_output=True, text=True,
    )
    return result.returncode, result.stdout


def test_slow_and_half_open_clients_leave_room_for_others(instance):
    """32 slow TLS, 32 slow plain-HTTP and 32 half-open TLS connections, 2 workers x 4 threads.

    gunicorn gave each a thread that waited 30 s per header line, so the first eight held
    every thread of a listener for as long as they kept sending. Here they wait on the poller
    (a long --header-timeout keeps them open throughout) and ping and the CRL are answered.
    """
    with serve(instance["env"], "--header-timeout", "600") as server:
        context = tls_context(instance["ca"])
        slow = [slow_request(server.port, context) for _ in range(32)]
        slow += [slow_request(server.http_port) for _ in range(32)]
        half_open = [half_open_client_hello(server.port) for _ in range(32)]
        try:
            with Trickler(slow, every=2) as trickler:
                for _ in range(3):
                    assert ping(instance, server.port) == (0, "pong")
                    crl = requests.get(f"http://127.0.0.1:{server.http_port}/crl.der",
                                       timeout=60)
                    assert crl.status_code == 200
                    assert crl.headers["Content-Type"] == "application/pkix-crl"
                assert trickler.failed == set()  # the slow ones were held open, not dropped
        finally:
            for sock in half_open:
                sock.close()


def _wait_until_closed(sockets: list[socket.socket], trickle: bool) -> dict[int, bytes]:
    """Trickle header lines until the server closes each socket; what each received."""
    received = {index: b"" for index in range(len(sockets))}
    open_ = dict(enumerate(sockets))
    for _ in range(600):  # a generous bound: the server closes them after 1 s
        if not open_:
            break
        if trickle:
            for sock in open_.values():
                try:
                    sock.sendall(b"X-Slow: 1\r\n")
                except OSError:
                    pass
        readable, _, _ = select.select(list(open_.values()), [], [], 0.5)
        for index, sock in list(open_.items()):
            if sock not in readable:
                continue
            try:
                data = sock.recv(4096)
            except (ssl.SSLError, OSError):
                data = b""
            received[index] += data
            if not data:
                del open_[index]
    assert not open_, "the server kept a slow connection open"
    return received


def _lines_about(output: str, sock_port: int) -> list[str]:
    return [line for line in output.splitlines()
            if re.search(rf"closed the connection from 127\.0\.0\.1:{sock_port}\b", line)]


def test_a_slow_head_is_closed_at_its_deadline_with_one_log_line(instance):
    with serve(instance["env"], "--header-timeout", "1") as server:
        context = tls_context(instance["ca"])
        sockets = [slow_request(server.port, context), slow_request(server.http_port),
                   half_open_client_hello(server.port)]
        ports = [sock.getsockname()[1] for sock in sockets]
        try:
            _wait_until_closed(sockets[:2], trickle=True)
            _wait_until_closed(sockets[2:], trickle=False)
        finally:
            for sock in sockets:
                sock.close()
        assert ping(instance, server.port) == (0, "pong")
        output = server.output()
    for port, stage in zip(ports, ["request head", "request head", "TLS handshake"],
                           strict=True):
        lines = _lines_about(output, port)
        assert len(lines) == 1, output
        assert f"no complete {stage}" in lines[0] and "within 1 s" in lines[0]
    assert "Traceback" not in output


def test_a_stalled_body_gets_408_and_one_log_line(instance):
    with serve(instance["env"], "--body-timeout", "1") as server:
        sock = tls_context(instance["ca"]).wrap_socket(
            socket.create_connection(("127.0.0.1", server.port), timeout=60),
            server_hostname="localhost")
        with sock:
            port = sock.getsockname()[1]
            sock.sendall(b"POST /login HTTP/1.1\r\nHost: localhost\r\n"
                         b"Content-Type: application/x-www-form-urlencoded\r\n"
                         b"Content-Length: 1000\r\n\r\nusername=al")
            answer = _wait_until_closed([sock], trickle=False)[0]
        assert answer.startswith(b"HTTP/1.1 408 "), answer[:200]
        output = server.output()
    lines = _lines_about(output, port)
    assert len(lines) == 1, output
    assert "request body not received within 1 s" in lines[0]
    assert "Traceback" not in output


@pytest.fixture(scope="module")
def default_server(instance):
    with serve(instance["env"], workers=1) as running:
        yield running


def _read_all(sock: socket.socket) -> bytes:
    data = b""
    while chunk := sock.recv(65536):
        data += chunk
    return data


def test_pipelined_requests_on_a_kept_alive_connection_are_all_answered(default_server):
    with socket.create_connection(("127.0.0.1", default_server.http_port), timeout=60) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n"
                     b"GET /crl.pem HTTP/1.1\r\nHost: localhost\r\n\r\n"
                     b"GET /healthz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        answers = _read_all(sock)
    assert answers.count(b"HTTP/1.1 200 ") == 3
    assert b"-----BEGIN X509 CRL-----" in answers


def test_a_request_head_over_64_kib_gets_431(default_server):
    with socket.create_connection(("127.0.0.1", default_server.http_port), timeout=60) as sock:
        head = b"GET /healthz HTTP/1.1\r\nHost: localhost\r\n" + b"X-Big: " + b"a" * 70000
        sock.sendall(head)
        answer = _read_all(sock)
    assert answer.startswith(b"HTTP/1.1 431 ")
    assert "Traceback" not in default_server.output()
