"""`portal serve` and /ping, driven with curl and requests over real TLS on loopback."""

import json
import os
import socket
import ssl
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import requests
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from portal import create_app
from portal.ca.pem import to_der, to_pem
from portal.ca.profiles import PROFILES
from portal.ca.serials import random_serial, serial_to_hex
from portal.ca.signer import build_certificate, fingerprint_sha256
from portal.extensions import db
from portal.models import STATUS_ISSUED, Certificate
from portal.services.authorities import get_ca, get_signer, urls_for
from tests.conftest import require_program, run_portal
from tests.e2e.servers import portal_serve
from tests.e2e.workers import client_context, connections_on_every_worker, get

pytestmark = pytest.mark.slow


def make_key_and_csr(folder: Path, name: str, subject: str, *extra: str) -> tuple[Path, Path]:
    """A key and CSR made by the real `openssl req`."""
    key, csr = folder / f"{name}.key", folder / f"{name}.csr"
    subprocess.run(
        [require_program("openssl"), "req", "-new", "-newkey", "ec", "-pkeyopt",
         "ec_paramgen_curve:P-256", "-nodes", "-keyout", str(key), "-out", str(csr),
         "-subj", subject, *extra],
        check=True, capture_output=True,
    )
    return key, csr


def issue(env, folder: Path, name: str, profile: str, subject: str, *extra: str):
    """Key, CSR and a certificate issued by `portal cert issue`; returns (cert, key, serial)."""
    key, csr = make_key_and_csr(folder, name, subject, *extra)
    cert = folder / f"{name}.pem"
    result = run_portal("cert", "issue", "--csr", str(csr), "--profile", profile,
                        "--out", str(cert), env=env, check=True)
    serial = result.stderr.decode().split()[1]
    return cert, key, serial


def write_key(path: Path, key) -> Path:
    path.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                       serialization.PrivateFormat.PKCS8,
                                       serialization.NoEncryption()))
    return path


@pytest.fixture(scope="module")
def portal(tmp_path_factory):
    """An initialised instance served by `portal serve`, with certificates to present."""
    folder = tmp_path_factory.mktemp("serve")
    instance = folder / "instance"
    env = {"PORTAL_INSTANCE": str(instance)}
    run_portal("init", env=env, check=True)
    files = {"ca": instance / "client-ca.pem", "folder": folder, "env": env}
    files["alice"] = issue(env, folder, "alice", "client", "/CN=alice")
    files["bob"] = issue(env, folder, "bob", "client", "/CN=bob")
    files["server_only"] = issue(env, folder, "web", "server", "/CN=web.example.com",
                                 "-addext", "subjectAltName=DNS:web.example.com")
    with portal_serve(instance) as (https_port, http_port):
        files["url"] = f"https://localhost:{https_port}/ping"
        files["http_port"] = http_port
        files["ca"] = instance / "client-ca.pem"
        yield files


def curl(portal, *args: str) -> tuple[int, str, int]:
    """curl /ping; returns (curl exit status, body, HTTP status)."""
    result = subprocess.run(
        [require_program("curl"), "-s", "--max-time", "30", "--cacert", str(portal["ca"]),
         "-w", "\n%{http_code}", *args, portal["url"]],
        capture_output=True, text=True,
    )
    body, _, code = result.stdout.rpartition("\n")
    return result.returncode, body, int(code or 0)


def test_no_certificate_gets_401_saying_one_is_required(portal):
    status, body, code = curl(portal)
    assert (status, code) == (0, 401)
    assert "client certificate is required" in body


def test_curl_with_cert_and_key_gets_pong(portal):
    cert, key, _ = portal["alice"]
    assert curl(portal, "--cert", str(cert), "--key", str(key)) == (0, "pong", 200)


def test_json_answer_names_the_certificate(portal):
    cert, key, serial = portal["alice"]
    status, body, code = curl(portal, "--cert", str(cert), "--key", str(key),
                              "-H", "Accept: application/json")
    assert code == 200
    answer = json.loads(body)
    assert answer["serial"] == serial
    assert answer["subject"] == "CN=alice"
    assert answer["issuer"] == "CN=root"
    assert answer["notAfter"].endswith("Z")


