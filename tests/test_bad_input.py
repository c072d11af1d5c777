"""Bad and hostile CSRs: one clear, typed error (or the safe outcome), and nothing written.

Each case runs twice: through the service (a PortalError subclass with a one-line message)
and through `portal cert issue` in-process (exit status 1, one line on stderr, nothing on
stdout); one case of each kind also runs through the real console script. Each counts the
rows of certificates, certificate_names and audit_events before and after, reading the SQLite
file directly.
"""

import ipaddress
import sqlite3
import warnings
from collections.abc import Callable
from dataclasses import dataclass

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed448, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, ExtensionOID, NameOID

from portal.errors import InvalidInput, NotFound, PolicyViolation, PortalError
from portal.services import certificates, issuance
from tests.conftest import run_portal
from tests.pki import make_csr

TABLES = ("certificates", "certificate_names", "audit_events")


def row_counts(instance) -> dict[str, int]:
    """Rows per table, read from the database file (not through the app's session)."""
    connection = sqlite3.connect(instance / "portal.sqlite3")
    try:
        return {table: connection.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
                for table in TABLES}
    finally:
        connection.close()


def csr_with_subject(attributes: list[x509.NameAttribute], sans=None, key=None,
                     extension=None) -> bytes:
    """A PEM CSR with exactly these subject attributes (and SANs or one raw extension)."""
    key = key or ec.generate_private_key(ec.SECP256R1())
    builder = x509.CertificateSigningRequestBuilder().subject_name(x509.Name(attributes))
    if sans:
        builder = builder.add_extension(x509.SubjectAlternativeName(sans), critical=False)
    if extension is not None:
        builder = builder.add_extension(extension, critical=False)
    return builder.sign(key, hashes.SHA256()).public_bytes(serialization.Encoding.PEM)


def cn(value: str) -> x509.NameAttribute:
    """A common name attribute, even one that cryptography would warn about."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        return x509.NameAttribute(NameOID.COMMON_NAME, value, _validate=False)


def broken_signature(*, der: bool) -> bytes:
    """A valid CSR whose signature's last byte is flipped (still well-formed DER)."""
    csr = x509.load_pem_x509_csr(make_csr("www.example.com",
                                          sans=[x509.DNSName("www.example.com")]))
    data = bytearray(csr.public_bytes(serialization.Encoding.DER))
    data[-1] ^= 0x01
    if der:
        return bytes(data)
    return x509.load_der_x509_csr(bytes(data)).public_bytes(serialization.Encoding.PEM)


def dsa_csr() -> bytes:
    """A CSR with a DSA key."""
    key = dsa.generate_private_key(key_size=2048)
    return csr_with_subject([cn("dsa.example.com")], [x509.DNSName("dsa.example.com")], key)


def rsa_csr(bits: int) -> bytes:
    """A CSR with an RSA key of `bits` bits."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=bits)
    return make_csr("rsa.example.com", sans=[x509.DNSName("rsa.example.com")], key=key)


def pem_of_private_key() -> bytes:
    """A PEM private key where a CSR was expected."""
    return ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def server_csr_with(*names: x509.GeneralName) -> bytes:
    """A server CSR with these SANs and a harmless CN."""
    return make_csr("ok.example.com", sans=list(names))


def raw_san_csr(general_names_der: bytes, common_name: str = "ok.example.com") -> bytes:
    """A CSR whose subjectAltName extension holds exactly these DER bytes (GeneralNames)."""
    return csr_with_subject([cn(common_name)], key=None, extension=x509.UnrecognizedExtension(
        ExtensionOID.SUBJECT_ALTERNATIVE_NAME, general_names_der))


def unchecked(kind, value: str) -> x509.GeneralName:
    """A DNS or e-mail name that cryptography's constructor would refuse to build."""
    return kind._init_without_validation(value)


@dataclass(frozen=True)
class Bad:
    """A bad request: how to make it, the profile asked for, and the error expected."""

    id: str
    make: Callable[[], bytes]
    error: type[PortalError]
    says: str  # a fragment the one-line message must contain (case-insensitive)
    profile: str = "server"


