"""Full TLS handshakes with /ping per second: `portal serve` beside a plain Python ssl server.

Both servers use the same certificate, key and client CA, ask for the client certificate, get
the same number of processes, and are driven by the same client processes in the same run.
Every request is a new connection (a full handshake, no resumption) presenting a client
certificate; the portal also checks the certificate against its database (revocation).
The two are measured in interleaved rounds (plain, portal, plain, portal, ...: PING_ROUNDS,
default 5) and the verdict is the median of the rounds' ratios, so that a slow phase of a
shared machine weighs on both sides alike. Target: the portal at least 0.7 of the plain server.

Each round also reads the CPU time both servers used (/proc), so the table shows each one's
CPU per request: on a machine loaded by others the rates say little, the CPU per request still
does. `--profile FILE` records the portal's processes with py-spy over the measured rounds.
Usage: python benchmarks/ping.py [--profile FILE.svg|.json|.txt] [--profile-flags FLAGS]
(PING_ROUNDS and PING_REQUESTS set the rounds and the requests per client).
"""

import argparse
import multiprocessing
import os
import signal
import socket
import ssl
import statistics
import subprocess
import sys
import tempfile
import time
from functools import partial
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import print_table  # noqa: E402
from load import PROFILE_FORMATS, group_cpu_seconds  # noqa: E402

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


def processes_cpu_seconds(pids: list[int]) -> float:
    """User + system CPU seconds used so far by these processes."""
    total = 0
    for pid in pids:
        with open(f"/proc/{pid}/stat") as handle:
            fields = handle.read().rsplit(")", 1)[1].split()
        total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / os.sysconf("SC_CLK_TCK")


def drive(port: int, files: dict, server_cpu=None) -> tuple[float, float]:
    """Handshakes per second from CLIENTS processes, and the server's CPU ms per request.

    `server_cpu()` says how many CPU seconds the server has used so far.
    """
    results = multiprocessing.Queue()
    processes = [multiprocessing.Process(target=client,
                                         args=(port, files, REQUESTS_PER_CLIENT, results))
                 for _ in range(CLIENTS)]
    cpu = server_cpu() if server_cpu else 0.0
    start = time.perf_counter()
    for process in processes:
        process.start()
    answered = sum(results.get() for _ in processes)
    elapsed = time.perf_counter() - start
    cpu = (server_cpu() - cpu) if server_cpu else 0.0
    for process in processes:
        process.join()
    expected = CLIENTS * REQUESTS_PER_CLIENT
    if answered != expected:
        raise SystemExit(f"only {answered} of {expected} requests got pong")
    return answered / elapsed, 1000 * cpu / answered


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


def start_profiler(pid: int, output: str, flags: str) -> subprocess.Popen:
    """py-spy recording the portal's master and workers into `output`."""
    profiler = subprocess.Popen(
        [str(BIN / "py-spy"), "record", *flags.split(), "--subprocesses", "--pid", str(pid),
         "--output", output, "--format", PROFILE_FORMATS.get(Path(output).suffix, "flamegraph")],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(1)  # py-spy attaches
    return profiler


def main() -> None:
    """Measure both servers in interleaved rounds; print the table; exit 1 when missed."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", help="py-spy the portal over the measured rounds into "
                        "this file: .svg, .json (speedscope) or .txt (collapsed stacks)")
    parser.add_argument("--profile-flags", default="",
                        help="more py-spy flags, e.g. '--gil' (only samples holding the GIL)")
    args = parser.parse_args()
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
        plain_cpu = partial(processes_cpu_seconds, [p.pid for p in plain_processes])
        portal_cpu = partial(group_cpu_seconds, server.pid)
        profiler = None
        try:
            wait_for_port(https_port, server)
            drive(https_port, files)  # warm up: workers load the app and the CA certificates
            drive(plain_port, files)
            if args.profile:
                profiler = start_profiler(server.pid, args.profile, args.profile_flags)
            rounds = []
            for _ in range(ROUNDS):
                plain = drive(plain_port, files, plain_cpu)
                rounds.append((*plain, *drive(https_port, files, portal_cpu)))
        finally:
            if profiler is not None:
                profiler.send_signal(signal.SIGINT)
                profiler.wait(60)
            stop(server)
            for process in plain_processes:
                process.terminate()
    print("rounds (plain req/s, portal req/s, ratio; server CPU ms per request, plain/portal): "
          + "; ".join(f"{plain:.0f}, {portal:.0f}, {portal / plain:.3f}; "
                      f"{plain_ms:.2f}/{portal_ms:.2f}"
                      for plain, plain_ms, portal, portal_ms in rounds))
    median_ratio = statistics.median(portal / plain for plain, _, portal, _ in rounds)
    plain_median = statistics.median(plain for plain, _, _, _ in rounds)
    plain_ms = statistics.median(ms for _, ms, _, _ in rounds)
    portal_ms = statistics.median(ms for _, _, _, ms in rounds)
    title = (f"full TLS handshakes + GET /ping with a client certificate ({WORKERS} server "
             f"processes, {CLIENTS} clients x {REQUESTS_PER_CLIENT}, median of {ROUNDS} "
             "interleaved rounds)")
    ok = print_table(
        title,
        [("plain Python ssl server (baseline)", plain_median, "req/s"),
         ("portal serve /ping (with revocation check)", plain_median * median_ratio, "req/s")],
        baseline="plain Python ssl server (baseline)",
        targets={"portal serve /ping (with revocation check)": 0.7},
    )
    print_table(
        "server CPU per request (medians of the same rounds; lower is better)",
        [("plain Python ssl server (baseline)", plain_ms, "ms"),
         ("portal serve /ping (with revocation check)", portal_ms, "ms")],
        baseline="plain Python ssl server (baseline)", higher_is_better=False,
    )
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
