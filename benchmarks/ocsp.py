"""OCSP responses per second over HTTP: `portal serve` (stored answers) beside a bare Flask app
returning the same bytes, and cryptography's raw signing rate, in the same run.

The portal runs `portal serve` on a temporary instance (2 workers; its plain-HTTP listener
answers the load); the baseline is a Flask app whose only view returns the portal's stored
response from memory, under gunicorn with the same workers, threads, keep-alive and an access
log to stdout as `portal serve` writes. Each request is a POST
of the same OCSP request (application/ocsp-request, no nonce: the stored answer), on a new
connection with TCP_NODELAY; every answer is checked byte for byte. In each round both servers
are loaded at once by the same number of clients; the round with the median ratio is shown.
The raw rate is one core signing that response with cryptography (P-256 responder key). The
CPU time every process of each server spent per response (from /proc) is printed too: on a
shared machine it moves much less than the rates do.
Target: the portal serves at least 0.8 of the bare app's rate. Exit status 1 when it does not.
Usage: python benchmarks/ocsp.py [--seconds 3] [--rounds 3] [--clients 2]
"""

import argparse
import multiprocessing
import os
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from common import print_table, rate
from serve import free_port, stop

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
WORKERS, THREADS = 2, 4
TARGET = 0.8
BARE_APP = '''\
import os

from flask import Flask, Response

BODY = open(os.environ["BENCH_OCSP_FILE"], "rb").read()
app = Flask(__name__)


@app.post("/ocsp")
def ocsp():
    return Response(BODY, content_type="application/ocsp-response")
'''


def post(port: int, request: bytes) -> tuple[int, bytes]:
    """One POST /ocsp on a new connection with TCP_NODELAY; (status, body)."""
    import socket

    head = (f"POST /ocsp HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
            f"Content-Type: application/ocsp-request\r\nContent-Length: {len(request)}\r\n\r\n")
    with socket.create_connection(("127.0.0.1", port)) as sock:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.sendall(head.encode() + request)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    response = b"".join(chunks)
    status_line, _, rest = response.partition(b"\r\n")
    _headers, _, body = rest.partition(b"\r\n\r\n")
    return int(status_line.split(b" ", 2)[1]), body


def wait_until_answering(port: int, request: bytes, process) -> bytes:
    """Poll until the server answers 200; its body."""
    for _ in range(600):
        if process.poll() is not None:
            raise SystemExit("a server exited before answering")
        try:
            status, body = post(port, request)
            if status == 200:
                return body
        except OSError:
            pass
        time.sleep(0.1)
    raise SystemExit("a server did not answer")


def client(port, request, expected, seconds, start, results) -> None:
    """A load process: POSTs back to back until the time is up; -1 on any wrong answer."""
    start.wait()
    done = 0
    deadline = time.perf_counter() + seconds
    while done == 0 or time.perf_counter() < deadline:
        status, body = post(port, request)
        if status != 200 or body != expected:
            results.put(-1)
            return
        done += 1
    results.put(done)


def cpu_seconds(group: int) -> float:
    """CPU time (user + system) of every live process in a process group, from /proc."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/stat") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
        except OSError:  # gone meanwhile
            continue
        if int(fields[2]) == group:  # field 5 of stat: the process group
            total += int(fields[11]) + int(fields[12])
    return total / tick


def measure(ports, request, expected, seconds, clients) -> list[float]:
    """Responses per second of each server, loaded at the same time."""
    context = multiprocessing.get_context("fork")
    start = context.Event()
    queues = [context.Queue() for _ in ports]
    processes = [context.Process(target=client,
                                 args=(port, request, expected, seconds, start, queue))
                 for port, queue in zip(ports, queues, strict=True) for _ in range(clients)]
    for process in processes:
        process.start()
    began = time.perf_counter()
    start.set()
    counts = [[queue.get() for _ in range(clients)] for queue in queues]
    elapsed = time.perf_counter() - began
    for process in processes:
        process.join()
    if min(min(each) for each in counts) < 0:
        raise SystemExit("a server answered with the wrong bytes")
    return [sum(each) / elapsed for each in counts]


def prepare(folder: Path) -> tuple[dict, bytes]:
    """An instance whose CA has a responder and one client certificate; (env, OCSP request)."""
    env = {**os.environ, "PORTAL_INSTANCE": str(folder / "instance"),
           "PORTAL_OCSP_REFRESH_INTERVAL": "0"}
    portal = str(BIN / "portal")
    subprocess.run([portal, "init"], env=env, check=True, capture_output=True)
    subprocess.run([portal, "ocsp", "refresh"], env=env, check=True, capture_output=True)
    openssl = shutil.which("openssl")
    subprocess.run([openssl, "req", "-new", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:P-256", "-nodes", "-keyout", str(folder / "k.pem"),
                    "-subj", "/CN=bench", "-out", str(folder / "csr.pem")],
                   check=True, capture_output=True)
    subprocess.run([portal, "cert", "issue", "--csr", str(folder / "csr.pem"), "--profile",
                    "client", "--out", str(folder / "leaf.pem")], env=env, check=True,
                   capture_output=True)
    ca = folder / "instance" / "client-ca.pem"
    subprocess.run([openssl, "ocsp", "-issuer", str(ca), "-cert", str(folder / "leaf.pem"),
                    "-no_nonce", "-reqout", str(folder / "request.der")],
                   check=True, capture_output=True)
    return env, (folder / "request.der").read_bytes()


def raw_signing_rate(seconds: float) -> float:
    """One core signing a good response for one CertID with a P-256 responder key."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509 import ocsp
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "bench responder")])
    now = datetime.now(UTC).replace(tzinfo=None)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(1).not_valid_before(now)
            .not_valid_after(now.replace(year=now.year + 1)).sign(key, hashes.SHA256()))

    def sign():
        return (ocsp.OCSPResponseBuilder().add_response_by_hash(
            b"\x01" * 20, b"\x02" * 20, 12345, hashes.SHA1(), ocsp.OCSPCertStatus.GOOD, now,
            now, None, None).responder_id(ocsp.OCSPResponderEncoding.HASH, cert)
            .certificates([cert]).sign(key, hashes.SHA256()))

    count = max(200, int(seconds * 2000))
    return rate(sign, count)


