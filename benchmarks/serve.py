"""GET /crl.der per second under gunicorn: the portal beside a bare Flask app, same bytes, same run.

Both run under the same gunicorn settings (2 sync workers, loopback): the portal from wsgi.py
on a temporary instance whose CA has a CRL of 1,000 revoked certificates (~50 KB), the
baseline a Flask app whose only view returns those bytes from memory. The load comes from
separate client processes: one connection per request (sync workers close it), TCP_NODELAY set
(without it Nagle's algorithm throttles a request-per-connection loop to a crawl). In each
round both servers are loaded at the same time by the same number of clients, so that both
share whatever else the machine is doing; the round with the median ratio is shown.
Target: the portal serves at least 0.8 of the bare app's rate. Exit status 1 when it does not.
Usage: python benchmarks/serve.py [--seconds 4] [--rounds 5] [--clients 2] [--entries 1000]
"""

import argparse
import multiprocessing
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from hashlib import sha256
from pathlib import Path

from common import print_table
from crl import prepare

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
WORKERS = 2
TARGET = 0.8
REQUEST = b"GET /crl.der HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
BARE_APP = '''\
import os

from flask import Flask, Response

BODY = open(os.environ["BENCH_CRL_FILE"], "rb").read()
app = Flask(__name__)


@app.get("/crl.der")
def crl_der():
    return Response(BODY, mimetype="application/pkix-crl")
'''


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_gunicorn(app: str, chdir: Path, env: dict, log: Path) -> tuple[subprocess.Popen, int]:
    """gunicorn with the settings both servers share; wait until it answers."""
    port = free_port()
    process = subprocess.Popen(
        [str(BIN / "gunicorn"), "--workers", str(WORKERS), "--worker-class", "sync",
         "--bind", f"127.0.0.1:{port}", "--chdir", str(chdir), "--log-level", "warning", app],
        env={**os.environ, **env}, stdout=log.open("wb"), stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    for _ in range(600):
        if process.poll() is not None:
            raise SystemExit(f"gunicorn {app} exited:\n{log.read_text()}")
        try:
            status, _body = fetch(port)
            if status == 200:
                return process, port
        except OSError:
            pass
        time.sleep(0.1)
    raise SystemExit(f"gunicorn {app} did not answer:\n{log.read_text()}")


def stop(process: subprocess.Popen) -> None:
    """Stop a gunicorn master and its workers."""
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def fetch(port: int) -> tuple[int, bytes]:
    """One request on a new connection with TCP_NODELAY; (status, body)."""
    with socket.create_connection(("127.0.0.1", port)) as sock:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.sendall(REQUEST)
        chunks = []
        while chunk := sock.recv(262144):
            chunks.append(chunk)
    response = b"".join(chunks)
    head, _, body = response.partition(b"\r\n\r\n")
    lengths = [line.split(b":", 1)[1].strip() for line in head.split(b"\r\n")[1:]
               if line.lower().startswith(b"content-length:")]
    if lengths != [str(len(body)).encode()]:
        return 0, body  # no Content-Length, or one the body does not match: a wrong answer
    return int(head.split(b" ", 2)[1]), body


def client(port: int, seconds: float, digest: str, start, results) -> None:
    """A load process: requests back to back until the time is up; count the good ones.

    Every response is checked, not only the first: its status, its length and its SHA-256 must
    be those of the CRL. One wrong answer fails the run (-1).
    """
    start.wait()
    done = 0
    deadline = time.perf_counter() + seconds
    while done == 0 or time.perf_counter() < deadline:
        status, body = fetch(port)
        if status != 200 or sha256(body).hexdigest() != digest:
            results.put(-1)
            return
        done += 1
    results.put(done)


def measure(ports: list[int], seconds: float, clients: int, digest: str) -> list[float]:
    """Requests per second of each server, loaded at the same time by `clients` processes each."""
    context = multiprocessing.get_context("fork")
    start = context.Event()
    queues = [context.Queue() for _ in ports]
    processes = [context.Process(target=client, args=(port, seconds, digest, start, queue))
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


def main() -> int:
    """Set up, run both servers, measure the rounds and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=4.0)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--clients", type=int, default=2, help="Client processes per server.")
    parser.add_argument("--entries", type=int, default=1000)
    args = parser.parse_args()

    folder = Path(tempfile.mkdtemp(prefix="portal-bench-serve-"))
    servers = []
    try:
        instance = folder / "instance"
        instance.mkdir(mode=0o700)
        prepare(instance, args.entries, "ec-p256")
        from portal import create_app
        from portal.services import crl as crl_service
        from portal.services.authorities import get_ca

        with create_app().app_context():
            state = crl_service.publish(get_ca(), actor="bench")
            der = crl_service.stored_der(state)
        crl_file = folder / "crl.der"
        crl_file.write_bytes(der)
        (folder / "bare_app.py").write_text(BARE_APP)
        digest = sha256(der).hexdigest()
        print(f"CRL: {state.revoked_count:,} entries, {len(der):,} bytes; gunicorn: {WORKERS} "
              f"sync workers each; {args.clients} client processes per server, {args.seconds:g} s "
              "per round")

        bare, bare_port = start_gunicorn("bare_app:app", folder, {"BENCH_CRL_FILE": str(crl_file)},
                                         folder / "bare.log")
        servers.append(bare)
        portal, portal_port = start_gunicorn("wsgi:app", ROOT, {"PORTAL_INSTANCE": str(instance)},
                                             folder / "portal.log")
        servers.append(portal)
        rounds = [measure([bare_port, portal_port], args.seconds, args.clients, digest)
                  for _round in range(args.rounds)]
        shown = ", ".join(f"{bare_rate:.0f}/{portal_rate:.0f}" for bare_rate, portal_rate in rounds)
        print(f"rounds (req/s, bare/portal): {shown}")
    finally:
        for server in servers:
            stop(server)
        shutil.rmtree(folder, ignore_errors=True)

    bare_name = "bare Flask app, same bytes from memory"
    portal_name = "portal /crl.der (stored CRL, freshness query)"
    rounds.sort(key=lambda pair: pair[1] / pair[0])
    bare_rate, portal_rate = rounds[len(rounds) // 2]
    ok = print_table(
        f"GET /crl.der under gunicorn ({WORKERS} sync workers), requests per second "
        "(median round)",
        [(bare_name, bare_rate, "req/s"), (portal_name, portal_rate, "req/s")],
        baseline=bare_name, targets={portal_name: TARGET},
    )
    print("\ntarget met" if ok else "\nTARGET MISSED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
