"""Issuance per second through the JSON API under `portal serve`, on SQLite and on PostgreSQL.

In one run on one machine:

- raw: cryptography alone issuing from a CSR with the same kind of CA key, one core (the
  physical limit of one process; see benchmarks/issue.py);
- api/sqlite and api/postgresql: POST /api/v1/certificates over HTTPS with keep-alive against
  `portal serve --workers W`, from client processes on loopback, each driving C connections
  from one event loop with requests serialised in advance (benchmarks/loadclient.py, as wrk
  would: the client shares the cores it measures); every response is read and checked, and
  every request's row is committed pending before signing and issued after, as always. The
  PostgreSQL server is a throwaway cluster with PostgreSQL's default durability (fsync and
  synchronous_commit on).

Targets: at least 500 certificates per second through the API with SQLite (a fixed budget:
the rate a team's automation needs, not a ratio); with PostgreSQL at least half the SQLite
rate of the same run, or 250/s when PostgreSQL runs alone. PostgreSQL's share is lower because
each certificate costs two durable commits (the pending row before signing, the issued row
after), each a WAL flush over a socket, on the same two cores as the server and the client;
SQLite's WAL commits in-process. Exit status 1 when a target is missed. The client runs on the
same cores as the server, so it takes part of them.
Usage: python benchmarks/load.py [--requests N] [--workers W] [--server-threads T]
       [--clients P] [--connections C] [--backends sqlite,postgresql] [--profile FILE.svg]
       [--profile-flags FLAGS]
"""

import argparse
import json
import multiprocessing
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import print_table
from issue import RawIssuer, prepared_csrs
from loadclient import drive, post_request

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.e2e.servers import free_port, wait_for_port  # noqa: E402
from tests.pg import PostgresServer  # noqa: E402
from tests.reliability.load import make_csrs  # noqa: E402

TARGET_PER_SECOND = 500
POSTGRES_SHARE_OF_SQLITE = 0.5  # with both backends in the run
POSTGRES_ALONE_PER_SECOND = 250
RAW = "raw cryptography issue-from-CSR, 1 core"
BIN = Path(sys.executable).parent
PROFILE_FORMATS = {".json": "speedscope", ".txt": "raw", ".svg": "flamegraph"}


def prepare(instance: Path, database_url: str | None) -> tuple[str, str, object, list]:
    """Secrets, schema, an EC P-256 CA, an admin with a token, the TLS files; the raw issuer."""
    os.environ["PORTAL_INSTANCE"] = str(instance)
    os.environ.pop("PORTAL_DATABASE_URL", None)
    if database_url:
        os.environ["PORTAL_DATABASE_URL"] = database_url
    from portal import create_app, database
    from portal.ca.keystore import unseal_private_key
    from portal.extensions import db
    from portal.services import authorities, tokens, users
    from portal.services.secrets import ca_secret, ensure_instance_secrets
    from portal.services.server_tls import ensure_server_certificate, server_files

    app = create_app()
    with app.app_context():
        ensure_instance_secrets()
        database.upgrade()
        ca = authorities.create_ca("bench", key_type="ec-p256", actor="bench")
        key = unseal_private_key(ca.key_encrypted, ca_secret(), bound_to=ca.certificate_der)
        urls = authorities.urls_for(ca)
        raw = RawIssuer(authorities.ca_certificate(ca), key, urls.crl, urls.ca_issuers)
        users.create_user("bench", role="admin", password="bench-password-0123", actor="bench")
        _row, token = tokens.create_token("bench", actor="bench")
        ensure_server_certificate()
        cafile = server_files().client_ca_bundle
        db.session.remove()
        db.engine.dispose()
    return token, cafile, raw


RAW_CPU_MS: list[float] = []


def raw_rate(raw, count: int) -> float:
    """Raw issue-from-CSR per second, on fresh CSRs (its CPU ms per certificate is kept too)."""
    csrs = prepared_csrs(count)
    start, cpu = time.perf_counter(), time.process_time()
    for csr in csrs:
        raw.issue(csr)
    RAW_CPU_MS.append(1000 * (time.process_time() - cpu) / count)
    return count / (time.perf_counter() - start)


