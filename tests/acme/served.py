"""A real `portal serve` with an ACME endpoint, for the certbot and lego tests."""

import os
import subprocess
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509

from tests.conftest import run_portal
from tests.e2e.servers import free_port
from tests.pki import (
    CABF_PRIVATE_PKI_FINDINGS,
    cabf_findings,
    openssl_verify,
    pkilint_findings,
    pkix_findings_besides_wildcards,
)
from tests.serve.serving import serve


@dataclass
class AcmeServer:
    """A served ACME endpoint: its directory URL, the root CA file and the ports it validates."""

    env: dict
    directory: str
    root: Path
    http01_port: int
    tls_port: int
    running: object

    def client_env(self) -> dict:
        """The environment a client needs: the portal's root trusted, nothing else changed."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("PORTAL_")}
        env.update(REQUESTS_CA_BUNDLE=str(self.root), LEGO_CA_CERTIFICATES=str(self.root),
                   SSL_CERT_FILE=str(self.root))
        return env

    def portal(self, *args: str) -> subprocess.CompletedProcess:
        """Run a portal command on the served instance."""
        return run_portal(*args, env=self.env, check=True)


@contextmanager
def acme_server(folder: Path, *create_args: str, names: tuple[str, ...] = (),
                env: dict | None = None, workers: int = 2):
    """Initialise an instance, create endpoint `test`, serve it; yield an AcmeServer."""
    instance = folder / "instance"
    base = {"PORTAL_INSTANCE": str(instance)}
    run_portal("init", env=base, check=True)
    run_portal("acme", "create", "test", "--domain", "acme.test", "--network", "127.0.0.0/8",
               *create_args, env=base, check=True)
    root = folder / "root.pem"
    root.write_bytes(run_portal("ca", "export", "--name", "root", env=base, check=True).stdout)
    http01_port, tls_port = free_port(), free_port()
    served_env = {
        **base, "PORTAL_ACME_HTTP_PORT": str(http01_port), "PORTAL_ACME_TLS_PORT": str(tls_port),
        "PORTAL_ACME_RESOLVE": ",".join(f"{n}=127.0.0.1" for n in names), **(env or {}),
    }
    with serve(served_env, workers=workers) as running:
        yield AcmeServer(
            env=served_env, directory=f"https://localhost:{running.port}/acme/test/directory",
            root=root, http01_port=http01_port, tls_port=tls_port, running=running,
        )


def check_received(cert_file: Path, chain_file: Path, *, wildcards: tuple[str, ...] = ()
                   ) -> x509.Certificate:
    """A certificate a client received verifies against its chain and lints clean.

    For a wildcard, lint_pkix_cert reports exactly one finding, pkix.invalid_domain_name_syntax
    (RFC 5280 knows no `*` label), and lint_cabf_serverauth_cert nothing about the name.
    """
    result = openssl_verify(chain_file, cert_file)
    assert result.returncode == 0, result.stdout + result.stderr
    if wildcards:
        assert pkix_findings_besides_wildcards(cert_file, list(wildcards)) == []
        assert cabf_findings(cert_file) <= CABF_PRIVATE_PKI_FINDINGS
    else:
        assert pkilint_findings(cert_file) == ""
    return x509.load_pem_x509_certificate(cert_file.read_bytes())


def shown_field(server: AcmeServer, serial: int, name: str) -> str:
    """One field of `portal cert show` for a serial ('' when empty)."""
    shown = server.portal("cert", "show", format(serial, "X")).stdout.decode()
    line = next(line for line in shown.splitlines() if line.split()[0] == name)
    return line[len(name):].strip()


def serial_status(server: AcmeServer, serial: int) -> str:
    """The status `portal cert show` gives for a serial."""
    return shown_field(server, serial, "status")


def eab_endpoint(server: AcmeServer, user: str = "admin") -> tuple[str, str, str]:
    """Endpoint `eab` (EAB required) and a key for `user`: directory URL, key id, HMAC key."""
    existing = server.portal("acme", "list").stdout.decode()
    if not any(line.startswith("eab\t") for line in existing.splitlines()):
        server.portal("acme", "create", "eab", "--domain", "acme.test", "--eab-required")
    lines = server.portal("acme", "eab", "create", user).stdout.decode().splitlines()
    key_id = lines[0].split(": ", 1)[1]
    hmac_key = lines[1].split(": ", 1)[1]
    return server.directory.replace("/test/", "/eab/"), key_id, hmac_key