def test_curl_with_pkcs12_gets_pong(portal):
    cert, key, _ = portal["alice"]
    p12 = portal["folder"] / "alice.p12"
    subprocess.run(
        [require_program("openssl"), "pkcs12", "-export", "-in", str(cert), "-inkey", str(key),
         "-out", str(p12), "-passout", "pass:correct horse"],
        check=True, capture_output=True,
    )
    result = curl(portal, "--cert-type", "P12", "--cert", f"{p12}:correct horse")
    assert result == (0, "pong", 200)


def test_requests_with_cert_tuple_gets_pong(portal):
    cert, key, _ = portal["alice"]
    response = requests.get(portal["url"], cert=(str(cert), str(key)), verify=str(portal["ca"]),
                            timeout=30)
    assert (response.status_code, response.text) == (200, "pong")


def test_revocation_takes_effect_on_the_next_request_on_every_worker(portal):
    """Every worker has answered bob before the revocation; each answers 403 right after it."""
    cert, key, serial = portal["bob"]
    port = int(portal["url"].split(":")[2].split("/")[0])
    token = run_portal("token", "create", "admin", "--name", "revoker", env=portal["env"],
                       check=True).stdout.decode().strip().split()[-1]
    context = client_context(portal["ca"], cert, key)
    connections, owners, workers = connections_on_every_worker(port, context, "/ping")
    try:
        response = requests.post(
            f"https://localhost:{port}/api/v1/certificates/{serial}/revoke",
            json={"reason": "keyCompromise"}, headers={"Authorization": f"Bearer {token}"},
            verify=str(portal["ca"]), timeout=30)
        assert response.status_code == 200, response.text
        for index in owners:  # the very next request on each worker's connection
            status, body = get(connections[index], "/ping")
            assert (status, "revoked" in body) == (403, True), (index, owners[index], body)
    finally:
        for connection in connections:
            connection.close()
    assert set(owners.values()) == workers
    status, body, code = curl(portal, "--cert", str(cert), "--key", str(key))
    assert code == 403
    assert "revoked" in body


def test_server_auth_only_certificate_is_refused(portal):
    cert, key, _ = portal["server_only"]
    status, body, code = curl(portal, "--cert", str(cert), "--key", str(key))
    # Python's TLS stack checks the purpose during the handshake: a TLS alert, or a 403.
    assert code == 403 or status != 0
    assert body != "pong"


def test_certificate_of_another_ca_with_the_same_name_is_refused(portal):
    folder = portal["folder"]
    impostor_key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "root")])
    now = datetime.now(UTC)
    leaf_key = ec.generate_private_key(ec.SECP256R1())
    leaf = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "alice")]))
        .issuer_name(name)
        .public_key(leaf_key.public_key())
        .serial_number(int(portal["alice"][2], 16))  # even the serial of a real certificate
        .not_valid_before(now - timedelta(hours=1))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
        .sign(impostor_key, hashes.SHA256())
    )
    (folder / "impostor.pem").write_bytes(to_pem(leaf))
    write_key(folder / "impostor.key", leaf_key)
    status, body, code = curl(portal, "--cert", str(folder / "impostor.pem"),
                              "--key", str(folder / "impostor.key"))
    assert code == 403 or status != 0
    assert body != "pong"


