"""ACME: complete orders per second through `portal serve`, beside Pebble and raw issuance.

A complete order is newOrder, the authorization read, the http-01 challenge answered (by a
responder in this script) and validated, finalize, and the certificate downloaded; each order
has a name of its own, so every one is validated. Several accounts run at once, each in its
own thread on a keep-alive connection, through a lean client built on the `acme` package
(its messages and JWS). The order is polled every 10 ms (the `acme` library's own
poll_and_finalize sleeps a second between polls).

Beside it, in the same run: Pebble (Debian's `pebble`, PEBBLE_VA_NOSLEEP=1, nonces never
rejected, names resolved by pebble-challtestsrv) with the same client, and the portal's raw
issuance rate (issuance.issue_from_csr in process, SQLite). Target: 100 complete orders/s on
this 2-core machine; the ratio to Pebble is printed. Exit status 1 when the target is missed.
"""

import argparse
import http.client
import json
import os
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit

from common import print_table  # puts the project on sys.path
from load import group_cpu_seconds

# This script is named acme.py: its folder must not hide the `acme` package.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).parent]

import josepy as jose  # noqa: E402
from acme import jws as acme_jws  # noqa: E402
from acme import messages  # noqa: E402
from cryptography import x509  # noqa: E402
from cryptography.hazmat.primitives import hashes, serialization  # noqa: E402
from cryptography.hazmat.primitives.asymmetric import ec  # noqa: E402

from tests.acme.responders import Http01Responder  # noqa: E402
from tests.e2e.servers import free_port, stop, wait_for_port  # noqa: E402

TARGET = 100.0
BIN = Path(sys.executable).parent


class LeanClient:
    """One account on one keep-alive HTTPS connection: acme.messages and acme.jws only."""

    def __init__(self, directory_url: str, context: ssl.SSLContext):
        parts = urlsplit(directory_url)
        self.host, self.port, self.context = parts.hostname, parts.port, context
        self.connection = None
        self.nonce = None
        self.key = jose.JWKEC(key=ec.generate_private_key(ec.SECP256R1()))
        self.thumbprint = jose.b64encode(self.key.public_key().thumbprint()).decode()
        self.kid = None
        self.requests = 0
        self.directory = messages.Directory.from_json(json.loads(self.send("GET",
                                                                           directory_url)[2]))

    def send(self, method, url, body=None, headers=None):
        for attempt in (1, 2):
            if self.connection is None:
                self.connection = http.client.HTTPSConnection(self.host, self.port,
                                                              context=self.context, timeout=60)
                # http.client sends a POST's headers and body in two writes: without
                # TCP_NODELAY (which urllib3, so certbot, and Go, so lego, set), Nagle holds
                # the body until the server's delayed ACK, ~40 ms per request.
                self.connection.connect()
                self.connection.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            try:
                self.requests += 1
                self.connection.request(method, urlsplit(url).path, body=body,
                                        headers=headers or {})
                response = self.connection.getresponse()
                data = response.read()
            except (OSError, http.client.HTTPException):
                self.connection.close()
                self.connection = None
                if attempt == 2:
                    raise
                continue
            self.nonce = response.getheader("Replay-Nonce") or self.nonce
            return response.status, response, data

    def post(self, url, payload=None):
        if self.nonce is None:
            self.send("HEAD", self.directory["newNonce"])
        data = b"" if payload is None else payload.json_dumps().encode() \
            if hasattr(payload, "json_dumps") else json.dumps(payload).encode()
        signed = acme_jws.JWS.sign(data, key=self.key, alg=jose.ES256,
                                   nonce=jose.b64decode(self.nonce), url=url, kid=self.kid)
        self.nonce = None
        status, response, body = self.send("POST", url, signed.json_dumps().encode(),
                                           {"Content-Type": "application/jose+json"})
        if status >= 400:
            raise RuntimeError(f"{url}: {status} {body[:300]!r}")
        return response, body

    def register(self):
        response, _ = self.post(self.directory["newAccount"], messages.NewRegistration(
            terms_of_service_agreed=True))
        self.kid = response.getheader("Location")

    def complete_order(self, name: str, csr_der: bytes, answers: dict) -> bytes:
        """One complete order; the certificate chain (PEM)."""
        response, body = self.post(self.directory["newOrder"], messages.NewOrder(
            identifiers=(messages.Identifier(typ=messages.IDENTIFIER_FQDN, value=name),)))
        order_url = response.getheader("Location")
        order = messages.Order.from_json(json.loads(body))
        for authz_url in order.authorizations:
            authz = messages.Authorization.from_json(json.loads(self.post(authz_url)[1]))
            if authz.status == messages.STATUS_VALID:
                continue
            challenge = next(c for c in authz.challenges if c.chall.typ == "http-01")
            token = jose.b64encode(challenge.chall.token).decode()
            answers[token] = f"{token}.{self.thumbprint}"
            self.post(challenge.uri, {})
        order = self.poll(order_url, (messages.STATUS_READY,))
        _, body = self.post(order.finalize, {"csr": jose.b64encode(csr_der).decode()})
        order = messages.Order.from_json(json.loads(body))
        if order.status != messages.STATUS_VALID:
            order = self.poll(order_url, (messages.STATUS_VALID,))
        return self.post(order.certificate)[1]

    def poll(self, order_url, wanted):
        while True:
            order = messages.Order.from_json(json.loads(self.post(order_url)[1]))
            if order.status in wanted:
                return order
            if order.status == messages.STATUS_INVALID:
                raise RuntimeError(f"order {order_url} is invalid: {order.error}")
            time.sleep(0.01)

    def close(self):
        if self.connection is not None:
            self.connection.close()


