"""CA state over a real `portal serve` with two workers: a new CA is trusted at once, a revoked
intermediate is refused by every worker on its next request, a revoked server certificate is
replaced. Driven with http.client over real TLS and the real `portal` commands."""

import http.client
import json
import os
import ssl
from pathlib import Path
from urllib.parse import quote

import pytest
from cryptography import x509

from portal.ca.serials import serial_to_hex
from tests.conftest import run_portal
from tests.e2e.test_serve_ping import make_key_and_csr
from tests.reliability.serving import serve

pytestmark = pytest.mark.slow

WORKERS = 2
ATTEMPTS = 300  # new connections tried until every worker has answered (no clock involved)


def _socket_inode(server_port: int, client_port: int) -> str | None:
    """The inode of the server's side of the loopback connection from `client_port`."""
    local, remote = f"0100007F:{server_port:04X}", f"0100007F:{client_port:04X}"
    with open("/proc/net/tcp") as table:
        for line in table.readlines()[1:]:
            fields = line.split()
            if fields[1] == local and fields[2] == remote:
                return fields[9]
    return None


def _holder(group: int, inode: str) -> int | None:
    """Which process of the server's group holds the socket: the worker that answered."""
    target = f"socket:[{inode}]"
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            if os.getpgid(int(pid)) != group:
                continue
            for fd in os.listdir(f"/proc/{pid}/fd"):
                if os.readlink(f"/proc/{pid}/fd/{fd}") == target:
                    return int(pid)
        except OSError:  # a process or descriptor that went away meanwhile
            continue
    return None


class Portal:
    """A served instance: its env for `portal` commands, its ports, its CA bundle."""

    def __init__(self, folder: Path, instance: Path, port: int, group: int):
        self.folder, self.instance, self.port, self.group = folder, instance, port, group
        self.env = {"PORTAL_INSTANCE": str(instance)}

    def request(self, method: str, path: str, *, cert=None, body=None, headers=None):
        """One request on a new connection: (status, text, pid of the worker that answered)."""
        context = ssl.create_default_context(cafile=str(self.instance / "client-ca.pem"))
        if cert is not None:
            context.load_cert_chain(str(cert[0]), str(cert[1]))
        connection = http.client.HTTPSConnection("127.0.0.1", self.port, context=context,
                                                 timeout=60)
        try:
            payload = json.dumps(body) if body is not None else None
            connection.request(method, path, body=payload, headers={
                **({"Content-Type": "application/json"} if body is not None else {}),
                **(headers or {}),
            })
            response = connection.getresponse()
            text = response.read().decode()
            inode = _socket_inode(self.port, connection.sock.getsockname()[1])
            pid = _holder(self.group, inode) if inode else None
            return response.status, text, pid
        finally:
            connection.close()

    def ping_until_every_worker_answered(self, expect, **kwargs) -> set[int]:
        """Ping on new connections until each worker has answered; every answer must `expect`."""
        answered: set[int] = set()
        for _attempt in range(ATTEMPTS):
            status, text, pid = self.request("GET", "/ping", **kwargs)
            expect(status, text)
            if pid is not None:
                answered.add(pid)
            if len(answered) == WORKERS:
                break
        return answered

    def admin_token(self) -> str:
        """A new API token of the admin made by `portal init`."""
        result = run_portal("token", "create", "admin", env=self.env, check=True)
        return result.stdout.decode().strip()


@pytest.fixture(scope="module")
def portal(tmp_path_factory):
    """`portal init`, then `portal serve` with two workers (trusting 127.0.0.1 as a proxy)."""
    folder = tmp_path_factory.mktemp("castate")
    instance = folder / "instance"
    run_portal("init", env={"PORTAL_INSTANCE": str(instance)}, check=True)
    with serve(instance, workers=WORKERS, env={"PORTAL_TRUSTED_PROXIES": "127.0.0.1"}) as served:
        yield Portal(folder, instance, served.port, served.process.pid)


def pong(status, text):
    assert (status, text) == (200, "pong")


def leaf_of(portal: Portal, name: str, ca: str) -> tuple[Path, Path]:
    """A client certificate of CA `ca`, from `openssl req` and `portal cert issue --ca`."""
    key, csr = make_key_and_csr(portal.folder, name, f"/CN={name}")
    cert = portal.folder / f"{name}.pem"
    run_portal("cert", "issue", "--csr", str(csr), "--profile", "client", "--ca", ca,
               "--out", str(cert), env=portal.env, check=True)
    return cert, key


def test_a_ca_created_while_serving_is_trusted_for_client_certificates_at_once(portal):
    run_portal("ca", "create", "--name", "fresh", "--parent", "root", env=portal.env,
               check=True)
    leaf = leaf_of(portal, "fresh-leaf", "fresh")
    assert len(portal.ping_until_every_worker_answered(pong, cert=leaf)) == WORKERS