def _record_certificate(portal, *, days_from_now: int, record: bool):
    """A client certificate signed by the portal's CA with chosen validity, optionally recorded."""
    os.environ["PORTAL_INSTANCE"] = portal["env"]["PORTAL_INSTANCE"]
    try:
        app = create_app()
    finally:
        del os.environ["PORTAL_INSTANCE"]
    key = ec.generate_private_key(ec.SECP256R1())
    with app.app_context():
        ca = get_ca()
        now = datetime.now(UTC).replace(microsecond=0)
        serial = random_serial()
        subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "carol")])
        cert = build_certificate(
            get_signer(ca), public_key=key.public_key(), subject=subject, sans=(),
            profile=PROFILES["client"], serial=serial, not_before=now - timedelta(days=30),
            not_after=now + timedelta(days=days_from_now), urls=urls_for(ca),
        )
        if record:
            db.session.add(Certificate(
                ca_id=ca.id, serial=serial_to_hex(serial), common_name="carol",
                subject="CN=carol", profile="client", key_type="ec-p256",
                not_before=cert.not_valid_before_utc, not_after=cert.not_valid_after_utc,
                status=STATUS_ISSUED, der=to_der(cert), fingerprint_sha256=fingerprint_sha256(cert),
            ))
            db.session.commit()
        db.engine.dispose()
    name = f"carol{days_from_now}{record}"
    (portal["folder"] / f"{name}.pem").write_bytes(to_pem(cert))
    write_key(portal["folder"] / f"{name}.key", key)
    return portal["folder"] / f"{name}.pem", portal["folder"] / f"{name}.key"


def test_expired_certificate_gets_403_expired(portal):
    cert, key = _record_certificate(portal, days_from_now=-1, record=True)
    status, body, code = curl(portal, "--cert", str(cert), "--key", str(key))
    assert code == 403
    assert "expired" in body


def test_certificate_the_portal_has_no_record_of_is_refused(portal):
    cert, key = _record_certificate(portal, days_from_now=10, record=False)
    status, body, code = curl(portal, "--cert", str(cert), "--key", str(key))
    assert code == 403
    assert "no record" in body


def test_idle_connections_that_never_speak_tls_do_not_block_ping(portal):
    """24 idle connections (three times the server's threads) are open while a client pings.

    A server that gives each new connection a thread until its first bytes (stock gthread
    waits 5 s per connection) would keep this ping waiting 15 s or more; curl's --max-time of
    10 s is that failure's bound, not a speed target.
    """
    port = int(portal["url"].split(":")[2].split("/")[0])
    idle = [socket.create_connection(("127.0.0.1", port)) for _ in range(24)]
    try:
        cert, key, _ = portal["alice"]
        result = subprocess.run(
            [require_program("curl"), "-s", "--max-time", "10", "--cacert", str(portal["ca"]),
             "--cert", str(cert), "--key", str(key), portal["url"]],
            capture_output=True, text=True,
        )
        assert (result.returncode, result.stdout) == (0, "pong")
    finally:
        for sock in idle:
            sock.close()


def test_idle_connections_after_the_tls_handshake_do_not_block_ping(portal):
    """24 connections finish their TLS handshake and send nothing while a client pings.

    gunicorn's thread waited for such a connection's request without limit: as many of them
    as the server has threads (2 workers x 4 here) stopped it answering anyone.
    """
    port = int(portal["url"].split(":")[2].split("/")[0])
    context = ssl.create_default_context(cafile=str(portal["ca"]))
    idle = []
    try:
        for _ in range(24):
            sock = socket.create_connection(("127.0.0.1", port), timeout=10)
            idle.append(context.wrap_socket(sock, server_hostname="127.0.0.1"))
        cert, key, _ = portal["alice"]
        result = subprocess.run(
            [require_program("curl"), "-s", "--max-time", "10", "--cacert", str(portal["ca"]),
             "--cert", str(cert), "--key", str(key), portal["url"]],
            capture_output=True, text=True,
        )
        assert (result.returncode, result.stdout) == (0, "pong")
        # The idle connections still work: each is answered once it sends a request.
        idle[-1].sendall(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        assert idle[-1].recv(64).startswith(b"HTTP/1.1 200")
    finally:
        for sock in idle:
            sock.close()


def test_plain_http_redirects_everything_but_the_public_paths(portal):
    response = requests.get(f"http://127.0.0.1:{portal['http_port']}/ping?x=1",
                            allow_redirects=False, timeout=30)
    assert response.status_code == 308
    https_port = portal["url"].split(":")[2].split("/")[0]
    assert response.headers["Location"] == f"https://127.0.0.1:{https_port}/ping?x=1"