BAD = [
    Bad("broken-signature-pem", lambda: broken_signature(der=False), InvalidInput,
        "signature does not verify"),
    Bad("broken-signature-der", lambda: broken_signature(der=True), InvalidInput,
        "signature does not verify"),
    Bad("rsa-1024", lambda: rsa_csr(1024), PolicyViolation, "1024 bits"),
    Bad("dsa", dsa_csr, PolicyViolation, "dsa"),
    Bad("ed448", lambda: make_csr("x.example.com", key=ed448.Ed448PrivateKey.generate()),
        PolicyViolation, "ed448"),
    Bad("ec-p224", lambda: make_csr("x.example.com", key=ec.generate_private_key(ec.SECP224R1())),
        PolicyViolation, "secp224r1"),
    Bad("garbage", lambda: bytes(range(256)) * 3, InvalidInput, "not a certificate signing"),
    Bad("empty", lambda: b"", InvalidInput, "empty"),
    Bad("only-white-space", lambda: b" \n\t\n", InvalidInput, "empty"),
    Bad("pem-certificate", lambda: b"-----BEGIN CERTIFICATE-----\nMIIBIjAN\n"
        b"-----END CERTIFICATE-----\n", InvalidInput, "'CERTIFICATE'"),
    Bad("pem-private-key", pem_of_private_key, InvalidInput, "'PRIVATE KEY'"),
    Bad("pem-damaged", lambda: b"-----BEGIN CERTIFICATE REQUEST-----\n!!notbase64!!\n"
        b"-----END CERTIFICATE REQUEST-----\n", InvalidInput, "damaged"),
    Bad("oversize", lambda: b"-----BEGIN CERTIFICATE REQUEST-----\n" + b"QUFB\n" * 20000
        + b"-----END CERTIFICATE REQUEST-----\n", InvalidInput, "bytes"),
    Bad("cn-control-character", lambda: csr_with_subject([cn("evil\x07bell.example.com")]),
        PolicyViolation, "control characters"),
    Bad("cn-nul", lambda: csr_with_subject([cn("evil\x00.example.com")]), PolicyViolation,
        "control characters"),
    Bad("cn-newline", lambda: csr_with_subject([cn("two\nlines")]), PolicyViolation,
        "control characters"),
    Bad("cn-script", lambda: csr_with_subject([cn("<script>alert(1)</script>")]),
        PolicyViolation, "markup"),
    Bad("cn-65-characters", lambda: csr_with_subject([cn("a" * 65)]), PolicyViolation,
        "longer than 64"),
    Bad("cn-65-bytes-utf8", lambda: csr_with_subject([cn("é" * 33)]), PolicyViolation,
        "longer than 64"),
    Bad("101-sans", lambda: server_csr_with(
        *[x509.DNSName(f"h{i}.example.com") for i in range(101)]), PolicyViolation, "101"),
    Bad("single-label-dns", lambda: server_csr_with(x509.DNSName("intranet")),
        PolicyViolation, "single label"),
    Bad("single-label-cn-only", lambda: make_csr("intranet"), PolicyViolation,
        "single label"),
    Bad("no-name-at-all", lambda: make_csr(None), PolicyViolation, "at least one DNS name"),
    # cryptography refuses to build a U-label; this is how it hands one back when parsing.
    Bad("unicode-dns", lambda: server_csr_with(
        x509.DNSName._init_without_validation("bücher.example")), PolicyViolation, "punycode"),
    Bad("dns-nul", lambda: server_csr_with(x509.DNSName("a\x00b.example.com")),
        PolicyViolation, "not a valid host name"),
    Bad("dns-script", lambda: server_csr_with(x509.DNSName("<script>.example.com")),
        PolicyViolation, "not a valid host name"),
    Bad("wildcard-too-broad", lambda: server_csr_with(x509.DNSName("*.com")), PolicyViolation,
        "too broad"),
    Bad("uri-san", lambda: server_csr_with(
        x509.UniformResourceIdentifier("https://evil.example.com/")), PolicyViolation,
        "UniformResourceIdentifier"),
    Bad("email-script", lambda: make_csr("bob", sans=[x509.RFC822Name("<script>@example.com")]),
        PolicyViolation, "not a valid e-mail", "client"),
    Bad("subject-attribute-not-allowed", lambda: csr_with_subject(
        [cn("ok.example.com"), x509.NameAttribute(NameOID.USER_ID, "root")]), PolicyViolation,
        "userID"),
    Bad("country-not-two-capitals", lambda: csr_with_subject(
        [x509.NameAttribute(NameOID.COUNTRY_NAME, "us"), cn("ok.example.com")]),
        PolicyViolation, "country"),
    Bad("email-san-for-server", lambda: server_csr_with(x509.RFC822Name("bob@example.com")),
        PolicyViolation, "server profile does not accept"),
    Bad("dns-san-for-client", lambda: make_csr("bob", sans=[x509.DNSName("bob.example.com")]),
        PolicyViolation, "client profile does not accept", "client"),
    Bad("client-without-cn", lambda: make_csr(None, sans=[x509.RFC822Name("bob@example.com")]),
        PolicyViolation, "common name", "client"),
    # Finding 7: every SAN entry's syntax, whatever cryptography lets through.
    Bad("ip-8-bytes", lambda: server_csr_with(x509.IPAddress(ipaddress.ip_network("10.0.0.0/8"))),
        PolicyViolation, "IP:10.0.0.0/8 is 8 bytes long"),
    Bad("ip-32-bytes", lambda: server_csr_with(
        x509.IPAddress(ipaddress.ip_network("2001:db8::/32"))), PolicyViolation, "32 bytes"),
    Bad("ip-5-bytes", lambda: raw_san_csr(bytes.fromhex("3007870501020304 05".replace(" ", ""))),
        InvalidInput, "IP address entry is neither 4 nor 16 bytes"),
    Bad("ip-0-bytes", lambda: raw_san_csr(bytes.fromhex("30028700")), InvalidInput,
        "IP address entry is neither 4 nor 16 bytes"),
    Bad("ip-17-bytes", lambda: raw_san_csr(bytes.fromhex("30138711" + "20" * 17)),
        InvalidInput, "neither 4 nor 16 bytes"),
    Bad("san-empty", lambda: raw_san_csr(bytes.fromhex("3000")), PolicyViolation,
        "subjectAltName extension is empty"),
    Bad("san-not-der", lambda: raw_san_csr(b"\x30\x05\x82\x09abc"), InvalidInput,
        "subjectAltName extension is malformed"),
    Bad("dns-empty", lambda: server_csr_with(unchecked(x509.DNSName, "")), PolicyViolation,
        "DNS name is empty"),
    Bad("dns-empty-label", lambda: server_csr_with(x509.DNSName("a..example.com")),
        PolicyViolation, "empty label"),
    Bad("dns-leading-dot", lambda: server_csr_with(x509.DNSName(".example.com")),
        PolicyViolation, "empty label"),
    Bad("dns-trailing-dot", lambda: server_csr_with(x509.DNSName("www.example.com.")),
        PolicyViolation, "trailing dot"),
    Bad("dns-underscore", lambda: server_csr_with(x509.DNSName("a_b.example.com")),
        PolicyViolation, "'a_b'"),
    Bad("dns-space", lambda: server_csr_with(x509.DNSName("a b.example.com")),
        PolicyViolation, "not a valid host name"),
    Bad("dns-leading-hyphen", lambda: server_csr_with(x509.DNSName("-a.example.com")),
        PolicyViolation, "inner hyphens"),
    Bad("dns-trailing-hyphen", lambda: server_csr_with(x509.DNSName("a-.example.com")),
        PolicyViolation, "inner hyphens"),
    Bad("dns-label-64", lambda: server_csr_with(x509.DNSName("a" * 64 + ".example.com")),
        PolicyViolation, "longer than 63"),
    Bad("dns-254", lambda: server_csr_with(x509.DNSName(".".join(["a" * 62] * 4) + ".com")),
        PolicyViolation, "longer than 253"),
    Bad("dns-numeric-tld", lambda: server_csr_with(x509.DNSName("www.example.123")),
        PolicyViolation, "last label is a number"),
    Bad("dns-ip-literal", lambda: server_csr_with(x509.DNSName("10.0.0.1")),
        PolicyViolation, "last label is a number"),
    Bad("dns-high-bytes", lambda: raw_san_csr(bytes.fromhex("300882066162e92e636f")),
        InvalidInput, "subjectAltName extension is malformed"),
    Bad("wildcard-in-the-middle", lambda: server_csr_with(x509.DNSName("a.*.example.com")),
        PolicyViolation, "'*'"),
    Bad("wildcard-partial-label", lambda: server_csr_with(x509.DNSName("f*.example.com")),
        PolicyViolation, "'f*'"),
    Bad("wildcard-twice", lambda: server_csr_with(x509.DNSName("*.*.example.com")),
        PolicyViolation, "'*'"),
    Bad("duplicate-dns", lambda: server_csr_with(x509.DNSName("a.example.com"),
                                                  x509.DNSName("a.example.com")),
        PolicyViolation, "DNS:a.example.com twice"),
    Bad("duplicate-dns-case", lambda: server_csr_with(x509.DNSName("A.example.com"),
                                                       x509.DNSName("a.EXAMPLE.com")),
        PolicyViolation, "DNS:a.example.com twice"),
    Bad("duplicate-ip", lambda: server_csr_with(x509.IPAddress(ipaddress.ip_address("::1")),
                                                 x509.IPAddress(ipaddress.ip_address("::1"))),
        PolicyViolation, "IP:::1 twice"),
    Bad("email-no-at", lambda: make_csr("bob", sans=[x509.RFC822Name("bob.example.com")]),
        PolicyViolation, "not a valid e-mail", "client"),
    Bad("email-two-ats", lambda: make_csr(
        "bob", sans=[unchecked(x509.RFC822Name, "a@b@example.com")]),
        PolicyViolation, "not a valid e-mail", "client"),
    Bad("email-empty-local", lambda: make_csr("bob", sans=[x509.RFC822Name("@example.com")]),
        PolicyViolation, "not a valid e-mail", "client"),
    Bad("email-bad-domain", lambda: make_csr("bob", sans=[x509.RFC822Name("bob@exa_mple.com")]),
        PolicyViolation, "not a valid host name", "client"),
    Bad("email-single-label-domain", lambda: make_csr(
        "bob", sans=[x509.RFC822Name("bob@localhost")]), PolicyViolation, "single label",
        "client"),
    Bad("email-wildcard-domain", lambda: make_csr(
        "bob", sans=[x509.RFC822Name("bob@*.example.com")]), PolicyViolation,
        "wildcard", "client"),
    Bad("email-domain-only", lambda: make_csr("bob", sans=[x509.RFC822Name("example.com")]),
        PolicyViolation, "not a valid e-mail", "client"),
    Bad("uri-for-client", lambda: make_csr("bob", sans=[
        x509.UniformResourceIdentifier("urn:x:y")]), PolicyViolation, "URI:urn:x:y", "client"),
    Bad("other-name", lambda: server_csr_with(x509.OtherName(
        x509.ObjectIdentifier("1.3.6.1.4.1.311.20.2.3"), b"\x0c\x03a@b")), PolicyViolation,
        "OtherName"),
    Bad("directory-name", lambda: server_csr_with(x509.DirectoryName(x509.Name(
        [x509.NameAttribute(NameOID.COMMON_NAME, "x")]))), PolicyViolation, "DirectoryName"),
    Bad("registered-id", lambda: server_csr_with(x509.RegisteredID(
        x509.ObjectIdentifier("1.2.3.4"))), PolicyViolation, "RID:1.2.3.4"),
    # Finding 8: names that hide characters.
    Bad("cn-bidi-override", lambda: csr_with_subject([cn("gpj.\u202eexe.example.com")]),
        PolicyViolation, "U+202E"),
    Bad("cn-zero-width-space", lambda: csr_with_subject([cn("ad\u200bmin")]),
        PolicyViolation, "U+200B"),
    Bad("o-zero-width-joiner", lambda: csr_with_subject(
        [x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Ex\u200dample"), cn("ok.example.com")]),
        PolicyViolation, "U+200D"),
    Bad("cn-no-break-space", lambda: csr_with_subject([cn("a\u00a0b")]), PolicyViolation,
        "U+00A0"),
    Bad("cn-hangul-filler", lambda: csr_with_subject([cn("a\u3164b")]), PolicyViolation,
        "U+3164"),
    Bad("cn-bom", lambda: csr_with_subject([cn("\ufeffadmin")]), PolicyViolation, "U+FEFF"),
]
IDS = [case.id for case in BAD]


def assert_one_clear_line(message: str, says: str) -> None:
    """A message fit to show a person: one short line that says what is wrong."""
    assert isinstance(message, str) and 10 < len(message) < 300, message
    assert "\n" not in message and "\r" not in message, message
    assert "Traceback" not in message and "ParseError {" not in message, message
    assert says.lower() in message.lower(), message


@pytest.mark.parametrize("case", BAD, ids=IDS)
def test_service_refuses_with_one_clear_error_and_writes_nothing(app, root_ca, instance, case):
    data = case.make()
    before = row_counts(instance)
    with pytest.raises(PortalError) as raised:
        issuance.issue_from_csr(data, case.profile, actor="test")
    assert type(raised.value) is case.error
    assert_one_clear_line(raised.value.message, case.says)
    assert "-----" not in raised.value.message and "MII" not in raised.value.message  # no echo
    assert row_counts(instance) == before


@pytest.mark.parametrize("case", BAD, ids=IDS)
def test_cli_refuses_with_one_line_on_stderr_and_writes_nothing(runner, root_ca, instance,
                                                                tmp_path, case):
    path = tmp_path / "request.csr"
    path.write_bytes(case.make())
    before = row_counts(instance)
    result = runner.invoke(args=["cert", "issue", "--csr", str(path), "--profile", case.profile])
    assert result.exit_code == 1, (result.output, result.exception)
    assert isinstance(result.exception, SystemExit)  # refused, not crashed
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("Error: ") and case.says.lower() in lines[0].lower(), lines[0]
    assert result.stdout == ""
    assert row_counts(instance) == before


# The real console script for one case of each way a CSR is refused (the in-process runner
# above covers every case through the same command): its exit status, its one line on stderr.
SCRIPT_CASES = [case for case in BAD if case.id in (
    "broken-signature-der", "garbage", "rsa-1024", "cn-nul", "ip-8-bytes", "dns-san-for-client",
    "cn-bidi-override",
)]


@pytest.mark.parametrize("case", SCRIPT_CASES, ids=[case.id for case in SCRIPT_CASES])
def test_the_console_script_refuses_with_one_line_on_stderr_and_writes_nothing(
        root_ca, instance, tmp_path, case):
    path = tmp_path / "request.csr"
    path.write_bytes(case.make())
    before = row_counts(instance)
    result = run_portal("cert", "issue", "--csr", str(path), "--profile", case.profile)
    stderr = result.stderr.decode("utf-8", "replace")
    assert result.returncode == 1
    assert "Traceback" not in stderr
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, stderr
    assert case.says.lower() in lines[0].lower(), lines[0]
    assert result.stdout == b""
    assert row_counts(instance) == before


def test_cli_missing_csr_file_is_one_line(root_ca, instance, tmp_path):
    before = row_counts(instance)
    result = run_portal("cert", "issue", "--csr", str(tmp_path / "nope.csr"), "--profile",
                        "server")
    lines = result.stderr.decode().strip().splitlines()
    assert result.returncode != 0 and len(lines) == 1 and "cannot read" in lines[0]
    assert row_counts(instance) == before


def test_ca_profile_cannot_be_requested_with_a_csr(app, root_ca, instance):
    before = row_counts(instance)
    csr = make_csr("sub-ca")
    with pytest.raises(InvalidInput) as raised:
        issuance.issue_from_csr(csr, "ca", actor="test")
    assert_one_clear_line(raised.value.message, "unknown profile")
    assert row_counts(instance) == before


def test_unknown_ca_is_not_found_and_writes_nothing(app, root_ca, instance):
    before = row_counts(instance)
    csr = make_csr("www.example.com", sans=[x509.DNSName("www.example.com")])
    with pytest.raises(NotFound) as raised:
        issuance.issue_from_csr(csr, "server", ca_name="nope", actor="test")
    assert_one_clear_line(raised.value.message, "no CA named")
    assert row_counts(instance) == before


def ca_asking_csr(key) -> bytes:
    """A server CSR that asks for CA:TRUE, keyCertSign, cRLSign and extra usages."""
    asks = [
        (x509.BasicConstraints(ca=True, path_length=None), True),
        (x509.KeyUsage(digital_signature=True, content_commitment=True, key_encipherment=True,
                       data_encipherment=True, key_agreement=True, key_cert_sign=True,
                       crl_sign=True, encipher_only=False, decipher_only=False), True),
        (x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CODE_SIGNING, ExtendedKeyUsageOID.SERVER_AUTH,
                                ExtendedKeyUsageOID.OCSP_SIGNING]), False),
        (x509.NameConstraints(permitted_subtrees=[x509.DNSName("example.com")],
                              excluded_subtrees=None), True),
    ]
    return make_csr("svc.example.com", sans=[x509.DNSName("svc.example.com")], key=key,
                    extensions=asks)