def group_cpu_seconds(pgid: int) -> float:
    """User + system CPU seconds used so far by the live processes of a process group."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as handle:
                fields = handle.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid:  # field 5 of stat: the process group
            total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / ticks


def _client(port, cafile, token, csrs, connections, barrier, queue):
    requests = [post_request("/api/v1/certificates", token,
                             json.dumps({"csr": csr, "profile": "server"}).encode())
                for csr in csrs]
    barrier.wait()
    try:
        result = drive(port, cafile, requests, connections)
    except Exception as exc:  # say so: the parent waits on the queue
        queue.put((0.0, 0.0, 0, [f"{type(exc).__name__}: {exc}"], 0.0))
        raise
    queue.put((result.started, result.ended, result.ok, result.failures[:3], result.cpu_seconds))


def api_rate(port, cafile, token, requests: int, clients: int, threads: int,
             server_pgid: int | None = None) -> tuple[float, float, float]:
    """Issued certificates per second from `clients` processes of `threads` connections each.

    Also the CPU milliseconds per certificate that the server and the clients used: on a
    machine shared with other work, the rate alone says little; the CPU cost does not change.
    """
    server_cpu = group_cpu_seconds(server_pgid) if server_pgid else 0.0
    context = multiprocessing.get_context("fork")
    per_client = [make_csrs(requests // clients, prefix=f"c{i}-") for i in range(clients)]
    barrier, queue = context.Barrier(clients), context.Queue()
    processes = [context.Process(target=_client, args=(port, cafile, token, csrs, threads,
                                                       barrier, queue))
                 for csrs in per_client]
    for process in processes:
        process.start()
    results = [queue.get() for _ in processes]
    for process in processes:
        process.join()
    server_cpu = (group_cpu_seconds(server_pgid) - server_cpu) if server_pgid else 0.0
    failures = [r[3] for r in results if r[3]]
    if failures:
        raise SystemExit(f"requests failed: {failures}")
    issued = sum(result[2] for result in results)
    client_cpu = sum(result[4] for result in results)
    rate = issued / (max(r[1] for r in results) - min(r[0] for r in results))
    return rate, 1000 * server_cpu / issued, 1000 * client_cpu / issued


def serve(instance: Path, workers: int, threads: int, env: dict) -> tuple[subprocess.Popen, int]:
    """Start `portal serve` in its own process group; (process, HTTPS port)."""
    port = free_port()
    log = open(instance / "serve.log", "wb")
    process = subprocess.Popen(
        [str(BIN / "portal"), "serve", "--port", str(port), "--http-port", "0",
         "--workers", str(workers), "--threads", str(threads)],
        env={**os.environ, **env, "PORTAL_INSTANCE": str(instance)},
        stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    wait_for_port(port, process)
    return process, port


def measure(backend: str, args, folder: Path, postgres: PostgresServer | None) -> tuple:
    """(raw rate, API rate) for one backend on a fresh instance."""
    instance = folder / backend
    instance.mkdir(mode=0o700)
    url = None
    if postgres is not None:
        url = postgres.url(postgres.create_database(prefix="bench"))
    token, cafile, raw = prepare(instance, url)
    env = {"PORTAL_DATABASE_URL": url} if url else {}
    process, port = serve(instance, args.workers, args.server_threads, env)
    profiler = None
    try:
        api_rate(port, cafile, token, 200, 1, args.threads)  # warm-up: workers, caches
        if args.profile and backend == "sqlite":
            profiler = subprocess.Popen(
                [str(BIN / "py-spy"), "record", *args.profile_flags.split(), "--subprocesses",
                 "--pid", str(process.pid),
                 "--output", args.profile, "--format", PROFILE_FORMATS.get(
                     Path(args.profile).suffix, "flamegraph")],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            time.sleep(1)
        rates = [raw_rate(raw, 500)]
        rate, server_ms, client_ms = api_rate(port, cafile, token, args.requests, args.clients,
                                              args.threads, server_pgid=process.pid)
        rates.append(raw_rate(raw, 500))
    finally:
        if profiler is not None:
            profiler.send_signal(signal.SIGINT)
            profiler.wait(60)
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(30)
    return sum(rates) / len(rates), rate, server_ms, client_ms


def main() -> int:
    """Measure each backend; print one table; exit 1 when a backend's target is missed."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--workers", type=int, default=3, help="gunicorn worker processes")
    parser.add_argument("--server-threads", type=int, default=4,
                        help="threads per worker (portal serve --threads)")
    parser.add_argument("--clients", type=int, default=2, help="client processes")
    parser.add_argument("--connections", "--threads", dest="threads", type=int, default=16,
                        help="keep-alive connections per client process")
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument("--profile", help="py-spy the SQLite run into this file: .svg, .json "
                        "(speedscope) or .txt (collapsed stacks)")
    parser.add_argument("--profile-flags", default="",
                        help="more py-spy flags, e.g. '--gil' (only samples holding the GIL)")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="portal-bench-load-"))
    postgres = None
    rows, raws, costs = [], [], []
    try:
        for backend in args.backends.split(","):
            if backend == "postgresql":
                postgres = PostgresServer(durable=True).start()
            raw, rate, server_ms, client_ms = measure(backend, args, folder, postgres)
            raws.append(raw)
            rows.append((f"API {backend}, {args.workers} workers, {args.clients}x"
                         f"{args.threads} connections", rate, "certs/s"))
            costs.append((backend, server_ms, client_ms))
    finally:
        if postgres is not None:
            postgres.stop()
        shutil.rmtree(folder, ignore_errors=True)
    rows.insert(0, (RAW, sum(raws) / len(raws), "certs/s"))
    print_table(f"Issuance through POST /api/v1/certificates: {args.requests} requests per "
                f"backend, {os.cpu_count()} cores shared by server and client", rows,
                baseline=RAW)
    cores = os.cpu_count() or 1
    print(f"\nCPU per certificate (ms), and the rate {cores} cores would give with nothing "
          "else running")
    for backend, server_ms, client_ms in costs:
        print(f"  {backend:12} server {server_ms:6.2f}  client {client_ms:6.2f}  -> "
              f"{1000 * cores / (server_ms + client_ms):7.0f} certs/s with the client, "
              f"{1000 * cores / server_ms:7.0f} without")
    raw_ms = sum(RAW_CPU_MS) / len(RAW_CPU_MS)
    print(f"  raw issue   {raw_ms:6.3f} ms CPU per certificate: the API costs the server "
          f"{costs[0][1] / raw_ms:.0f}x that ({costs[0][0]})")
    load = os.getloadavg()[0]
    print(f"load average during the run: {load:.1f} on {cores} cores")
    return 0 if verdicts(rows) else 1


