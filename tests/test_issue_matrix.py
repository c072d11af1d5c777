"""Every profile x every CA key type, checked by the real tools: openssl, cryptography, pkilint.

The CAs live in one app per test module and worker (module scope): RSA-3072 and RSA-4096 keys
take seconds to generate, so each CA is made once, when a test first needs it. Every distinct
certificate goes through pkilint exactly once (~0.6 s a call).

The `ca` profile is the intermediate: openssl verifies it under its root, and every leaf it
issues is verified through it, by openssl (-untrusted) and by cryptography's verifier.

cryptography's verifier follows the CA/Browser Forum Baseline Requirements (7.1.3.1): its
permitted issuer key algorithms are RSA and EC P-256/P-384/P-521 (WEBPKI_PERMITTED_SPKI_
ALGORITHMS in cryptography-x509-verification), so it refuses an Ed25519 CA with "Forbidden
public key algorithm" (an Ed25519 *leaf* key is fine; RSA-4096 is fine). For the Ed25519 CA
the tests assert that refusal instead of skipping. Its default client policy also requires a
subjectAltName: the matrix's client certificates carry an e-mail SAN, and a CN-only client
certificate is checked on its own below.
"""

import functools
import itertools
import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID
from cryptography.x509.verification import (
    Criticality,
    ExtensionPolicy,
    PolicyBuilder,
    Store,
    VerificationError,
)

from portal import create_app
from portal.ca.keys import KEY_TYPES
from portal.ca.pem import to_pem
from portal.extensions import db
from portal.services import authorities, certificates, issuance
from tests.conftest import require_program
from tests.pki import make_csr, openssl_verify, pkilint_findings, verify_with_cryptography

LEAF_KEY_TYPES = ("ec-p256", "ec-p384", "ec-p521", "rsa-2048", "rsa-3072", "ed25519")
ISSUERS = ("root", "intermediate")
LEAF_PROFILES = ("server", "client")
# Each CA key type x issuer x profile, with the leaf key type rotating so that every leaf key
# type is issued by several CA key types, for both profiles.
CASES = [
    (ca_key, issuer, profile, LEAF_KEY_TYPES[index % len(LEAF_KEY_TYPES)])
    for index, (ca_key, issuer, profile) in enumerate(
        itertools.product(KEY_TYPES, ISSUERS, LEAF_PROFILES)
    )
]
ED25519_REFUSAL = "Forbidden public key algorithm"


@functools.cache
def leaf_key(key_type: str):
    """One private key per leaf key type per worker (RSA-3072 takes a while to make)."""
    if key_type.startswith("ec-"):
        curve = {"ec-p256": ec.SECP256R1(), "ec-p384": ec.SECP384R1(), "ec-p521": ec.SECP521R1()}
        return ec.generate_private_key(curve[key_type])
    if key_type.startswith("rsa-"):
        return rsa.generate_private_key(public_exponent=65537, key_size=int(key_type[4:]))
    return ed25519.Ed25519PrivateKey.generate()


@dataclass(frozen=True)
class IssuedCA:
    """A CA made for the matrix: its name, certificate, chain (itself first) and PEM files."""

    name: str
    certificate: x509.Certificate
    chain: list[x509.Certificate]
    path: Path


class Matrix:
    """A portal app of its own with CAs made on demand, once each."""

    def __init__(self, app, folder: Path):
        self.app = app
        self.folder = folder
        self._cas: dict[str, IssuedCA] = {}

    def root(self, key_type: str) -> IssuedCA:
        """The root CA with this key type."""
        return self._ca(f"root-{key_type}", key_type, parent=None)

    def intermediate(self, key_type: str) -> IssuedCA:
        """An intermediate with this key type under the root with the same key type."""
        return self._ca(f"int-{key_type}", key_type, parent=self.root(key_type).name)

    def _ca(self, name: str, key_type: str, parent: str | None) -> IssuedCA:
        if name not in self._cas:
            with self.app.app_context():
                row = authorities.create_ca(name, key_type=key_type, parent=parent, actor="test")
                chain = authorities.chain_of(row)
            path = self.folder / f"{name}.pem"
            path.write_bytes(to_pem(chain[0]))
            self._cas[name] = IssuedCA(name, chain[0], chain, path)
        return self._cas[name]

    def issue(self, csr: bytes, profile: str, ca_name: str, label: str):
        """Issue through the service; return the certificate and its PEM file."""
        with self.app.app_context():
            row = issuance.issue_from_csr(csr, profile, ca_name=ca_name, actor="test")
            assert row.status == "issued"
            certificate = certificates.load_x509(row)
        path = self.folder / f"{label}.pem"
        path.write_bytes(to_pem(certificate))
        return certificate, path


