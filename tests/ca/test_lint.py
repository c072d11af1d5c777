"""The pre-signing lint: pkilint refuses what it flags, before the CA key signs anything."""

import ipaddress
import sqlite3
from datetime import UTC, datetime, timedelta

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID
from hypothesis import given, settings
from hypothesis import strategies as st

from portal.ca import lint, pkilint_values, profiles, signer
from portal.ca.authority import create_root_ca
from portal.ca.names import check_dns_name, check_email
from portal.ca.profiles import PROFILES, PublicationUrls
from portal.errors import PolicyViolation
from portal.services import issuance
from portal.web.errors import status_of
from tests.pki import make_csr

NOW = datetime.now(UTC).replace(microsecond=0)
URLS = PublicationUrls("http://ca.example.com/crl.der", "http://ca.example.com/ca.der")


@pytest.fixture(scope="module")
def ca_signer():
    """A throwaway root CA's signer, with no database."""
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Lint Test Root")])
    certificate, key = create_root_ca(subject, key_type="ec-p256", days=30)
    return signer.CASigner(certificate, key)


def check(ca_signer, sans, *, subject_cn="ok.example.com", profile="server", key=None):
    """Run the pre-signing lint for a server leaf with these SANs."""
    key = key or ec.generate_private_key(ec.SECP256R1())
    lint.check_before_signing(
        ca_signer, public_key=key.public_key(), key_type="ec-p256",
        subject=x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject_cn)]),
        sans=tuple(sans), profile=PROFILES[profile], serial=x509.random_serial_number(),
        not_before=NOW, not_after=NOW + timedelta(days=10), urls=URLS,
    )


def test_a_clean_certificate_passes_and_its_shape_is_remembered(ca_signer):
    lint.forget_verdicts()
    check(ca_signer, [x509.DNSName("www.example.com")])
    assert len(lint._VERDICTS) == 1
    check(ca_signer, [x509.DNSName("api.example.com")])  # same shape, other values
    assert len(lint._VERDICTS) == 1
    check(ca_signer, [x509.DNSName("a.example.com"), x509.IPAddress(ipaddress.ip_address("::1"))])
    assert len(lint._VERDICTS) == 2


@pytest.mark.parametrize(("entry", "code"), [
    (x509.IPAddress(ipaddress.ip_network("10.0.0.0/8")), "pkix.ip_address_wrong_length"),
    (x509.IPAddress(ipaddress.ip_network("2001:db8::/32")), "pkix.ip_address_wrong_length"),
    (x509.DNSName("localhost"), "pkix.invalid_domain_name_syntax"),
    (x509.DNSName("a" * 64 + ".example.com"), "pkix.invalid_domain_name_syntax"),
])
def test_values_that_the_name_checks_would_refuse_are_refused_by_pkilint_too(ca_signer, entry,
                                                                             code):
    # Called at the CA level, past load_csr and parse_san: the net alone refuses them.
    with pytest.raises(lint.LintRefused) as refused:
        check(ca_signer, [x509.DNSName("ok.example.com"), entry])
    assert code in refused.value.message and "entry 2" in refused.value.message
    assert refused.value.message.startswith("the certificate was not signed: pkilint reports")


def test_a_bad_extension_from_the_profile_is_refused_by_the_full_lint(ca_signer, monkeypatch):
    real = profiles.leaf_extensions

    def non_critical_key_usage(*args, **kwargs):
        return [(value, False if isinstance(value, x509.KeyUsage) else critical)
                for value, critical in real(*args, **kwargs)]

    monkeypatch.setattr(signer, "leaf_extensions", non_critical_key_usage)
    lint.forget_verdicts()
    with pytest.raises(lint.LintRefused) as refused:
        check(ca_signer, [x509.DNSName("www.example.com")])
    assert "pkix.key_usage_extension_not_critical" in refused.value.message
    assert lint._VERDICTS == {}  # a refusal is not cached: it is linted again next time


