"""certbot, unchanged, against `portal serve`: http-01 standalone, renewal, revocation, EAB."""

import subprocess

import pytest
from cryptography import x509

from tests.conftest import require_program

from .responders import TxtServer
from .served import acme_server, check_received, eab_endpoint, serial_status, shown_field

NAME = "www.acme.test"


def certbot(server, folder, *args, check=True, directory=None):
    """Run certbot with its own directories under `folder`, trusting the portal's root."""
    command = [
        require_program("certbot"), *args, "--non-interactive",
        "--config-dir", str(folder / "config"), "--work-dir", str(folder / "work"),
        "--logs-dir", str(folder / "logs"), "--server", directory or server.directory,
    ]
    result = subprocess.run(command, env=server.client_env(), capture_output=True, text=True,
                            timeout=300)
    if check and result.returncode != 0:
        log = folder / "logs" / "letsencrypt.log"
        raise AssertionError(result.stdout + result.stderr
                             + (log.read_text()[-6000:] if log.exists() else "")
                             + "\n--- portal serve:\n" + server.running.output()[-6000:])
    return result


def standalone(server, folder, *names, extra=(), directory=None, check=True):
    """certbot certonly --standalone (http-01 on the port the portal validates)."""
    domains = [arg for name in names for arg in ("-d", name)]
    return certbot(server, folder, "certonly", "--standalone", "--agree-tos",
                   "--email", "ops@acme.test", "--http-01-port", str(server.http01_port),
                   "--http-01-address", "127.0.0.1", *domains, *extra, directory=directory,
                   check=check)


@pytest.fixture(scope="module")
def dns_server(tmp_path_factory):
    with TxtServer(tmp_path_factory.mktemp("records")) as server:
        yield server


@pytest.fixture(scope="module")
def server(tmp_path_factory, dns_server):
    with acme_server(tmp_path_factory.mktemp("certbot"), "--domain", "example.test",
                     names=(NAME, "eab.acme.test"),
                     env={"PORTAL_ACME_DNS_SERVER": f"127.0.0.1:{dns_server.port}"}) as s:
        yield s


def test_certbot_gets_renews_and_revokes_a_certificate(server, tmp_path):
    standalone(server, tmp_path, NAME)
    live = tmp_path / "config" / "live" / NAME
    first = check_received(live / "cert.pem", live / "chain.pem")
    assert "issued" == serial_status(server, first.serial_number)

    certbot(server, tmp_path, "renew", "--force-renewal", "--no-random-sleep-on-renew")
    renewed = check_received(live / "cert.pem", live / "chain.pem")
    assert renewed.serial_number != first.serial_number

    certbot(server, tmp_path, "revoke", "--cert-path", str(live / "cert.pem"),
            "--reason", "superseded", "--no-delete-after-revoke")
    assert "revoked" == serial_status(server, renewed.serial_number)
    assert "issued" == serial_status(server, first.serial_number)


def test_certbot_with_external_account_binding(server, tmp_path):
    directory, key_id, hmac_key = eab_endpoint(server)
    refused = standalone(server, tmp_path / "none", "eab.acme.test", directory=directory,
                         check=False)
    assert refused.returncode != 0
    assert "externalAccountRequired" in refused.stderr or "external account" in \
        refused.stderr.lower()
    standalone(server, tmp_path, "eab.acme.test", directory=directory,
               extra=("--eab-kid", key_id, "--eab-hmac-key", hmac_key))
    live = tmp_path / "config" / "live" / "eab.acme.test"
    certificate = check_received(live / "cert.pem", live / "chain.pem")
    assert shown_field(server, certificate.serial_number, "owner") == "admin"


def manual_dns01(server, dns_server, folder, *names):
    """certbot certonly --manual dns-01, its hooks writing into the test's DNS server."""
    records = dns_server.folder
    auth, cleanup = folder / "auth.sh", folder / "cleanup.sh"
    auth.write_text('#!/bin/sh\necho "$CERTBOT_VALIDATION" >> '
                    f'"{records}/_acme-challenge.$CERTBOT_DOMAIN."\n')
    cleanup.write_text(f'#!/bin/sh\nrm -f "{records}/_acme-challenge.$CERTBOT_DOMAIN."\n')
    auth.chmod(0o755)
    cleanup.chmod(0o755)
    domains = [arg for name in names for arg in ("-d", name)]
    certbot(server, folder, "certonly", "--manual", "--preferred-challenges", "dns",
            "--manual-auth-hook", str(auth), "--manual-cleanup-hook", str(cleanup),
            "--agree-tos", "--email", "ops@acme.test", *domains)


def test_certbot_dns01_through_its_manual_hooks(server, dns_server, tmp_path):
    manual_dns01(server, dns_server, tmp_path, "dns.acme.test")
    live = tmp_path / "config" / "live" / "dns.acme.test"
    certificate = check_received(live / "cert.pem", live / "chain.pem")
    sans = certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert sans.get_values_for_type(x509.DNSName) == ["dns.acme.test"]
    assert "_acme-challenge.dns.acme.test." in dns_server.queries
    assert not (dns_server.folder / "_acme-challenge.dns.acme.test.").exists()  # cleaned up


def test_certbot_gets_a_wildcard_and_its_base_name_by_dns01(server, dns_server, tmp_path):
    # Refused at newOrder (rejectedIdentifier) before wildcards were linted the CA/B way.
    manual_dns01(server, dns_server, tmp_path, "*.example.test", "example.test")
    live = tmp_path / "config" / "live" / "example.test"
    certificate = check_received(live / "cert.pem", live / "chain.pem",
                                 wildcards=("*.example.test",))
    sans = certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert sorted(sans.get_values_for_type(x509.DNSName)) == ["*.example.test", "example.test"]
    assert "_acme-challenge.example.test." in dns_server.queries