def assert_issued_as_plain_server_leaf(certificate: x509.Certificate) -> None:
    """The profile decided every extension, whatever the CSR asked for.

    keyUsage: digitalSignature, plus keyEncipherment for an RSA key (TLS 1.2 RSA key
    transport); nothing else.
    """
    constraints = certificate.extensions.get_extension_for_class(x509.BasicConstraints)
    assert constraints.critical and constraints.value.ca is False
    assert constraints.value.path_length is None
    usage = certificate.extensions.get_extension_for_class(x509.KeyUsage)
    assert usage.critical
    rsa_key = isinstance(certificate.public_key(), rsa.RSAPublicKey)
    assert usage.value == x509.KeyUsage(
        digital_signature=True, content_commitment=False, key_encipherment=rsa_key,
        data_encipherment=False, key_agreement=False, key_cert_sign=False, crl_sign=False,
        encipher_only=False, decipher_only=False)
    eku = certificate.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert list(eku) == [ExtendedKeyUsageOID.SERVER_AUTH]
    with pytest.raises(x509.ExtensionNotFound):
        certificate.extensions.get_extension_for_class(x509.NameConstraints)


@pytest.mark.parametrize("key_kind", ["ec", "rsa"])
def test_csr_asking_for_ca_is_issued_as_a_leaf(app, root_ca, instance, key_kind):
    key = ec.generate_private_key(ec.SECP256R1()) if key_kind == "ec" else \
        rsa.generate_private_key(public_exponent=65537, key_size=2048)
    before = row_counts(instance)
    row = issuance.issue_from_csr(ca_asking_csr(key), "server", actor="test")
    assert_issued_as_plain_server_leaf(certificates.load_x509(row))
    assert row_counts(instance) == {table: count + 1 for table, count in before.items()}