def test_the_net_is_live_on_the_issuance_path_and_nothing_is_written(app, root_ca, instance,
                                                                    monkeypatch):
    real = profiles.leaf_extensions

    def with_an_empty_eku(*args, **kwargs):
        return [(x509.UnrecognizedExtension(x509.ExtendedKeyUsage.oid, b"\x30\x00"), critical)
                if isinstance(value, x509.ExtendedKeyUsage) else (value, critical)
                for value, critical in real(*args, **kwargs)]

    monkeypatch.setattr(signer, "leaf_extensions", with_an_empty_eku)
    lint.forget_verdicts()
    database = sqlite3.connect(instance / "portal.sqlite3")
    try:
        before = database.execute("SELECT (SELECT count(*) FROM certificates), "
                                  "(SELECT count(*) FROM audit_events)").fetchone()
        with pytest.raises(lint.LintRefused) as refused:
            issuance.issue_from_csr(make_csr("www.example.com"), "server", actor="test")
        assert isinstance(refused.value, PolicyViolation) and status_of(refused.value) == 400
        assert "pkilint reports" in refused.value.message
        after = database.execute("SELECT (SELECT count(*) FROM certificates), "
                                 "(SELECT count(*) FROM audit_events)").fetchone()
    finally:
        database.close()
    assert after == before


def test_an_rsa_ca_lints_with_an_rsa_throwaway_key(ca_signer):
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "RSA Lint Root")])
    certificate, key = create_root_ca(subject, key_type="rsa-2048", days=30)
    rsa_signer = signer.CASigner(certificate, key)
    check(rsa_signer, [x509.DNSName("www.example.com")],
          key=rsa.generate_private_key(public_exponent=65537, key_size=2048))
    assert isinstance(lint._throwaway_key(certificate.public_key()), rsa.RSAPrivateKey)


def test_pkilint_value_validators_still_work_as_this_wrapper_expects():
    # Fails when pkilint renames its validators or changes what they read from a node.
    assert pkilint_values.san_findings([x509.DNSName("www.example.com")]) == []
    assert pkilint_values.san_findings([x509.RFC822Name("bob")])[0].startswith(
        "pkix.invalid_email_address_syntax")
    assert pkilint_values.san_findings(
        [x509.IPAddress(ipaddress.ip_network("10.0.0.0/8"))])[0].startswith(
        "pkix.ip_address_wrong_length")
    subject = x509.Name([x509.NameAttribute(NameOID.EMAIL_ADDRESS, "not-an-address")])
    assert pkilint_values.subject_findings(subject)[0].startswith(
        "pkix.invalid_email_address_syntax")


LABEL = st.text(alphabet="abcxyz019-_*.", min_size=1, max_size=70)


@settings(max_examples=300, deadline=None)
@given(st.lists(LABEL, min_size=1, max_size=5).map(".".join))
def test_every_dns_name_the_checks_accept_passes_pkilint(name):
    try:
        accepted = check_dns_name(name, allow_wildcard=False)
    except PolicyViolation:
        return
    assert pkilint_values.san_findings([x509.DNSName(accepted)]) == []


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet="ab.-_+@1", min_size=1, max_size=30), st.sampled_from(
    ["example.com", "a.b.c", "x-y.example"]))
def test_every_email_the_checks_accept_passes_pkilint(local, domain):
    try:
        accepted = check_email(f"{local}@{domain}")
    except PolicyViolation:
        return
    assert pkilint_values.san_findings([x509.RFC822Name(accepted)]) == []


def test_localhost_is_waived_only_when_asked(ca_signer):
    with pytest.raises(lint.LintRefused):
        check(ca_signer, [x509.DNSName("localhost")])
    key = ec.generate_private_key(ec.SECP256R1())
    lint.check_before_signing(  # the portal's own HTTPS certificate
        ca_signer, public_key=key.public_key(), key_type="ec-p256",
        subject=x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")]),
        sans=(x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))),
        profile=PROFILES["server"], serial=x509.random_serial_number(), not_before=NOW,
        not_after=NOW + timedelta(days=10), urls=URLS, allow_localhost=True,
    )