def test_a_revoked_intermediate_is_refused_by_every_worker_on_the_next_request(portal):
    run_portal("ca", "create", "--name", "issuing", "--parent", "root", env=portal.env,
               check=True)
    listing = run_portal("ca", "list", env=portal.env, check=True).stdout.decode()
    assert "issuing\t" in listing and "CANNOT SIGN" not in listing
    leaves = {name: leaf_of(portal, name, "issuing") for name in ("alice", "bob")}
    forwarded = {"X-SSL-Client-Cert": quote(leaves["bob"][0].read_text())}
    # The header is believed only from a proxy that presents its own proxy certificate, which
    # `portal webserver-config` issues into the instance folder.
    run_portal("webserver-config", "nginx", env=portal.env, check=True)
    proxy = (portal.instance / "proxy-client.crt", portal.instance / "proxy-client.key")
    token = portal.admin_token()
    auth = {"Authorization": f"Bearer {token}"}
    csr = (portal.folder / "alice.csr").read_text()

    # Every worker has answered (and cached whatever it caches) before the revocation.
    for leaf in leaves.values():
        assert len(portal.ping_until_every_worker_answered(pong, cert=leaf)) == WORKERS
    assert len(portal.ping_until_every_worker_answered(pong, headers=forwarded,
                                                       cert=proxy)) == WORKERS
    status, text, _ = portal.request("POST", "/api/v1/certificates", headers=auth,
                                     body={"csr": csr, "profile": "client", "ca": "issuing"})
    assert status == 201, text

    issuing_serial = _ca_serial(portal, "issuing")
    status, text, _ = portal.request(
        "POST", f"/api/v1/certificates/{issuing_serial}/revoke", headers=auth,
        body={"reason": "cACompromise"})
    assert status == 200, text

    def refused(status, text):
        assert status == 403, text
        assert "issued by CA issuing" in text and "revoked" in text

    # From now on, every request is refused, and each worker has been seen refusing.
    for leaf in leaves.values():
        assert len(portal.ping_until_every_worker_answered(refused, cert=leaf)) == WORKERS
    assert len(portal.ping_until_every_worker_answered(refused, headers=forwarded,
                                                       cert=proxy)) == WORKERS

    for _worker in range(WORKERS * 2):
        status, text, _ = portal.request("POST", "/api/v1/certificates", headers=auth, body={
            "csr": csr, "profile": "client", "ca": "issuing"})
        assert status == 409 and "CA issuing signs nothing" in json.loads(text)["message"]
    cli = run_portal("cert", "issue", "--csr", str(portal.folder / "alice.csr"),
                     "--profile", "client", "--ca", "issuing", env=portal.env)
    assert cli.returncode == 1 and cli.stdout == b""
    lines = cli.stderr.decode().strip().splitlines()
    assert len(lines) == 1 and "CA issuing signs nothing: its certificate is revoked" in lines[0]

    listing = run_portal("ca", "list", env=portal.env, check=True).stdout.decode()
    issuing_line = next(line for line in listing.splitlines() if line.startswith("issuing\t"))
    assert "CANNOT SIGN: its certificate is revoked" in issuing_line
    status, text, _ = portal.request("GET", "/healthz")
    assert status == 503 and "CA issuing signs nothing" in text


def _ca_serial(portal: Portal, name: str) -> str:
    """The serial of a CA's own certificate, read from `portal ca export`."""
    pem = run_portal("ca", "export", "--name", name, env=portal.env, check=True).stdout
    return serial_to_hex(x509.load_pem_x509_certificate(pem).serial_number)


def _served_serial(port: int, cafile: Path) -> str:
    """The serial of the certificate a TLS client is shown on 127.0.0.1:port."""
    context = ssl.create_default_context(cafile=str(cafile))
    connection = http.client.HTTPSConnection("127.0.0.1", port, context=context, timeout=60)
    try:
        connection.connect()
        der = connection.sock.getpeercert(binary_form=True)
    finally:
        connection.close()
    return serial_to_hex(x509.load_der_x509_certificate(der).serial_number)


def test_a_revoked_server_certificate_is_reported_then_replaced_by_init_and_restart(tmp_path):
    instance = tmp_path / "instance"
    env = {"PORTAL_INSTANCE": str(instance)}
    run_portal("init", env=env, check=True)
    cafile = instance / "client-ca.pem"
    with serve(instance, workers=WORKERS) as served:
        portal = Portal(tmp_path, instance, served.port, served.process.pid)
        revoked = _served_serial(served.port, cafile)
        auth = {"Authorization": f"Bearer {portal.admin_token()}"}
        status, text, _ = portal.request("POST", f"/api/v1/certificates/{revoked}/revoke",
                                         headers=auth, body={"reason": "keyCompromise"})
        assert status == 200, text
        status, text, _ = portal.request("GET", "/healthz")
        assert status == 503 and f"server certificate {revoked} is revoked" in text

    run_portal("init", env=env, check=True)  # replaces it, as a restart or renewal check would
    on_disk = x509.load_pem_x509_certificates((instance / "server.crt").read_bytes())[0]
    assert serial_to_hex(on_disk.serial_number) != revoked
    run_portal("cert", "revoke", serial_to_hex(on_disk.serial_number), env=env, check=True)
    with serve(instance, workers=WORKERS) as served:  # the start replaces a revoked one too
        renewed = _served_serial(served.port, cafile)
        assert renewed not in (revoked, serial_to_hex(on_disk.serial_number))
        status, text, _ = Portal(tmp_path, instance, served.port,
                                 served.process.pid).request("GET", "/healthz")
        assert status == 200, text
