"""Helpers that check certificates with the real tools: openssl, pkilint, cryptography."""

import subprocess
from datetime import UTC, datetime
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID

from tests.conftest import require_program


def pem(certificate: x509.Certificate) -> bytes:
    """PEM bytes of a certificate."""
    return certificate.public_bytes(serialization.Encoding.PEM)


def make_csr(
    common_name: str | None = "test",
    *,
    sans: list[x509.GeneralName] | None = None,
    key=None,
    extensions: list[tuple[x509.ExtensionType, bool]] = (),
) -> bytes:
    """A PEM CSR signed with `key` (a new EC P-256 key by default)."""
    key = key or ec.generate_private_key(ec.SECP256R1())
    names = [x509.NameAttribute(NameOID.COMMON_NAME, common_name)] if common_name else []
    builder = x509.CertificateSigningRequestBuilder().subject_name(x509.Name(names))
    if sans:
        builder = builder.add_extension(x509.SubjectAlternativeName(sans), critical=False)
    for value, critical in extensions:
        builder = builder.add_extension(value, critical=critical)
    algorithm = None if not isinstance(key, ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey) \
        else hashes.SHA256()
    return builder.sign(key, algorithm).public_bytes(serialization.Encoding.PEM)


def pkilint_findings(path: Path, *, crl: bool = False) -> str:
    """pkilint's findings at WARNING or above ('' when clean); a parse failure is a finding."""
    if crl:
        command = [require_program("lint_crl"), "lint", "-t", "CRL", "-p", "PKIX", str(path)]
    else:
        command = [require_program("lint_pkix_cert"), "lint", "-s", "WARNING", str(path)]
    result = subprocess.run(command, capture_output=True, text=True, timeout=120)
    findings = (result.stdout + result.stderr).strip()
    if result.returncode != 0 and not findings:
        findings = f"pkilint exited {result.returncode}"
    return findings


def openssl_verify(ca_file: Path, cert_file: Path, *extra: str) -> subprocess.CompletedProcess:
    """Run `openssl verify -CAfile` and return the completed process."""
    return subprocess.run(
        [require_program("openssl"), "verify", "-CAfile", str(ca_file), *extra, str(cert_file)],
        capture_output=True, text=True, timeout=60,
    )


def verify_with_cryptography(
    leaf: x509.Certificate, chain: list[x509.Certificate], *, profile: str
) -> None:
    """Verify with cryptography's own verifier for the usage of the profile (raises if not)."""
    from cryptography.x509.verification import PolicyBuilder, Store

    root = chain[-1]
    intermediates = chain[:-1]
    builder = PolicyBuilder().store(Store([root])).time(datetime.now(UTC))
    if profile == "server":
        san = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        dns = san.get_values_for_type(x509.DNSName)
        subject = x509.DNSName(dns[0]) if dns else x509.IPAddress(
            san.get_values_for_type(x509.IPAddress)[0]
        )
        builder.build_server_verifier(subject).verify(leaf, intermediates)
    else:
        builder.build_client_verifier().verify(leaf, intermediates)


def ocsp_findings(path: Path) -> str:
    """pkilint's findings on an OCSP response at WARNING or above ('' when clean)."""
    command = [require_program("lint_ocsp_response"), "lint", "-s", "WARNING", str(path)]
    result = subprocess.run(command, capture_output=True, text=True, timeout=120)
    findings = (result.stdout + result.stderr).strip()
    if result.returncode != 0 and not findings:
        findings = f"pkilint exited {result.returncode}"
    return findings
