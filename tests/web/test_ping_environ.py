"""/ping believes an `SSL_CLIENT_CERT` environ key only under mod_wsgi, never elsewhere."""

import sys
import types

import pytest

from portal.services.issuance import issue_from_csr
from portal.web.mod_wsgi_peer import under_mod_wsgi
from tests.peer import presenting
from tests.pki import make_csr, pem

MOD_WSGI_KEYS = {"mod_wsgi.version": (6, 1, 1), "mod_wsgi.process_group": "portal"}
REQUIRED = "a client certificate is required: present one issued by this portal\n"


@pytest.fixture
def alice(root_ca):
    """A client certificate of the portal's CA, as PEM text."""
    return pem(issue_from_csr(make_csr("alice"), "client", actor="test").certificate).decode()


@pytest.fixture
def embedded_mod_wsgi(monkeypatch):
    """The module mod_wsgi loads into the processes it runs the portal in."""
    module = types.ModuleType("mod_wsgi")
    module.version, module.process_group = (6, 1, 1), "portal"
    monkeypatch.setitem(sys.modules, "mod_wsgi", module)
    return module


def ping(client, **environ):
    response = client.get("/ping", environ_base=environ)
    return response.status_code, response.text


def test_an_ssl_client_cert_key_is_not_believed_outside_mod_wsgi(client, alice):
    assert ping(client, SSL_CLIENT_CERT=alice) == (401, REQUIRED)
    # mod_wsgi's own keys, without mod_wsgi itself in the process, prove nothing either.
    assert ping(client, SSL_CLIENT_CERT=alice, **MOD_WSGI_KEYS) == (401, REQUIRED)


def test_under_mod_wsgi_the_certificate_mod_ssl_exported_is_checked(client, alice,
                                                                    embedded_mod_wsgi):
    assert ping(client, SSL_CLIENT_CERT=alice, **MOD_WSGI_KEYS) == (200, "pong")
    assert ping(client, **MOD_WSGI_KEYS) == (401, REQUIRED)  # no certificate exported
    # The environ must name the process group the embedded module runs.
    other = {**MOD_WSGI_KEYS, "mod_wsgi.process_group": "someone-else"}
    assert ping(client, SSL_CLIENT_CERT=alice, **other) == (401, REQUIRED)
    without_version = {"mod_wsgi.process_group": "portal"}
    assert ping(client, SSL_CLIENT_CERT=alice, **without_version) == (401, REQUIRED)
    status, text = ping(client, SSL_CLIENT_CERT="not a certificate", **MOD_WSGI_KEYS)
    assert (status, text) == (403, "the forwarded client certificate is not a PEM certificate\n")


def test_headers_never_make_mod_wsgi_keys(client, alice, embedded_mod_wsgi):
    headers = {"SSL-Client-Cert": alice.replace("\n", " "),
               "mod_wsgi.version": "6", "mod_wsgi.process_group": "portal"}
    response = client.get("/ping", headers=headers)
    assert (response.status_code, response.text) == (401, REQUIRED)
    assert not under_mod_wsgi({"HTTP_MOD_WSGI.VERSION": "6",
                               "HTTP_MOD_WSGI.PROCESS_GROUP": "portal"})


def test_the_tls_socket_of_werkzeugs_server_is_still_read(client, alice):
    assert ping(client, **presenting(alice)) == (200, "pong")
    assert ping(client, **presenting(None), SSL_CLIENT_CERT=alice) == (401, REQUIRED)