def csrs(names):
    made = []
    for name in names:
        key = ec.generate_private_key(ec.SECP256R1())
        csr = (x509.CertificateSigningRequestBuilder().subject_name(x509.Name([]))
               .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
               .sign(key, hashes.SHA256()))
        made.append(csr.public_bytes(serialization.Encoding.DER))
    return made


CPU_MS: dict[str, float] = {}  # server CPU milliseconds per complete order, by tag
CLIENT_CPU_MS: dict[str, float] = {}  # this process's (clients and responder) per order, by tag


def run_orders(directory, context, accounts, per_account, answers, suffix, tag,
               server_pgid: int | None = None) -> float:
    """Complete orders/s with `accounts` clients at once (registration not timed).

    With `server_pgid`, also the server's CPU per order (in CPU_MS): on a machine shared with
    other work the rate alone says little, the CPU cost much more.
    """
    clients = [LeanClient(directory, context) for _ in range(accounts)]
    for client in clients:
        client.register()
    work = [[(f"{tag}{a}-{i}.{suffix}", None) for i in range(per_account)]
            for a in range(accounts)]
    prepared = [list(zip([n for n, _ in names], csrs([n for n, _ in names]), strict=True))
                for names in work]
    failures = []

    def account_thread(client, orders):
        try:
            for name, csr in orders:
                chain = client.complete_order(name, csr, answers)
                assert chain.startswith(b"-----BEGIN CERTIFICATE-----"), chain[:100]
        except Exception as exc:  # reported below, after the others finish
            failures.append(exc)

    threads = [threading.Thread(target=account_thread, args=(c, o))
               for c, o in zip(clients, prepared, strict=True)]
    before = sum(client.requests for client in clients)
    cpu = group_cpu_seconds(server_pgid) if server_pgid else 0.0
    own = time.process_time()
    start = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - start
    CLIENT_CPU_MS[tag] = 1000 * (time.process_time() - own) / (accounts * per_account)
    if server_pgid:
        CPU_MS[tag] = 1000 * (group_cpu_seconds(server_pgid) - cpu) / (accounts * per_account)
    sent = sum(client.requests for client in clients) - before
    print(f"{tag}: {sent / (accounts * per_account):.1f} requests per complete order")
    for client in clients:
        client.close()
    if failures:
        raise failures[0]
    return accounts * per_account / elapsed