def verdicts(rows: list[tuple[str, float, str]]) -> bool:
    """Print each backend's target and whether it was met; True when all were."""
    rates = {name.split()[1].rstrip(","): rate for name, rate, _ in rows
             if name.startswith("API ")}
    checks = []
    if "sqlite" in rates:
        checks.append((f">= {TARGET_PER_SECOND} certs/s through the API with SQLite",
                       rates["sqlite"], rates["sqlite"] >= TARGET_PER_SECOND))
    if "postgresql" in rates and "sqlite" in rates:
        floor = POSTGRES_SHARE_OF_SQLITE * rates["sqlite"]
        checks.append((f">= {POSTGRES_SHARE_OF_SQLITE:g} of the SQLite rate ({floor:.0f}/s) "
                       "with PostgreSQL", rates["postgresql"], rates["postgresql"] >= floor))
    elif "postgresql" in rates:
        checks.append((f">= {POSTGRES_ALONE_PER_SECOND} certs/s with PostgreSQL (run alone)",
                       rates["postgresql"], rates["postgresql"] >= POSTGRES_ALONE_PER_SECOND))
    for what, rate, met in checks:
        print(f"target: {what}: {rate:.0f} ({'ok' if met else 'MISSED'})")
    return all(met for _what, _rate, met in checks)

if __name__ == "__main__":
    sys.exit(main())
