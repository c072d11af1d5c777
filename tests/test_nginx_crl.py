"""A real nginx checking client certificates against the CRL that `portal crl export` writes."""

import os
import pwd
import signal
import socket
import subprocess
import time
from pathlib import Path

import pytest

from portal.ca.pem import to_pem
from portal.extensions import db
from tests.conftest import require_program, run_portal
from tests.publishing import issue, key_pem

NGINX_CONF = """\
daemon off;
master_process on;
worker_processes 1;
pid {prefix}/nginx.pid;
error_log {prefix}/error.log info;
{user}
events {{ worker_connections 64; }}
http {{
    access_log {prefix}/access.log;
    client_body_temp_path {prefix}/tmp/body;
    proxy_temp_path {prefix}/tmp/proxy;
    fastcgi_temp_path {prefix}/tmp/fastcgi;
    uwsgi_temp_path {prefix}/tmp/uwsgi;
    scgi_temp_path {prefix}/tmp/scgi;
    server {{
        listen 127.0.0.1:{port} ssl;
        ssl_certificate {prefix}/server.pem;
        ssl_certificate_key {prefix}/server.key;
        ssl_client_certificate {prefix}/ca.pem;
        ssl_verify_client on;
        ssl_crl {prefix}/crl.pem;
        location / {{
            default_type text/plain;
            return 200 "hello $ssl_client_s_dn\\n";
        }}
    }}
}}
"""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_for_port(port: int, process: subprocess.Popen, log: Path) -> None:
    for _ in range(600):
        if process.poll() is not None:
            raise AssertionError(f"nginx exited with {process.returncode}: {log.read_text()}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.05)
    raise AssertionError(f"nginx never listened on {port}: {log.read_text()}")


class Nginx:
    """nginx as the current user, with its own prefix, pid file and logs, on a free port."""

    def __init__(self, prefix: Path):
        self.binary = require_program("nginx")
        self.prefix = prefix
        self.port = _free_port()
        self.conf = prefix / "nginx.conf"
        self.error_log = prefix / "error.log"
        (prefix / "tmp").mkdir()
        user = f"user {pwd.getpwuid(os.geteuid()).pw_name};" if os.geteuid() == 0 else ""
        self.conf.write_text(NGINX_CONF.format(prefix=prefix, port=self.port, user=user))
        self.process: subprocess.Popen | None = None

    def command(self, *args: str) -> list[str]:
        """An nginx command line for this instance."""
        return [self.binary, "-p", str(self.prefix), "-c", str(self.conf),
                "-e", str(self.error_log), *args]

    def start(self) -> None:
        """Start the master in the foreground (in its own process group)."""
        self.process = subprocess.Popen(self.command(), start_new_session=True,
                                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        _wait_for_port(self.port, self.process, self.error_log)

    def stop(self) -> None:
        """Stop the master and its workers."""
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()

    def reload_command(self, marker: Path) -> str:
        """The shell command for --then: reload nginx, and note that it ran."""
        return " ".join(self.command("-s", "reload")) + f" && echo reload >> {marker}"


@pytest.fixture
def nginx(tmp_path):
    """An nginx instance configured (not started yet); stopped at the end of the test."""
    prefix = tmp_path / "nginx"
    prefix.mkdir()
    server = Nginx(prefix)
    yield server
    server.stop()


def _curl(nginx: Nginx, name: str) -> str:
    """GET / with a client certificate; the HTTP status (000 when TLS itself failed)."""
    result = subprocess.run(
        [require_program("curl"), "-sS", "-o", "/dev/null", "-w", "%{http_code}",
         "--cacert", str(nginx.prefix / "ca.pem"), "--cert", str(nginx.prefix / f"{name}.pem"),
         "--key", str(nginx.prefix / f"{name}.key"), f"https://127.0.0.1:{nginx.port}/"],
        capture_output=True, text=True, timeout=60,
    )
    return result.stdout.strip()


def _curl_until(nginx: Nginx, name: str, status: str) -> str:
    """Ask until nginx's new workers (after a reload) answer `status`; the last answer."""
    answer = ""
    for _ in range(300):
        answer = _curl(nginx, name)
        if answer == status:
            break
        time.sleep(0.1)
    return answer


def test_nginx_refuses_a_client_certificate_once_it_is_revoked(app, client, root_ca, nginx):
    require_program("curl")
    prefix = nginx.prefix
    _row, server, server_key = issue("server")
    (prefix / "server.pem").write_bytes(to_pem(server))
    (prefix / "server.key").write_bytes(key_pem(server_key))
    (prefix / "ca.pem").write_bytes(client.get("/ca.pem").data)
    alice_row, alice, alice_key = issue("client", name="alice")
    _bob_row, bob, bob_key = issue("client", name="bob")
    for name, cert, key in (("alice", alice, alice_key), ("bob", bob, bob_key)):
        (prefix / f"{name}.pem").write_bytes(to_pem(cert))
        (prefix / f"{name}.key").write_bytes(key_pem(key))
    alice_serial = alice_row.serial
    db.session.remove()
    db.engine.dispose()

    crl_file = prefix / "crl.pem"
    marker = prefix / "reloads.log"
    run_portal("crl", "export", "--out", str(crl_file), check=True)
    nginx.start()
    assert _curl(nginx, "alice") == "200"
    assert _curl(nginx, "bob") == "200"

    revoked = run_portal("cert", "revoke", alice_serial, "--reason", "keyCompromise",
                         check=True)
    assert b"revoked" in revoked.stdout
    export = run_portal("crl", "export", "--out", str(crl_file),
                        "--then", nginx.reload_command(marker), check=True)
    assert b"wrote" in export.stdout
    assert marker.read_text().splitlines() == ["reload"]
    assert _curl_until(nginx, "alice", "400") == "400"
    assert _curl(nginx, "bob") == "200"
    assert "certificate revoked" in nginx.error_log.read_text()

    # Nothing changed: the file is left alone and nginx is not reloaded.
    again = run_portal("crl", "export", "--out", str(crl_file),
                       "--then", nginx.reload_command(marker), check=True)
    assert b"unchanged" in again.stdout
    assert marker.read_text().splitlines() == ["reload"]
    assert "emerg" not in nginx.error_log.read_text()