def test_csr_asking_for_ca_is_issued_as_a_leaf_through_the_cli(root_ca, instance, tmp_path):
    path = tmp_path / "ca-asking.csr"
    path.write_bytes(ca_asking_csr(ec.generate_private_key(ec.SECP256R1())))
    result = run_portal("cert", "issue", "--csr", str(path), "--profile", "server")
    assert result.returncode == 0, result.stderr.decode()
    assert_issued_as_plain_server_leaf(x509.load_pem_x509_certificate(result.stdout))


def test_names_are_normalised_not_trusted(app, root_ca, instance):
    csr = make_csr("WWW.Example.COM", sans=[
        x509.DNSName("WWW.Example.COM"), x509.DNSName("api.example.com"),
    ])
    row = issuance.issue_from_csr(csr, "server", actor="test")
    san = certificates.load_x509(row).extensions.get_extension_for_class(
        x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.DNSName) == ["www.example.com", "api.example.com"]
    assert row_counts(instance)["certificate_names"] == 2


def test_a_hundred_sans_is_the_limit_and_is_accepted(app, root_ca, instance):
    names = [x509.DNSName(f"h{i}.example.com") for i in range(100)]
    row = issuance.issue_from_csr(server_csr_with(*names), "server", actor="test")
    san = certificates.load_x509(row).extensions.get_extension_for_class(
        x509.SubjectAlternativeName).value
    assert len(san) == 100
    assert row_counts(instance)["certificate_names"] == 100
