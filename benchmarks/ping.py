"""Full TLS handshakes with /ping per second: `portal serve` beside a plain Python ssl server.

Both servers use the same certificate, key and client CA, ask for the client certificate, get
the same number of processes, and are driven by the same client processes in the same run.
Every request is a new connection (a full handshake, no resumption) presenting a client
certificate; the portal also checks the certificate against its database (revocation).
The two are measured in interleaved rounds (plain, portal, plain, portal, ...: PING_ROUNDS,
default 5) and the verdict is the median of the rounds' ratios, so that a slow phase of a
shared machine weighs on both sides alike. Target: the portal at least 0.7 of the plain server.
"""

import multiprocessing
import os
import socket
import ssl
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import print_table  # noqa: E402

from tests.e2e.servers import free_port, stop, wait_for_port

BIN = Path(sys.executable).parent
WORKERS = 2
CLIENTS = 4
REQUESTS_PER_CLIENT = int(os.environ.get("PING_REQUESTS", "300"))
ROUNDS = int(os.environ.get("PING_ROUNDS", "5"))
REQUEST = b"GET /ping HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"


def plain_server(port_socket: socket.socket, files: dict) -> None:
    """One process of the baseline: accept, handshake, answer pong, close."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(files["cert"], files["key"])
    context.load_verify_locations(files["ca"])
    context.verify_mode = ssl.CERT_OPTIONAL
    while True:
        conn, _ = port_socket.accept()
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        try:
            with context.wrap_socket(conn, server_side=True) as tls:
                tls.getpeercert(binary_form=True)
                data = b""
                while b"\r\n\r\n" not in data:
                    chunk = tls.recv(4096)
                    if not chunk:
                        break
                    data += chunk
                tls.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n"
                            b"Content-Length: 4\r\nConnection: close\r\n\r\npong")
        except (OSError, ssl.SSLError):
            conn.close()


def start_plain(files: dict) -> tuple[int, list]:
    port = free_port()
    listener = socket.create_server(("127.0.0.1", port), backlog=512)
    processes = [multiprocessing.Process(target=plain_server, args=(listener, files), daemon=True)
                 for _ in range(WORKERS)]
    for process in processes:
        process.start()
    listener.close()
    return port, processes


def client(port: int, files: dict, count: int, results) -> None:
    """Make `count` new TLS connections presenting the client certificate."""
    context = ssl.create_default_context(cafile=files["ca"])
    context.load_cert_chain(files["client_cert"], files["client_key"])
    ok = 0
    for _ in range(count):
        with socket.create_connection(("127.0.0.1", port)) as raw:
            raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            with context.wrap_socket(raw, server_hostname="localhost") as tls:
                tls.sendall(REQUEST)
                data = b""
                while chunk := tls.recv(4096):
                    data += chunk
        ok += data.endswith(b"pong")
    results.put(ok)


def drive(port: int, files: dict) -> float:
    """Handshakes per second from CLIENTS processes."""
    results = multiprocessing.Queue()
    processes = [multiprocessing.Process(target=client,
                                         args=(port, files, REQUESTS_PER_CLIENT, results))
                 for _ in range(CLIENTS)]
    start = time.perf_counter()
    for process in processes:
        process.start()
    answered = sum(results.get() for _ in processes)
    elapsed = time.perf_counter() - start
    for process in processes:
        process.join()
    expected = CLIENTS * REQUESTS_PER_CLIENT
    if answered != expected:
        raise SystemExit(f"only {answered} of {expected} requests got pong")
    return answered / elapsed


def prepare(folder: Path) -> dict:
    instance = folder / "instance"
    env = {**os.environ, "PORTAL_INSTANCE": str(instance)}
    subprocess.run([BIN / "portal", "init"], env=env, check=True, capture_output=True)
    key, csr, cert = folder / "c.key", folder / "c.csr", folder / "c.pem"
    subprocess.run(["openssl", "req", "-new", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:P-256", "-nodes", "-keyout", key, "-out", csr,
                    "-subj", "/CN=bench"], check=True, capture_output=True)
    subprocess.run([BIN / "portal", "cert", "issue", "--csr", csr, "--profile", "client",
                    "--out", cert], env=env, check=True, capture_output=True)
    return {"instance": instance, "env": env, "cert": str(instance / "server.crt"),
            "key": str(instance / "server.key"), "ca": str(instance / "client-ca.pem"),
            "client_cert": str(cert), "client_key": str(key)}


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        files = prepare(Path(tmp))
        plain_port, plain_processes = start_plain(files)
        wait_for_port(plain_port)
        https_port = free_port()
        server = subprocess.Popen(
            [BIN / "portal", "serve", "--port", str(https_port), "--http-port", "0",
             "--workers", str(WORKERS)],
            env=files["env"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        try:
            wait_for_port(https_port, server)
            drive(https_port, files)  # warm up: workers load the app and the CA certificates
            drive(plain_port, files)
            rounds = []
            for _ in range(ROUNDS):
                plain_rate = drive(plain_port, files)
                rounds.append((plain_rate, drive(https_port, files)))
        finally:
            stop(server)
            for process in plain_processes:
                process.terminate()
    ratios = [portal / plain for plain, portal in rounds]
    print("rounds (plain, portal, ratio): " + "; ".join(
        f"{plain:.0f}, {portal:.0f}, {portal / plain:.3f}" for plain, portal in rounds))
    median_ratio = statistics.median(ratios)
    plain_median = statistics.median(plain for plain, _ in rounds)
    ok = print_table(
        f"full TLS handshakes + GET /ping with a client certificate ({WORKERS} server "
        f"processes, {CLIENTS} clients x {REQUESTS_PER_CLIENT}, median of {ROUNDS} interleaved "
        "rounds)",
        [("plain Python ssl server (baseline)", plain_median, "req/s"),
         ("portal serve /ping (with revocation check)", plain_median * median_ratio, "req/s")],
        baseline="plain Python ssl server (baseline)",
        targets={"portal serve /ping (with revocation check)": 0.7},
    )
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
