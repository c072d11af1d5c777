"""The self-service rules without HTTP: the policy's name checks and the renewal window."""

from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pytest
from cryptography import x509
from cryptography.x509.oid import NameOID

from portal.errors import PolicyViolation
from portal.services import policy
from portal.services.selfservice import renewable, renewal_opens

BOB = SimpleNamespace(username="bob", email="Bob@Example.com")
NOW = datetime(2026, 6, 1, tzinfo=UTC)


def _name(*attributes):
    return x509.Name([x509.NameAttribute(oid, value) for oid, value in attributes])


def _check(p, subject, sans=(), days=None, user=BOB):
    policy.check_names(p, user, subject, tuple(sans), days=days)


CLIENT = policy.DEFAULTS["client"]
SERVER = policy.Policy("server", self_service=True, auto_issue=False,
                       common_name_rule=policy.CN_ANY, email_rule=policy.EMAIL_NONE,
                       dns_suffixes=("lab.example.com",), ip_networks=("192.0.2.0/24",),
                       max_days=90)


def test_the_default_client_policy_allows_only_ones_own_names():
    _check(CLIENT, _name((NameOID.COMMON_NAME, "bob")))
    _check(CLIENT, _name((NameOID.COMMON_NAME, "bob")), [x509.RFC822Name("Bob@example.com")])
    for subject, sans, field in [
        (_name((NameOID.COMMON_NAME, "Bob")), [], "common_name"),
        (_name(), [], "common_name"),
        (_name((NameOID.COMMON_NAME, "bob"), (NameOID.ORGANIZATION_NAME, "Evil")), [],
         "subject"),
        (_name((NameOID.COMMON_NAME, "bob"), (NameOID.COMMON_NAME, "bob")), [], "common_name"),
        (_name((NameOID.COMMON_NAME, "bob")), [x509.RFC822Name("alice@example.com")], "email"),
        (_name((NameOID.COMMON_NAME, "bob")), [x509.DNSName("bob.example.com")], "sans"),
    ]:
        with pytest.raises(PolicyViolation) as refused:
            _check(CLIENT, subject, sans)
        assert refused.value.field == field, (subject, sans)


def test_an_account_without_email_cannot_ask_for_one():
    nobody = SimpleNamespace(username="bob", email=None)
    with pytest.raises(PolicyViolation, match="no e-mail address") as refused:
        _check(CLIENT, _name((NameOID.COMMON_NAME, "bob")), [x509.RFC822Name("bob@x.org")],
               user=nobody)
    assert refused.value.field == "email"


def test_domains_networks_and_the_validity_cap():
    import ipaddress

    ok = [x509.DNSName("lab.example.com"), x509.DNSName("a.b.lab.example.com"),
          x509.DNSName("*.lab.example.com"), x509.IPAddress(ipaddress.ip_address("192.0.2.9"))]
    _check(SERVER, _name(), ok, days=90)
    for name in (x509.DNSName("evillab.example.com"), x509.DNSName("example.com"),
                 x509.IPAddress(ipaddress.ip_address("192.0.3.1")),
                 x509.RFC822Name("bob@example.com")):
        with pytest.raises(PolicyViolation):
            _check(SERVER, _name(), [name])
    with pytest.raises(PolicyViolation) as refused:
        _check(SERVER, _name(), ok, days=91)
    assert refused.value.field == "days"


def test_a_closed_profile_refuses_everything():
    with pytest.raises(PolicyViolation) as refused:
        _check(policy.DEFAULTS["server"], _name((NameOID.COMMON_NAME, "bob")))
    assert refused.value.field == "profile"


@pytest.mark.parametrize("lifetime_days, left_days, expected, opens_before_end", [
    (365, 31, False, timedelta(days=30)), (365, 29.9, True, timedelta(days=30)),
    (365, -1, True, timedelta(days=30)),  # a year: the last 30 days
    (30, 10.1, False, timedelta(days=10)), (30, 9.9, True, timedelta(days=10)),  # its last third
    (1, 0.4, False, timedelta(hours=8)), (1, 0.3, True, timedelta(hours=8)),
    (90, 30.1, False, timedelta(days=30)), (90, 29.9, True, timedelta(days=30)),
])
def test_the_renewal_window(lifetime_days, left_days, expected, opens_before_end):
    not_after = NOW + timedelta(days=left_days)
    row = SimpleNamespace(status="issued", not_after=not_after,
                          not_before=not_after - timedelta(days=lifetime_days))
    assert renewable(row, NOW) is expected
    assert renewal_opens(row) == not_after - opens_before_end
    row.status = "revoked"
    assert renewable(row, NOW) is False


def test_set_policy_checks_and_normalises(app):
    from portal.errors import InvalidInput

    saved = policy.set_policy("server", self_service=True, auto_issue=True,
                              common_name_rule="any", email_rule="none",
                              dns_suffixes=".Lab.Example.com, lab.example.com\nother.example.org",
                              ip_networks="192.0.2.1/24", actor="test")
    assert saved.dns_suffixes == ("lab.example.com", "other.example.org")
    assert saved.ip_networks == ("192.0.2.0/24",)
    assert policy.get_policy("server").auto_issue is True
    assert [p.profile for p in policy.list_policies()] == ["client", "server"]
    for changes, field in [({"common_name_rule": "x"}, "common_name_rule"),
                           ({"email_rule": "any"}, "email_rule"),
                           ({"dns_suffixes": "localhost"}, "dns_suffixes"),
                           ({"ip_networks": "10.0.0.0/33"}, "ip_networks"),
                           ({"max_days": 0}, "max_days")]:
        arguments = {"self_service": True, "auto_issue": False, "common_name_rule": "any",
                     "email_rule": "none", **changes}
        with pytest.raises((InvalidInput, PolicyViolation)) as refused:
            policy.set_policy("server", actor="test", **arguments)
        assert refused.value.field == field
