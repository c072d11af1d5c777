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


# What pkilint's PKIX profile still reports for a wildcard: RFC 5280 knows no `*` label, so its
# DomainNameSyntaxValidator calls the name invalid. That one finding per wildcard is expected;
# the pre-signing lint waives exactly it, the CA/B way (portal/ca/pkilint_values.py).
def wildcard_pkix_finding(name: str) -> str:
    """The PKIX profile's one finding for a wildcard dNSName, as lint_pkix_cert prints it."""
    return f'pkix.invalid_domain_name_syntax (ERROR): Invalid domain name syntax: "{name}"'


def pkix_findings_besides_wildcards(path: Path, wildcards: list[str]) -> list[str]:
    """lint_pkix_cert's finding lines, less exactly one expected finding per wildcard."""
    lines = [line.strip() for line in pkilint_findings(path).splitlines()
             if line.startswith(" ")]
    for name in wildcards:
        assert wildcard_pkix_finding(name) in lines, lines
        lines.remove(wildcard_pkix_finding(name))
    return lines


# The CA/B findings a private CA's server certificate has by design (no certificatePolicies,
# internal names, a subject CN, an SKI that RFC 5280 asks for, up to 825 days): none of them is
# about a name's syntax or a wildcard.
CABF_PRIVATE_PKI_FINDINGS = frozenset({
    "cabf.serverauth.subscriber.certificate_policies_extension_absent",
    "cabf.internal_domain_name",
    "cabf.serverauth.dv.common_name_attribute_present",
    "cabf.serverauth.subscriber.subject_key_identifier_extension_present",
    "cabf.serverauth.certificate_validity_period_exceeds_200_days",
})


def cabf_findings(path: Path) -> set[str]:
    """The finding codes of pkilint's CA/B profile (`lint_cabf_serverauth_cert -t DV-FINAL`)."""
    command = [require_program("lint_cabf_serverauth_cert"), "lint", "-t",
               "DV-FINAL-CERTIFICATE", "-s", "WARNING", str(path)]
    result = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert not result.stderr.strip(), result.stderr
    return {line.split()[0] for line in result.stdout.splitlines() if line.startswith(" ")}