def main() -> int:
    """Set up, run both servers, measure the rounds and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--clients", type=int, default=2, help="Client processes per server.")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="bench-ocsp-"))
    servers = []
    try:
        env, request = prepare(folder)
        https_port, http_port = free_port(), free_port()
        log = (folder / "serve.log").open("wb")
        portal = subprocess.Popen(
            [str(BIN / "portal"), "serve", "--port", str(https_port), "--http-port",
             str(http_port), "--workers", str(WORKERS)],
            env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        servers.append(portal)
        expected = wait_until_answering(http_port, request, portal)
        (folder / "response.der").write_bytes(expected)
        (folder / "bare_ocsp.py").write_text(BARE_APP)
        bare_port = free_port()
        bare = subprocess.Popen(
            [str(BIN / "gunicorn"), "--workers", str(WORKERS), "--threads", str(THREADS),
             "--worker-class", "gthread", "--bind", f"127.0.0.1:{bare_port}", "--chdir",
             str(folder), "--keep-alive", "5", "--access-logfile", "-", "bare_ocsp:app"],
            env={**os.environ, "BENCH_OCSP_FILE": str(folder / "response.der")},
            stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        servers.append(bare)
        assert wait_until_answering(bare_port, request, bare) == expected
        rounds, cpu_rounds = [], []
        for _ in range(args.rounds):
            cpu_before = [cpu_seconds(server.pid) for server in servers]
            began = time.perf_counter()
            portal_rate, bare_rate = measure([http_port, bare_port], request, expected,
                                             args.seconds, args.clients)
            elapsed = time.perf_counter() - began
            used = [cpu_seconds(server.pid) - before
                    for server, before in zip(servers, cpu_before, strict=True)]
            per_response = [spent / (rate_ * elapsed) * 1e6
                            for spent, rate_ in zip(used, (portal_rate, bare_rate), strict=True)]
            rounds.append((portal_rate / bare_rate, portal_rate, bare_rate))
            cpu_rounds.append((per_response[0] / per_response[1], *per_response))
        ratio, portal_rate, bare_rate = sorted(rounds)[len(rounds) // 2]
        cpu_ratio, portal_cpu, bare_cpu = sorted(cpu_rounds)[len(cpu_rounds) // 2]
        raw = raw_signing_rate(args.seconds)
        print_table(
            f"OCSP POST /ocsp, stored answer ({len(expected)} bytes), "
            f"{WORKERS} workers x {THREADS} threads, {args.clients} clients each, "
            f"median of {args.rounds} rounds",
            [("bare Flask app, same bytes (gunicorn gthread)", bare_rate, "responses/s"),
             ("portal serve, stored response", portal_rate, "responses/s"),
             ("cryptography: sign one response, one core", raw, "responses/s")],
            baseline="bare Flask app, same bytes (gunicorn gthread)",
        )
        verdict = "meets" if ratio >= TARGET else "MISSES"
        print(f"portal / bare app: {ratio:.2f} ({verdict} the {TARGET} target); "
              f"rounds: {', '.join(f'{r[0]:.2f}' for r in rounds)}")
        print(f"CPU per response (every process of each server): portal {portal_cpu:.0f} us, "
              f"bare app {bare_cpu:.0f} us, {cpu_ratio:.2f}x (median round; steadier than the "
              f"rates on a shared machine)")
        return 0 if ratio >= TARGET else 1
    finally:
        for process in servers:
            stop(process)
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