def portal_rate(folder: Path, responder, args) -> tuple[float, Path]:
    env = {**os.environ, "PORTAL_INSTANCE": str(folder / "instance")}
    env = {k: v for k, v in env.items() if not k.startswith("PORTAL_") or k == "PORTAL_INSTANCE"}
    portal = str(BIN / "portal")
    subprocess.run([portal, "init"], env=env, check=True, capture_output=True)
    subprocess.run([portal, "acme", "create", "bench", "--domain", "bench.test"], env=env,
                   check=True, capture_output=True)
    root = folder / "root.pem"
    root.write_bytes(subprocess.run([portal, "ca", "export"], env=env, check=True,
                                    capture_output=True).stdout)
    port = free_port()
    env.update(PORTAL_ACME_HTTP_PORT=str(responder.port),
               PORTAL_ACME_RESOLVE="*.bench.test=127.0.0.1")
    with open(folder / "serve.log", "wb") as log:
        process = subprocess.Popen(
            [portal, "serve", "--port", str(port), "--http-port", "0", "--workers",
             str(args.workers), "--threads", str(args.threads)],
            env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        wait_for_port(port, process)
        context = ssl.create_default_context(cafile=str(root))
        directory = f"https://localhost:{port}/acme/bench/directory"
        # Every worker warm (its first-use imports: pkilint's validators cost ~0.5 s once per
        # process): connections go to whichever worker accepts first, so warm with many.
        run_orders(directory, context, max(args.accounts, 8 * args.workers), 2,
                   responder.answers, "bench.test", "warm")
        profiler = None
        if args.profile:  # py-spy the server's processes (workers and validation) while timed
            profiler = subprocess.Popen(
                [str(BIN / "py-spy"), "record", *args.profile_flags.split(), "--subprocesses",
                 "--pid", str(process.pid),
                 "--output", args.profile, "--format",
                 "raw" if args.profile.endswith(".txt") else "flamegraph"],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            time.sleep(1)
        try:
            return run_orders(directory, context, args.accounts, args.orders,
                              responder.answers, "bench.test", "p", process.pid), root
        finally:
            if profiler is not None:
                profiler.send_signal(signal.SIGINT)
                profiler.wait(60)
    finally:
        stop(process)


def pebble_certificate(folder: Path) -> tuple[Path, Path, Path]:
    """A CA and a listener certificate for Pebble (Debian's package ships none)."""
    ca_key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.now(UTC)
    name = x509.Name([x509.NameAttribute(x509.NameOID.COMMON_NAME, "pebble bench CA")])
    ca = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
          .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
          .not_valid_before(now - timedelta(minutes=1)).not_valid_after(now + timedelta(days=1))
          .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
          .sign(ca_key, hashes.SHA256()))
    key = ec.generate_private_key(ec.SECP256R1())
    leaf = (x509.CertificateBuilder().subject_name(x509.Name([])).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(minutes=1)).not_valid_after(now + timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost")]),
                           critical=True)
            .sign(ca_key, hashes.SHA256()))
    paths = folder / "pebble-ca.pem", folder / "pebble-cert.pem", folder / "pebble-key.pem"
    paths[0].write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    paths[1].write_bytes(leaf.public_bytes(serialization.Encoding.PEM))
    paths[2].write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return paths


