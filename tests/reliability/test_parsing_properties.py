"""Property-based tests (hypothesis) for CSR and name parsing: only PortalErrors, and round trips.

Arbitrary or damaged input never raises anything but a PortalError subclass (which every
entry point turns into a 4xx or one CLI line); valid names survive describe -> parse and a CSR
built from them gives them back.
"""

import ipaddress
import warnings

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from portal.ca.csr import load_csr
from portal.ca.names import _INVISIBLE_EXTRA as INVISIBLE_EXTRA
from portal.ca.names import (
    check_dns_name,
    check_email,
    check_subject,
    describe_general_name,
    parse_san,
)
from portal.errors import PolicyViolation, PortalError

FAST = settings(max_examples=150, deadline=None)
SLOW = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
KEY = ec.generate_private_key(ec.SECP256R1())

labels = st.from_regex(r"\A[a-z0-9]([a-z0-9-]{0,20}[a-z0-9])?\Z")
dns_names = st.builds(lambda parts, tld: ".".join([*parts, tld]),
                      st.lists(labels, min_size=1, max_size=4),
                      st.from_regex(r"\A[a-z]{2,10}\Z"))
emails = st.builds(lambda local, domain: f"{local}@{domain}",
                   st.from_regex(r"\A[A-Za-z0-9_+-]{1,20}\Z"), dns_names)
# What names may hold: no control, format, private-use, unassigned or separator characters
# (U+0020 aside), no markup, none of the characters that render as nothing.
safe_text = st.text(
    alphabet=st.characters(
        blacklist_categories=("Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp", "Zs"),
        whitelist_characters=" ",
        blacklist_characters="<>" + "".join(sorted(INVISIBLE_EXTRA))),
    min_size=1, max_size=20,
).map(str.strip).filter(bool)


def build_csr(subject: x509.Name, sans: list[x509.GeneralName]) -> bytes:
    builder = x509.CertificateSigningRequestBuilder().subject_name(subject)
    if sans:
        builder = builder.add_extension(x509.SubjectAlternativeName(sans), critical=False)
    return builder.sign(KEY, hashes.SHA256()).public_bytes(serialization.Encoding.DER)


GOOD_DER = build_csr(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "a.example.com")]),
                     [x509.DNSName("a.example.com")])
GOOD_PEM = x509.load_der_x509_csr(GOOD_DER).public_bytes(serialization.Encoding.PEM)


def only_portal_errors(data: bytes) -> None:
    try:
        load_csr(data)
    except PortalError:
        pass


@FAST
@given(st.binary(max_size=4096))
@example(b"\x30\x80" * 2000)
@example(b"-----BEGIN CERTIFICATE REQUEST-----\n\n-----END CERTIFICATE REQUEST-----\n")
def test_arbitrary_bytes_raise_only_portal_errors(data):
    only_portal_errors(data)


@FAST
@given(st.lists(st.tuples(st.integers(0, len(GOOD_DER) - 1), st.integers(0, 255)),
                min_size=1, max_size=6), st.integers(0, len(GOOD_DER)))
def test_damaged_der_raises_only_portal_errors(changes, cut):
    data = bytearray(GOOD_DER)
    for position, value in changes:
        data[position] = value
    only_portal_errors(bytes(data[:cut] if cut else data))


@FAST
@given(st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=\n -",
               max_size=600),
       st.sampled_from([b"CERTIFICATE REQUEST", b"NEW CERTIFICATE REQUEST", b"CERTIFICATE",
                        b"PRIVATE KEY", b""]))
def test_pem_armour_around_anything_raises_only_portal_errors(body, label):
    only_portal_errors(b"-----BEGIN " + label + b"-----\n" + body.encode() + b"\n-----END "
                       + label + b"-----\n")


@FAST
@given(st.integers(0, len(GOOD_PEM)), st.binary(max_size=64))
def test_pem_with_a_tail_cut_or_replaced_raises_only_portal_errors(cut, tail):
    only_portal_errors(GOOD_PEM[:cut] + tail)


@FAST
@given(st.text(max_size=300))
@example("a" * 63 + ".example.com")
@example("*.example.com")
@example("xn--bcher-kva.example")
def test_dns_names_are_checked_idempotently_or_refused(text):
    try:
        checked = check_dns_name(text)
    except PolicyViolation:
        return
    assert checked.isascii() and len(checked) <= 253 and checked == checked.lower()
    assert check_dns_name(checked) == checked


@FAST
@given(st.text(max_size=200))
def test_typed_sans_parse_or_raise_only_policy_violations(text):
    try:
        name = parse_san(text)
    except PolicyViolation:
        return
    assert parse_san(describe_general_name(name)) == name


@FAST
@given(st.one_of(
    dns_names.map(x509.DNSName),
    emails.map(lambda address: x509.RFC822Name(check_email(address))),
    st.ip_addresses().map(x509.IPAddress),
))
def test_valid_names_round_trip_through_describe_and_parse(name):
    assert parse_san(describe_general_name(name)) == name


@FAST
@given(st.lists(st.tuples(st.sampled_from([NameOID.COMMON_NAME, NameOID.ORGANIZATION_NAME,
                                           NameOID.ORGANIZATIONAL_UNIT_NAME,
                                           NameOID.LOCALITY_NAME]), safe_text),
                min_size=1, max_size=6))
def test_allowed_subjects_round_trip_through_check_subject(pairs):
    name = x509.Name([x509.NameAttribute(oid, value) for oid, value in pairs])
    checked, emails_found = check_subject(name)
    assert checked == name and emails_found == []


@FAST
@given(st.text(min_size=1, max_size=64))
def test_any_common_name_is_kept_or_refused_with_a_policy_violation(value):
    with warnings.catch_warnings():  # over 64 bytes in UTF-8: cryptography warns, we refuse
        warnings.simplefilter("ignore", UserWarning)
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, value, _validate=False)])
    try:
        checked, _ = check_subject(name)
    except PolicyViolation:
        return
    assert checked == name


@SLOW
@given(st.lists(dns_names, min_size=1, max_size=5, unique=True),
       st.lists(st.ip_addresses(), max_size=3, unique=True), safe_text)
def test_a_csr_gives_back_its_subject_and_names(hosts, addresses, common_name):
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    sans = [x509.DNSName(host) for host in hosts] + [
        x509.IPAddress(ipaddress.ip_address(address)) for address in addresses]
    request = load_csr(build_csr(subject, sans))
    assert request.subject == subject
    assert list(request.sans) == sans
    assert request.key_type == "ec-p256"
