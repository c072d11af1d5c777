"""Fixtures for the reliability tests: SQLite or a real PostgreSQL, tokens, a served portal.

A module runs against both databases with
`pytestmark = pytest.mark.parametrize("backend", BACKENDS, indirect=True)`; without that the
`backend` fixture is SQLite. Each pytest-xdist worker starts one PostgreSQL server (a session
fixture) and every test gets its own database, copied from a migrated template.
"""

from types import SimpleNamespace

import pytest
from cryptography import x509

from portal import create_app
from portal.extensions import db
from tests.conftest import IN_CI
from tests.pg import PostgresServer, find_program, migrated_template
from tests.pki import make_csr

BACKENDS = ["sqlite", "postgresql"]


@pytest.fixture(scope="session")
def postgres():
    """A PostgreSQL server for this worker (skipped without PostgreSQL; a failure in CI)."""
    if not (find_program("initdb") and find_program("pg_ctl")):
        message = "PostgreSQL (initdb, pg_ctl) is not installed (.ci/run installs it)"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)
    server = PostgresServer().start()
    server.template = migrated_template(server)
    yield server
    server.stop()


@pytest.fixture
def backend(request) -> str:
    """Which database the test runs on: "sqlite" unless parametrized indirectly."""
    return getattr(request, "param", "sqlite")


@pytest.fixture
def database_url(backend, instance, monkeypatch, request) -> str:
    """The test's own database: the instance's SQLite copy, or a fresh PostgreSQL database."""
    if backend == "sqlite":
        yield f"sqlite:///{instance / 'portal.sqlite3'}"
        return
    server = request.getfixturevalue("postgres")
    name = server.create_database(template=server.template)
    url = server.url(name)
    monkeypatch.setenv("PORTAL_DATABASE_URL", url)
    yield url
    server.drop_database(name)


@pytest.fixture
def app(database_url):
    """The app on the test's database (overrides tests/conftest.py's SQLite-only `app`)."""
    application = create_app({"TESTING": True})
    assert application.config["SQLALCHEMY_DATABASE_URI"] == database_url
    with application.app_context():
        yield application
        db.session.remove()
        db.engine.dispose()


@pytest.fixture
def people(app, root_ca):
    """An admin and two users, each with an API token: {name: (user id, token)}."""
    from portal.services import policy, tokens, users

    # A user's token issues under the profile's self-service policy: these tests let users have
    # server certificates for names under example.com, issued at once.
    policy.set_policy("server", self_service=True, auto_issue=True, common_name_rule="any",
                      email_rule="none", dns_suffixes="example.com", actor="t")
    found = {}
    for name, role in (("alice", "admin"), ("bob", "user"), ("carol", "user")):
        user, _ = users.create_user(name, role=role, password=f"{name}-password-0123", actor="t")
        _row, token = tokens.create_token(name, actor="t")
        found[name] = (user.id, token)
    return found


def bearer(token: str) -> dict:
    """The Authorization header for a token."""
    return {"Authorization": f"Bearer {token}"}


def server_csr(host: str = "www.example.com") -> str:
    """A PEM CSR for a server certificate (new EC P-256 key)."""
    return make_csr(host, sans=[x509.DNSName(host)]).decode()


@pytest.fixture
def ready_to_serve(app, root_ca, instance):
    """An instance `portal serve` can serve: an admin with an API token, the TLS files."""
    from portal.services import tokens, users
    from portal.services.server_tls import ensure_server_certificate, server_files

    users.create_user("admin", role="admin", password="admin-password-0123", actor="t")
    _row, token = tokens.create_token("admin", name="load", actor="t")
    ensure_server_certificate()
    cafile = server_files().client_ca_bundle
    db.session.remove()
    return SimpleNamespace(token=token, cafile=cafile, instance=instance)
