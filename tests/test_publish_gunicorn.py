"""Several gunicorn workers serve the same CRL, and see a revocation made by another process."""

import http.client
import os
import re
import signal
import socket
import subprocess
import time

import pytest
from cryptography import x509

from portal.extensions import db
from tests.conftest import BIN, ROOT, run_portal
from tests.publishing import crl_number, issue


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _get(port: int, path: str) -> tuple[int, bytes]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        connection.request("GET", path)
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


@pytest.fixture
def gunicorn(instance, tmp_path):
    """`gunicorn wsgi:app` with 2 workers on a free loopback port; stopped at the end."""
    port = _free_port()
    log = (tmp_path / "gunicorn.log").open("wb")
    process = subprocess.Popen(
        [str(BIN / "gunicorn"), "--workers", "2", "--bind", f"127.0.0.1:{port}",
         "--chdir", str(ROOT), "wsgi:app"],
        env={**os.environ, "PORTAL_INSTANCE": str(instance)},
        stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )
    try:
        for _ in range(600):
            assert process.poll() is None, (tmp_path / "gunicorn.log").read_text()
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1):
                    break
            except OSError:
                time.sleep(0.05)
        yield port
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        log.close()


def _metric(text: str, name: str) -> float:
    match = re.search(rf'^{name}{{ca="root"}} (\S+)$', text, re.MULTILINE)
    assert match, text
    return float(match.group(1))


def test_every_worker_serves_the_crl_of_a_revocation_made_elsewhere(app, root_ca, gunicorn):
    row, cert, _ = issue(name="alice")
    serial = row.serial
    db.session.remove()
    db.engine.dispose()
    before = set()
    for _ in range(10):  # new connections: both workers answer and cache the bytes
        status, body = _get(gunicorn, "/crl.der")
        assert status == 200
        before.add(crl_number(x509.load_der_x509_crl(body)))
    assert len(before) == 1

    run_portal("cert", "revoke", serial, "--reason", "superseded", check=True)
    numbers = set()
    for _ in range(10):
        status, body = _get(gunicorn, "/crl.der")
        crl = x509.load_der_x509_crl(body)
        assert crl.get_revoked_certificate_by_serial_number(cert.serial_number) is not None
        numbers.add(crl_number(crl))
    assert len(numbers) == 1 and min(numbers) > max(before)

    scrapes = [_get(gunicorn, "/metrics")[1].decode() for _ in range(6)]
    for text in scrapes:
        assert _metric(text, "portal_certificates_revoked_total") == 1
        assert _metric(text, "portal_crl_number") == float(min(numbers))
    status, _body = _get(gunicorn, "/healthz")
    assert status == 200