@pytest.fixture(scope="module")
def matrix(tmp_path_factory, migrated_db):
    """One app and instance for this module (per xdist worker), CAs made lazily."""
    folder = tmp_path_factory.mktemp("matrix")
    instance = folder / "instance"
    instance.mkdir(mode=0o700)
    shutil.copy(migrated_db, instance / "portal.sqlite3")
    (instance / "ca-secret").write_text("matrix-ca-secret-" + "y" * 32 + "\n")
    with pytest.MonkeyPatch.context() as patch:
        for name in list(os.environ):
            if name.startswith("PORTAL_"):
                patch.delenv(name)
        patch.setenv("PORTAL_INSTANCE", str(instance))
        app = create_app({"TESTING": True})
    yield Matrix(app, folder)
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


def names_for(profile: str, label: str) -> tuple[str, list[x509.GeneralName]]:
    """A common name and SANs fit for the profile."""
    if profile == "server":
        host = f"{label}.test.example.com"
        return host, [x509.DNSName(host)]
    return f"user {label}", [x509.RFC822Name(f"{label}@example.com")]


def extension(certificate: x509.Certificate, kind):
    """An extension of the certificate (raises when it is missing)."""
    return certificate.extensions.get_extension_for_class(kind)


def check_leaf_extensions(certificate: x509.Certificate, issuer: IssuedCA, profile: str):
    """What the profile promises, read back from the certificate."""
    constraints = extension(certificate, x509.BasicConstraints)
    assert constraints.critical and constraints.value.ca is False
    usage = extension(certificate, x509.KeyUsage)
    assert usage.critical
    assert usage.value.digital_signature and not usage.value.key_cert_sign
    rsa_server = isinstance(certificate.public_key(), rsa.RSAPublicKey) and profile == "server"
    assert usage.value.key_encipherment is rsa_server
    wanted = ExtendedKeyUsageOID.SERVER_AUTH if profile == "server" else (
        ExtendedKeyUsageOID.CLIENT_AUTH)
    assert list(extension(certificate, x509.ExtendedKeyUsage).value) == [wanted]
    issuer_ski = extension(issuer.certificate, x509.SubjectKeyIdentifier).value.digest
    assert extension(certificate, x509.AuthorityKeyIdentifier).value.key_identifier == issuer_ski
    assert extension(certificate, x509.SubjectKeyIdentifier).value == (
        x509.SubjectKeyIdentifier.from_public_key(certificate.public_key()))
    crl = extension(certificate, x509.CRLDistributionPoints).value[0].full_name[0].value
    aia = extension(certificate, x509.AuthorityInformationAccess).value[0].access_location.value
    assert crl.startswith("http://") and crl.endswith("/crl.der")
    assert aia.startswith("http://") and aia.endswith("/ca.crt")
    assert certificate.not_valid_after_utc <= issuer.certificate.not_valid_after_utc
    assert certificate.issuer == issuer.certificate.subject


@pytest.mark.parametrize("key_type", KEY_TYPES)
def test_root_and_intermediate_certificates_lint_clean_and_chain(matrix, key_type):
    root = matrix.root(key_type)
    intermediate = matrix.intermediate(key_type)
    assert pkilint_findings(root.path) == ""
    assert pkilint_findings(intermediate.path) == ""
    # The `ca` profile's certificate, the intermediate, verifies as a CA under its root.
    result = openssl_verify(root.path, intermediate.path)
    assert result.returncode == 0, result.stdout + result.stderr
    result = openssl_verify(root.path, root.path)
    assert result.returncode == 0, result.stdout + result.stderr
    for ca, path_length in ((root, None), (intermediate, 0)):
        constraints = extension(ca.certificate, x509.BasicConstraints)
        assert constraints.critical and constraints.value.ca
        assert constraints.value.path_length == path_length
        usage = extension(ca.certificate, x509.KeyUsage)
        assert usage.critical and usage.value.key_cert_sign and usage.value.crl_sign
        assert not usage.value.digital_signature
    assert extension(intermediate.certificate, x509.AuthorityKeyIdentifier).value.key_identifier \
        == extension(root.certificate, x509.SubjectKeyIdentifier).value.digest
    assert intermediate.certificate.not_valid_after_utc <= root.certificate.not_valid_after_utc


