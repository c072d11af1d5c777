"""`portal serve` never believes an SSL_CLIENT_CERT sent to it, in any spelling or encoding.

Under mod_wsgi the portal reads the client certificate from the `SSL_CLIENT_CERT` environ key
that mod_ssl sets. Under gunicorn that key must mean nothing, whatever a client sends: header
names with dashes or underscores, in any case, with mod_wsgi's own key names beside them.
"""

import http.client
import os
import ssl
import threading
from urllib.parse import quote

import pytest
from werkzeug.serving import make_server

from portal import create_app
from tests.conftest import run_portal
from tests.e2e.servers import portal_serve
from tests.e2e.test_serve_ping import issue

pytestmark = pytest.mark.slow
REQUIRED = "a client certificate is required: present one issued by this portal\n"
NAMES = ("SSL_CLIENT_CERT", "SSL-Client-Cert", "ssl-client-cert", "Ssl_Client_Cert",
         "ssl_client_cert", "SSL-CLIENT-CERT", "HTTP_SSL_CLIENT_CERT", "X-SSL-Client-Cert",
         "SSL_CLIENT_CERT_CHAIN_0", "SSL_CLIENT_VERIFY")
MOD_WSGI_NAMES = {"mod_wsgi.version": "(6, 1, 1)", "mod_wsgi.process_group": "",
                  "mod_wsgi_version": "(6, 1, 1)", "mod-wsgi.process-group": ""}


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """`portal serve` on an initialised instance; alice's certificate is the forged one."""
    folder = tmp_path_factory.mktemp("forged")
    instance = folder / "instance"
    env = {"PORTAL_INSTANCE": str(instance)}
    run_portal("init", env=env, check=True)
    certs = {name: issue(env, folder, name, "client", f"/CN={name}") for name in ("alice", "bob")}
    with portal_serve(instance, env=env) as (https_port, _http_port):
        yield {"port": https_port, "ca": instance / "client-ca.pem", "certs": certs}


@pytest.fixture(scope="module")
def werkzeug_served(served):
    """The same instance under Werkzeug's own server (TLS, client certificates optional)."""
    instance = served["ca"].parent
    previous = os.environ.get("PORTAL_INSTANCE")
    os.environ["PORTAL_INSTANCE"] = str(instance)
    try:
        app = create_app()
    finally:
        if previous is None:
            del os.environ["PORTAL_INSTANCE"]
        else:
            os.environ["PORTAL_INSTANCE"] = previous
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(str(instance / "server.crt"), str(instance / "server.key"))
    context.load_verify_locations(str(served["ca"]))
    context.verify_mode = ssl.CERT_OPTIONAL
    server = make_server("127.0.0.1", 0, app, threaded=True, ssl_context=context)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield {**served, "port": server.server_port}
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def ping(served, headers: list[tuple[str, str]], presenting: str | None = None):
    """GET /ping with exactly these header lines (as sent, no normalising); (status, body)."""
    context = ssl.create_default_context(cafile=str(served["ca"]))
    if presenting:
        cert, key, _ = served["certs"][presenting]
        context.load_cert_chain(str(cert), str(key))
    connection = http.client.HTTPSConnection("localhost", served["port"], context=context,
                                             timeout=60)
    try:
        connection.putrequest("GET", "/ping")
        connection.putheader("Accept", "application/json" if presenting else "text/plain")
        for name, value in headers:
            connection.putheader(name, value)
        connection.endheaders()
        response = connection.getresponse()
        return response.status, response.read().decode()
    finally:
        connection.close()


def forms_of(pem: str) -> list[str]:
    """The certificate as Apache's header (spaces), nginx's (URL-encoded) and plain PEM send it."""
    return [pem.replace("\n", " ").strip(), quote(pem), pem.replace("\n", "\t").strip()]


def test_no_spelling_of_ssl_client_cert_is_believed(served):
    alice = served["certs"]["alice"][0].read_text()
    for name in NAMES:
        for value in forms_of(alice):
            sent = [(name, value), *MOD_WSGI_NAMES.items()]
            assert ping(served, sent) == (401, REQUIRED), name
            status, body = ping(served, sent, presenting="bob")
            assert status == 200 and '"subject":"CN=bob"' in body, (name, status, body)


def test_the_certificate_presented_over_tls_still_counts(served):
    assert ping(served, []) == (401, REQUIRED)
    status, body = ping(served, [], presenting="alice")
    assert status == 200 and '"subject":"CN=alice"' in body


def test_werkzeugs_server_believes_its_socket_not_the_headers(werkzeug_served):
    """Werkzeug drops header names with underscores and prefixes the rest with HTTP_."""
    alice = werkzeug_served["certs"]["alice"][0].read_text()
    for name in NAMES:
        sent = [(name, forms_of(alice)[0]), *MOD_WSGI_NAMES.items()]
        assert ping(werkzeug_served, sent) == (401, REQUIRED), name
        status, body = ping(werkzeug_served, sent, presenting="bob")
        assert status == 200 and '"subject":"CN=bob"' in body, (name, status, body)
