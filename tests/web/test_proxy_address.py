"""The client's address behind a trusted proxy: settings, the throttle and the audit log.

The real nginx and Apache are in tests/e2e/test_webservers.py; these drive the same rules
through the test client, where the peer address can be anything.
"""

import pytest
from sqlalchemy import select

from portal import create_app
from portal.errors import ConfigurationError
from portal.extensions import db
from portal.models import AuditEvent
from portal.proxies import parse_trusted_proxies
from portal.services.users import create_user
from tests.conftest import run_portal
from tests.e2e.servers import free_port
from tests.web.conftest import ADMIN_PASSWORD, HttpsClient, sign_in

PROXY = "127.0.0.1"


@pytest.fixture
def proxied(instance):
    """A test client whose requests come from a trusted proxy at 127.0.0.1."""
    application = create_app({"TESTING": True, "PORTAL_TRUSTED_PROXIES": f"{PROXY}, 10.0.0.0/8"})
    application.test_client_class = HttpsClient
    with application.app_context():
        create_user("alice", role="admin", password=ADMIN_PASSWORD, actor="test")
        create_user("bob", role="user", password=ADMIN_PASSWORD, actor="test")
        client = application.test_client()
        client.environ_base.update(HTTP_REFERER="https://localhost/", REMOTE_ADDR=PROXY)
        yield client
        db.session.remove()
        db.engine.dispose()


def sign_in_from(client, forwarded_for: str, username: str, password: str, **environ):
    """A sign-in whose requests carry `X-Forwarded-For: forwarded_for`; its HTTP status."""
    client.environ_base.update(HTTP_X_FORWARDED_FOR=forwarded_for, **environ)
    return sign_in(client, username, password).status_code


def audited_addresses() -> list[str]:
    """The address of every audited sign-in, oldest first."""
    events = db.session.scalars(select(AuditEvent).filter_by(action="auth.login")
                                .order_by(AuditEvent.id))
    return [event.detail.rsplit(" ", 1)[-1] for event in events]


def test_addresses_and_networks_are_accepted():
    networks = parse_trusted_proxies("127.0.0.1, 10.0.0.0/8 ::1\tfd00::/8")
    assert [str(network) for network in networks] == [
        "127.0.0.1/32", "10.0.0.0/8", "::1/128", "fd00::/8"]
    assert parse_trusted_proxies("") == ()


@pytest.mark.parametrize("setting", ["nginx.internal 127.0.0.1", "127.0.0.1, localhost",
                                     "10.0.0.0/33", "127.0.0.1:8443"])
def test_anything_else_is_refused_when_the_app_is_created(instance, setting):
    with pytest.raises(ConfigurationError, match="PORTAL_TRUSTED_PROXIES"):
        create_app({"PORTAL_TRUSTED_PROXIES": setting})


@pytest.mark.parametrize("name", ["init", "serve", "--help"])
def test_a_host_name_is_one_error_line_from_the_commands(tmp_path, name):
    # serve on a free port, in case the setting were accepted after all
    command = ["serve", "--port", str(free_port()), "--http-port", "0"] if name == "serve" \
        else [name]
    result = run_portal(*command, env={"PORTAL_INSTANCE": str(tmp_path / "instance"),
                                       "PORTAL_TRUSTED_PROXIES": "nginx.internal 127.0.0.1"})
    assert result.returncode == 1
    assert result.stderr.decode().splitlines() == [
        "Error: PORTAL_TRUSTED_PROXIES: 'nginx.internal' is not an IP address or network "
        "(host names are not accepted: write the proxy's address, e.g. 127.0.0.1)"]
    assert not (tmp_path / "instance" / "portal.sqlite3").exists()


def test_the_forwarded_address_is_taken_only_from_a_trusted_peer(proxied):
    assert sign_in_from(proxied, "198.51.100.7", "alice", "wrong-password-x") == 200
    # The proxy appended the real peer to what the client wrote: the right-most one counts.
    assert sign_in_from(proxied, "203.0.113.66, 198.51.100.8", "alice", "wrong") == 200
    # Through a second trusted proxy (10/8), the first untrusted address from the right.
    assert sign_in_from(proxied, "198.51.100.9, 10.1.2.3", "alice", "wrong") == 200
    # Straight from an untrusted peer, the header is ignored.
    assert sign_in_from(proxied, "198.51.100.10", "alice", "wrong",
                        REMOTE_ADDR="192.0.2.44") == 200
    # Garbage from a trusted proxy is not an address: the proxy's own address is kept.
    assert sign_in_from(proxied, "not-an-address", "alice", "wrong", REMOTE_ADDR=PROXY) == 200
    # X-Real-IP alone, and an IPv6 client.
    assert sign_in_from(proxied, "", "nobody", "wrong", HTTP_X_REAL_IP="2001:db8::7") == 200
    assert audited_addresses() == ["198.51.100.7", "198.51.100.8", "198.51.100.9",
                                   "192.0.2.44", PROXY, "2001:db8::7"]


def test_invented_names_from_one_address_lock_out_that_address_only(proxied):
    for number in range(5):
        assert sign_in_from(proxied, "198.51.100.20", f"nobody-{number}", "wrong") == 200
    assert sign_in_from(proxied, "198.51.100.20", "alice", ADMIN_PASSWORD) == 429
    assert sign_in_from(proxied, "198.51.100.21", "alice", ADMIN_PASSWORD) == 302


def test_one_account_tried_from_one_address_locks_out_nobody_else(proxied):
    for _attempt in range(5):
        assert sign_in_from(proxied, "198.51.100.30", "alice", "wrong") == 200
    assert sign_in_from(proxied, "198.51.100.31", "alice", ADMIN_PASSWORD) == 429  # the account
    assert sign_in_from(proxied, "198.51.100.30", "bob", ADMIN_PASSWORD) == 429  # the address
    assert sign_in_from(proxied, "198.51.100.32", "bob", ADMIN_PASSWORD) == 302  # anyone else
