"""Caddy, unchanged, configured only by a Caddyfile, gets its certificate from the portal.

The Caddyfile names the portal's directory (`acme_ca`) and trusts the portal's root for it
(`acme_ca_root`); Caddy answers http-01 or tls-alpn-01 on the ports the portal validates, then
serves the certificate, which curl checks against the portal's CA bundle.
"""

import os
import subprocess
import time
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.conftest import require_program
from tests.e2e.servers import stop

from .served import acme_server, check_received, serial_status

NAME = "caddy.acme.test"
BODY = "served by caddy"

CADDYFILE = """\
{{
    acme_ca {directory}
    acme_ca_root {root}
    email ops@acme.test
    http_port {http_port}
    https_port {tls_port}
    storage file_system {storage}
    admin off
    skip_install_trust
    ocsp_stapling off
}}

{name} {{
    respond "{body}"
}}
"""


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    with acme_server(tmp_path_factory.mktemp("caddy"), names=(NAME,)) as s:
        yield s


@contextmanager
def caddy(server, folder: Path):
    """`caddy run` with a Caddyfile pointing at the portal; yields the process and its log."""
    caddyfile = folder / "Caddyfile"
    caddyfile.write_text(CADDYFILE.format(
        directory=server.directory, root=server.root, http_port=server.http01_port,
        tls_port=server.tls_port, storage=folder / "storage", name=NAME, body=BODY))
    log = folder / "caddy.log"
    env = {**server.client_env(), "HOME": str(folder), "XDG_DATA_HOME": str(folder / "data"),
           "XDG_CONFIG_HOME": str(folder / "config")}
    with open(log, "wb") as output:
        process = subprocess.Popen(
            [require_program("caddy"), "run", "--config", str(caddyfile), "--adapter",
             "caddyfile"], env=env, stdout=output, stderr=subprocess.STDOUT,
            start_new_session=True)
    try:
        yield process, log
    finally:
        stop(process)


def wait_for_certificate(process, log: Path, server) -> None:
    """Until Caddy logs that it obtained the certificate (or fails, or exits)."""
    for _ in range(3000):  # a hang guard only: a successful order takes about a second here
        text = log.read_text(errors="replace")
        if "certificate obtained successfully" in text:
            return
        if process.poll() is not None or "will retry" in text:
            break
        time.sleep(0.1)
    raise AssertionError(log.read_text(errors="replace")[-6000:] + "\n--- portal serve:\n"
                         + server.running.output()[-4000:])


def test_caddy_gets_its_certificate_and_serves_it(server, tmp_path):
    with caddy(server, tmp_path) as (process, log):
        wait_for_certificate(process, log, server)
        # a client that trusts only the portal's CA bundle verifies the chain Caddy serves
        env = {k: v for k, v in os.environ.items() if not k.endswith("CA_BUNDLE")}
        reply = subprocess.run(
            [require_program("curl"), "-sS", "--fail", "--cacert", str(server.root),
             "--resolve", f"{NAME}:{server.tls_port}:127.0.0.1",
             f"https://{NAME}:{server.tls_port}/"],
            capture_output=True, text=True, timeout=60, env=env)
        assert reply.returncode == 0, reply.stderr + log.read_text(errors="replace")[-3000:]
        assert reply.stdout == BODY
        chain = subprocess.run(
            [require_program("openssl"), "s_client", "-connect", f"127.0.0.1:{server.tls_port}",
             "-servername", NAME, "-CAfile", str(server.root), "-verify_return_error",
             "-showcerts"], input="", capture_output=True, text=True, timeout=60)
        assert chain.returncode == 0 and "Verify return code: 0 (ok)" in chain.stdout, \
            chain.stdout + chain.stderr
    saved = next((tmp_path / "storage" / "certificates").rglob(f"{NAME}.crt"))
    leaf = tmp_path / "leaf.pem"
    leaf.write_text(saved.read_text().split("-----END CERTIFICATE-----")[0]
                    + "-----END CERTIFICATE-----\n")
    certificate = check_received(leaf, server.root)
    assert serial_status(server, certificate.serial_number) == "issued"
