"""Fixtures for the ACME tests: an endpoint on a root CA, a lean client, responders."""

import pytest

from portal.services.acme_endpoints import create_endpoint

from .jwsclient import Client, flask_transport
from .responders import Http01Responder

DIRECTORY = "http://localhost/acme/test/directory"


@pytest.fixture
def http01():
    """An http-01 responder on a free loopback port."""
    with Http01Responder() as responder:
        yield responder


@pytest.fixture
def acme_app(app, root_ca, http01):
    """The app with an endpoint `test` for *.acme.test and 127.0.0.0/8, validating on loopback."""
    app.config.update(PORTAL_ACME_HTTP_PORT=http01.port,
                      PORTAL_ACME_RESOLVE="www.acme.test=127.0.0.1,api.acme.test=127.0.0.1")
    create_endpoint("test", ca_name="root", domains=["acme.test"], networks=["127.0.0.0/8"],
                    actor="test")
    return app


@pytest.fixture
def acme(acme_app):
    """A registered account's client (in-process, over Flask's test client)."""
    client = Client(flask_transport(acme_app.test_client()), DIRECTORY)
    reply = client.register(contact=["mailto:ops@acme.test"])
    assert reply.status == 201, reply
    return client