def pebble_rate(folder: Path, responder, args) -> float | None:
    pebble, challtest = shutil.which("pebble"), shutil.which("pebble-challtestsrv")
    if not pebble or not challtest:
        print("pebble or pebble-challtestsrv is not installed: Pebble not measured")
        return None
    ca, cert, key = pebble_certificate(folder)
    port, dns_port = free_port(), free_port()
    config = folder / "pebble.json"
    config.write_text(json.dumps({"pebble": {
        "listenAddress": f"127.0.0.1:{port}", "managementListenAddress": f"127.0.0.1:{free_port()}",
        "certificate": str(cert), "privateKey": str(key), "httpPort": responder.port,
        "tlsPort": free_port(), "ocspResponderURL": "", "externalAccountBindingRequired": False,
    }}))
    env = {**os.environ, "PEBBLE_VA_NOSLEEP": "1", "PEBBLE_WFE_NONCEREJECT": "0",
           "PEBBLE_AUTHZREUSE": "0"}
    logs = open(folder / "pebble.log", "wb")
    dns = subprocess.Popen([challtest, "-dns01", f"127.0.0.1:{dns_port}", "-http01", "",
                            "-https01", "", "-tlsalpn01", "", "-management",
                            f"127.0.0.1:{free_port()}", "-defaultIPv4", "127.0.0.1",
                            "-defaultIPv6", ""],
                           stdout=logs, stderr=subprocess.STDOUT, start_new_session=True)
    server = subprocess.Popen([pebble, "-config", str(config), "-dnsserver",
                               f"127.0.0.1:{dns_port}"], env=env, stdout=logs,
                              stderr=subprocess.STDOUT, start_new_session=True)
    try:
        wait_for_port(port, server)
        context = ssl.create_default_context(cafile=str(ca))
        directory = f"https://localhost:{port}/dir"
        run_orders(directory, context, 2, 3, responder.answers, "bench.test", "pwarm")
        return run_orders(directory, context, args.accounts, args.orders, responder.answers,
                          "bench.test", "q", server.pid)
    finally:
        stop(server)
        stop(dns)
        logs.close()


def raw_issuance_rate(count: int) -> float:
    """The portal's issuance service in process on SQLite: certificates per second."""
    from portal import create_app, database
    from portal.extensions import db
    from portal.services.authorities import create_ca
    from portal.services.issuance import issue_from_csr
    from portal.services.secrets import ensure_instance_secrets

    folder = Path(tempfile.mkdtemp(prefix="acme-raw-"))
    os.environ["PORTAL_INSTANCE"] = str(folder / "instance")
    app = create_app({"TESTING": True})
    with app.app_context():
        ensure_instance_secrets()
        database.upgrade()
        create_ca("root", key_type="ec-p256", actor="bench")
        prepared = csrs([f"raw{i}.bench.test" for i in range(count)])
        issue_from_csr(prepared[0], "server", days=90, actor="bench")
        start = time.perf_counter()
        for csr in prepared[1:]:
            issue_from_csr(csr, "server", days=90, actor="bench")
        elapsed = time.perf_counter() - start
        db.session.remove()
        db.engine.dispose()
    shutil.rmtree(folder)
    return (count - 1) / elapsed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=8)
    parser.add_argument("--orders", type=int, default=25, help="orders per account")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--profile", help="py-spy the portal's timed run into this file "
                        "(.svg flame graph, .txt collapsed stacks)")
    parser.add_argument("--profile-flags", default="",
                        help="more py-spy flags, e.g. --gil (only threads holding the GIL)")
    parser.add_argument("--no-pebble", action="store_true", help="measure the portal only")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="acme-bench-"))
    try:
        with Http01Responder() as responder:
            portal, _ = portal_rate(folder, responder, args)
            pebble = None if args.no_pebble else pebble_rate(folder, responder, args)
        raw = raw_issuance_rate(300)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    rows = [("portal ACME: complete orders (http-01)", portal, "orders/s")]
    if pebble is not None:
        rows.append(("Pebble: complete orders (http-01)", pebble, "orders/s"))
    rows.append(("portal server CPU per complete order", CPU_MS["p"], "ms"))
    if "q" in CPU_MS:
        rows.append(("Pebble server CPU per complete order", CPU_MS["q"], "ms"))
    rows.append(("benchmark client CPU per portal order (with responder)", CLIENT_CPU_MS["p"],
                 "ms"))
    rows.append(("portal issuance service, in process", raw, "certs/s"))
    print_table(f"ACME with {args.accounts} accounts x {args.orders} orders (SQLite)", rows,
                baseline=rows[1][0] if pebble is not None else rows[0][0])
    met = portal >= TARGET
    print(f"\nportal: {portal:.1f} complete orders/s, target {TARGET:g}: "
          f"{'ok' if met else 'MISSED'}")
    if pebble is not None:
        print(f"ratio to Pebble: {portal / pebble:.2f}")
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