def test_the_thresholds_are_pkilints_warning():
    # lint.py and pkilint_values.py import pkilint on first use only (see benchmarks/cli_startup.py)
    from pkilint.validation import ValidationFindingSeverity

    assert lint.THRESHOLD == pkilint_values.THRESHOLD == ValidationFindingSeverity.WARNING


WILDCARD_PKIX_FINDING = (
    'pkix.invalid_domain_name_syntax (Invalid domain name syntax: "*.example.test")')


def test_a_wildcard_is_signed_as_the_cabf_lints_it_with_only_its_pkix_finding_waived(ca_signer):
    sans = [x509.DNSName("*.example.test"), x509.DNSName("example.test")]
    lint.forget_verdicts()
    check(ca_signer, sans)  # refused before: the PKIX profile calls *.name invalid syntax
    # The one finding waived is pkilint's own, word for word; fails if pkilint changes it.
    assert pkilint_values.waived_wildcard_findings(sans) == {WILDCARD_PKIX_FINDING}
    assert [text.partition(" at ")[0] for text in pkilint_values.san_findings(sans)] == [
        WILDCARD_PKIX_FINDING]
    key = ec.generate_private_key(ec.SECP256R1())
    builder = signer.certificate_builder(
        issuer_key_identifier=ca_signer.key_identifier, public_key=key.public_key(),
        subject=x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "*.example.test")]),
        sans=tuple(sans), profile=PROFILES["server"], serial=x509.random_serial_number(),
        not_before=NOW, not_after=NOW + timedelta(days=10), urls=URLS,
    ).issuer_name(ca_signer.certificate.subject)
    whole = lint.lint_builder(builder, ca_signer.certificate.public_key())
    assert [text.partition(" at ")[0] for text in whole] == [WILDCARD_PKIX_FINDING]


@pytest.mark.parametrize(("name", "code"), [
    ("*.co.uk", "portal.wildcard_public_suffix"),
    ("*.github.io", "portal.wildcard_public_suffix"),
    ("*.", "cabf.serverauth.invalid_dnsname_syntax"),
    ("*.*.example.test", "cabf.serverauth.invalid_dnsname_syntax"),
    ("*.a_b.example.test", "cabf.serverauth.invalid_dnsname_syntax"),
    ("f*.example.test", "pkix.invalid_domain_name_syntax"),
    ("www.*.example.test", "pkix.invalid_domain_name_syntax"),
])
def test_a_wildcard_the_cabf_refuses_is_not_signed(ca_signer, name, code):
    with pytest.raises(lint.LintRefused) as refused:
        check(ca_signer, [x509.DNSName("ok.example.com"), x509.DNSName(name)])
    assert code in refused.value.message and "entry 2" in refused.value.message


def test_every_other_finding_beside_a_wildcard_stays_fatal(ca_signer, monkeypatch):
    with pytest.raises(lint.LintRefused) as refused:
        check(ca_signer, [x509.DNSName("*.example.test"), x509.DNSName("localhost")])
    assert '"localhost"' in refused.value.message and "entry 2" in refused.value.message
    real = profiles.leaf_extensions

    def non_critical_key_usage(*args, **kwargs):
        return [(value, False if isinstance(value, x509.KeyUsage) else critical)
                for value, critical in real(*args, **kwargs)]

    monkeypatch.setattr(signer, "leaf_extensions", non_critical_key_usage)
    lint.forget_verdicts()
    with pytest.raises(lint.LintRefused) as refused:
        check(ca_signer, [x509.DNSName("*.example.test")])
    assert "pkix.key_usage_extension_not_critical" in refused.value.message
    assert "1 more" not in refused.value.message  # the wildcard's own finding is waived