@pytest.mark.parametrize(
    ("ca_key_type", "issuer", "profile", "leaf_key_type"), CASES,
    ids=[f"{ca}-{issuer}-{profile}-leaf_{leaf}" for ca, issuer, profile, leaf in CASES],
)
def test_issued_certificate_verifies_and_lints(matrix, ca_key_type, issuer, profile,
                                               leaf_key_type):
    ca = matrix.root(ca_key_type) if issuer == "root" else matrix.intermediate(ca_key_type)
    root = matrix.root(ca_key_type)
    label = f"{ca_key_type}-{issuer}-{profile}-{leaf_key_type}"
    common_name, sans = names_for(profile, label)
    csr = make_csr(common_name, sans=sans, key=leaf_key(leaf_key_type))
    certificate, path = matrix.issue(csr, profile, ca.name, label)

    check_leaf_extensions(certificate, ca, profile)
    untrusted = ["-untrusted", str(ca.path)] if issuer == "intermediate" else []
    purpose = ["-purpose", "sslserver" if profile == "server" else "sslclient"]
    result = openssl_verify(root.path, path, *untrusted, *purpose)
    assert result.returncode == 0, result.stdout + result.stderr
    if ca_key_type == "ed25519":
        # Documented refusal: the verifier permits only RSA and P-256/384/521 issuer keys.
        with pytest.raises(VerificationError, match=ED25519_REFUSAL):
            verify_with_cryptography(certificate, ca.chain, profile=profile)
    else:
        verify_with_cryptography(certificate, ca.chain, profile=profile)
    assert pkilint_findings(path) == ""


def test_client_certificate_without_san_verifies_for_client_use(matrix):
    # A client certificate with only a CN is valid X.509 (RFC 5280 4.2.1.6) and openssl and
    # pkilint accept it; cryptography's default (CA/B Forum) client policy requires a SAN,
    # so it verifies once the policy lets the SAN be absent.
    root = matrix.root("ec-p256")
    certificate, path = matrix.issue(make_csr("Alice Example"), "client", root.name, "cn-only")
    assert pkilint_findings(path) == ""
    result = openssl_verify(root.path, path, "-purpose", "sslclient")
    assert result.returncode == 0, result.stdout + result.stderr
    with pytest.raises(VerificationError, match="2.5.29.17"):  # subjectAltName
        verify_with_cryptography(certificate, root.chain, profile="client")
    policy = ExtensionPolicy.webpki_defaults_ee().may_be_present(
        x509.SubjectAlternativeName, Criticality.AGNOSTIC, None
    )
    verifier = (
        PolicyBuilder()
        .store(Store([root.certificate]))
        .extension_policies(ca_policy=ExtensionPolicy.webpki_defaults_ca(), ee_policy=policy)
        .build_client_verifier()
    )
    verified = verifier.verify(certificate, [])
    assert verified.subjects is None
    assert verified.chain == [certificate, root.certificate]


def openssl_req(folder: Path, name: str, new_key: list[str], subject: str, *extra: str) -> bytes:
    """A CSR made by the real `openssl req`."""
    openssl = require_program("openssl")
    out = folder / f"{name}.csr"
    subprocess.run(
        [openssl, "req", "-new", *new_key, "-nodes", "-keyout", str(folder / f"{name}.key"),
         "-subj", subject, *extra, "-out", str(out)],
        check=True, capture_output=True, timeout=60,
    )
    return out.read_bytes()


@pytest.mark.parametrize(
    ("label", "new_key", "subject", "extra", "profile"),
    [
        ("ec", ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"], "/CN=www.example.org",
         ["-addext", "subjectAltName=DNS:www.example.org,IP:192.0.2.10"], "server"),
        ("rsa", ["-newkey", "rsa:2048"], "/CN=Bob Example/emailAddress=bob@example.org", [],
         "client"),
        ("ed25519", ["-newkey", "ed25519"], "/O=Example/CN=api.example.org", [], "server"),
    ],
)
def test_csr_made_by_openssl_req_is_issued(matrix, tmp_path, label, new_key, subject, extra,
                                           profile):
    csr = openssl_req(tmp_path, label, new_key, subject, *extra)
    root = matrix.root("rsa-2048")
    certificate, path = matrix.issue(csr, profile, root.name, f"openssl-{label}")
    check_leaf_extensions(certificate, root, profile)
    san = extension(certificate, x509.SubjectAlternativeName).value
    if label == "ec":
        assert san.get_values_for_type(x509.DNSName) == ["www.example.org"]
        assert [str(ip) for ip in san.get_values_for_type(x509.IPAddress)] == ["192.0.2.10"]
    elif label == "rsa":
        # The e-mail in the subject becomes the SAN that clients match.
        assert san.get_values_for_type(x509.RFC822Name) == ["bob@example.org"]
    else:
        # A server CSR with only a CN that is a host name gets it as its SAN.
        assert san.get_values_for_type(x509.DNSName) == ["api.example.org"]
    purpose = "sslserver" if profile == "server" else "sslclient"
    result = openssl_verify(root.path, path, "-purpose", purpose)
    assert result.returncode == 0, result.stdout + result.stderr
    verify_with_cryptography(certificate, root.chain, profile=profile)
    assert pkilint_findings(path) == ""
    # The issued certificate holds the key openssl made.
    key = subprocess.run(
        [require_program("openssl"), "pkey", "-in", str(tmp_path / f"{label}.key"), "-pubout"],
        check=True, capture_output=True, timeout=60,
    ).stdout
    assert key == certificate.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
