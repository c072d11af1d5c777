"""certbot, unchanged, against `portal serve`: http-01 standalone, renewal, revocation, EAB."""

import subprocess

import pytest

from tests.conftest import require_program

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
    if check:
        assert result.returncode == 0, result.stdout + result.stderr
    return result


def standalone(server, folder, *names, extra=(), directory=None, check=True):
    """certbot certonly --standalone (http-01 on the port the portal validates)."""
    domains = [arg for name in names for arg in ("-d", name)]
    return certbot(server, folder, "certonly", "--standalone", "--agree-tos",
                   "--email", "ops@acme.test", "--http-01-port", str(server.http01_port),
                   "--http-01-address", "127.0.0.1", *domains, *extra, directory=directory,
                   check=check)


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    with acme_server(tmp_path_factory.mktemp("certbot"), names=(NAME, "eab.acme.test")) as s:
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
