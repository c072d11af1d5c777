"""lego, unchanged, against `portal serve`: http-01, tls-alpn-01, dns-01 (exec) and EAB."""

import re
import subprocess

import pytest
from cryptography import x509

from tests.conftest import require_program

from .responders import TxtServer, write_hook
from .served import acme_server, check_received, eab_endpoint, shown_field

NAMES = ("www.acme.test", "tls.acme.test", "dns.acme.test", "eab.acme.test")


@pytest.fixture(scope="module")
def dns_server(tmp_path_factory):
    records = tmp_path_factory.mktemp("records")
    with TxtServer(records) as server:
        yield server


@pytest.fixture(scope="module")
def server(tmp_path_factory, dns_server):
    folder = tmp_path_factory.mktemp("lego")
    with acme_server(folder, names=NAMES,
                     env={"PORTAL_ACME_DNS_SERVER": f"127.0.0.1:{dns_server.port}"}) as s:
        yield s


def lego(server, folder, name, *args, env=None, directory=None):
    """lego run for `name` with its data under `folder`; the certificate it saved."""
    command = [require_program("lego"), "--server", directory or server.directory,
               "--accept-tos",
               "--email", "ops@acme.test", "--path", str(folder), "--domains", name, *args,
               "run"]
    result = subprocess.run(command, env={**server.client_env(), **(env or {})},
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, (result.stdout + result.stderr + "\n--- portal serve:\n"
                                    + server.running.output()[-6000:])
    saved = folder / "certificates"
    bundle = (saved / f"{name}.crt").read_bytes()
    leaf = re.search(rb"-----BEGIN CERTIFICATE-----.+?-----END CERTIFICATE-----\n?", bundle,
                     re.S).group(0)
    (folder / "leaf.pem").write_bytes(leaf)
    certificate = check_received(folder / "leaf.pem", saved / f"{name}.issuer.crt")
    sans = certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert sans.get_values_for_type(x509.DNSName) == [name]
    return certificate


def test_lego_http01(server, tmp_path):
    lego(server, tmp_path, "www.acme.test", "--http", "--http.port",
         f"127.0.0.1:{server.http01_port}")


def test_lego_tls_alpn01(server, tmp_path):
    lego(server, tmp_path, "tls.acme.test", "--tls", "--tls.port",
         f"127.0.0.1:{server.tls_port}")


def test_lego_dns01_through_its_exec_provider(server, dns_server, tmp_path):
    hook = tmp_path / "hook.sh"
    write_hook(hook, dns_server.folder)
    lego(server, tmp_path, "dns.acme.test", "--dns", "exec", "--dns.disable-cp",
         "--dns.resolvers", f"127.0.0.1:{dns_server.port}",
         env={"EXEC_PATH": str(hook), "EXEC_POLLING_INTERVAL": "1",
              "EXEC_PROPAGATION_TIMEOUT": "30"})
    assert "_acme-challenge.dns.acme.test." in dns_server.queries


def test_lego_with_external_account_binding(server, tmp_path):
    directory, key_id, hmac_key = eab_endpoint(server)
    certificate = lego(server, tmp_path, "eab.acme.test", "--eab", "--kid", key_id, "--hmac",
                       hmac_key, "--http", "--http.port", f"127.0.0.1:{server.http01_port}",
                       directory=directory)
    assert shown_field(server, certificate.serial_number, "owner") == "admin"
