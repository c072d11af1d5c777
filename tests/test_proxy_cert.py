"""`portal webserver-config` gives the web server a client certificate of its own.

The real nginx and Apache presenting it are in tests/e2e/test_webservers.py.
"""

import os
import stat
from urllib.parse import quote

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.x509.oid import ExtendedKeyUsageOID

from portal import create_app
from portal.ca.serials import serial_to_hex
from portal.services.certificates import get_certificate, revoke_certificate
from portal.services.issuance import issue_from_csr
from tests.peer import presenting
from tests.pki import make_csr, pem


def configure(runner, kind: str = "nginx", *extra: str) -> str:
    """The configuration `portal webserver-config KIND` prints."""
    result = runner.invoke(args=["webserver-config", kind, *extra])
    assert result.exit_code == 0, result.output
    return result.stdout


def proxy_serial(instance) -> str:
    certificate = x509.load_pem_x509_certificate((instance / "proxy-client.crt").read_bytes())
    return serial_to_hex(certificate.serial_number)


def test_the_proxy_certificate_is_recorded_and_its_keys_are_private(runner, root_ca, instance):
    nginx = configure(runner, "nginx")
    apache = configure(runner, "apache")
    files = {name: instance / f"proxy-client.{name}" for name in ("crt", "key", "pem")}
    assert f"proxy_ssl_certificate     {files['crt']};" in nginx
    assert f"proxy_ssl_certificate_key {files['key']};" in nginx
    assert f"SSLProxyMachineCertificateFile {files['pem']}" in apache
    assert stat.S_IMODE(os.stat(files["key"]).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(files["pem"]).st_mode) == 0o600
    certificate = x509.load_pem_x509_certificate(files["crt"].read_bytes())
    key = serialization.load_pem_private_key(files["key"].read_bytes(), password=None)
    assert key.public_key() == certificate.public_key()
    assert b"PRIVATE KEY" in files["pem"].read_bytes()
    usages = certificate.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert list(usages) == [ExtendedKeyUsageOID.CLIENT_AUTH]
    row = get_certificate(proxy_serial(instance))
    assert (row.profile, row.status, row.owner_id) == ("proxy", "issued", None)
    assert proxy_serial(instance) in nginx and proxy_serial(instance) in apache


def test_a_good_one_is_kept_a_revoked_one_replaced(runner, root_ca, instance):
    configure(runner)
    first = proxy_serial(instance)
    configure(runner, "apache")
    assert proxy_serial(instance) == first  # nginx and Apache on one host share it
    revoke_certificate(first, reason="keyCompromise", actor="test")
    configure(runner)
    second = proxy_serial(instance)
    assert second != first
    configure(runner, "nginx", "--new-proxy-cert")
    assert proxy_serial(instance) not in (first, second)


def test_ping_believes_the_header_only_from_the_proxy_certificate(runner, root_ca, instance):
    configure(runner)
    alice = issue_from_csr(make_csr("alice"), "client", actor="test").certificate
    header = {"X-SSL-Client-Cert": quote(pem(alice).decode())}
    proxy_pem = (instance / "proxy-client.crt").read_text()
    client = create_app({"TESTING": True, "PORTAL_TRUSTED_PROXIES": "127.0.0.1"}).test_client()

    def ping(peer_pem: str | None, address: str = "127.0.0.1"):
        environ = {"REMOTE_ADDR": address, **presenting(peer_pem)}
        response = client.get("/ping", headers=header, environ_base=environ)
        return response.status_code, response.get_data(as_text=True)

    assert ping(None) == (401, "a client certificate is required: present one issued by "
                               "this portal\n")
    assert ping(proxy_pem) == (200, "pong")
    assert ping(proxy_pem, "192.0.2.1")[0] == 403  # the address is a second condition
    assert ping(pem(alice).decode(), "192.0.2.1") == (200, "pong")  # alice herself
    revoke_certificate(proxy_serial(instance), actor="test")
    status, body = ping(proxy_pem)
    assert status == 403 and "revoked" in body
