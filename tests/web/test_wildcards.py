"""Wildcards on every issuance path, linted the CA/B way: service, CLI, API and /issue."""

import re
from datetime import UTC, datetime

import pytest
from cryptography import x509
from cryptography.x509.verification import PolicyBuilder, Store

from portal.ca.pem import to_pem
from portal.errors import PolicyViolation
from portal.extensions import db
from portal.models import Certificate
from portal.services import certificates, issuance, tokens
from tests.pki import (
    CABF_PRIVATE_PKI_FINDINGS,
    cabf_findings,
    make_csr,
    openssl_verify,
    pkix_findings_besides_wildcards,
)
from tests.web.conftest import csrf_token

NAMES = ["*.example.test", "example.test"]
CSR = make_csr("*.example.test", sans=[x509.DNSName(n) for n in NAMES])


def verify_for_host(certificate: x509.Certificate, root: x509.Certificate, host: str):
    """cryptography's verifier accepts the certificate for `host` (raises if not)."""
    verifier = PolicyBuilder().store(Store([root])).time(datetime.now(UTC)) \
        .build_server_verifier(x509.DNSName(host))
    verifier.verify(certificate, [])


def check_wildcard_certificate(certificate: x509.Certificate, root_der: bytes, folder):
    """It carries both names, verifies, and lints clean but for the PKIX wildcard finding."""
    sans = certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert sans.get_values_for_type(x509.DNSName) == NAMES
    root = x509.load_der_x509_certificate(root_der)
    (folder / "ca.pem").write_bytes(to_pem(root))
    (folder / "leaf.pem").write_bytes(to_pem(certificate))
    assert openssl_verify(folder / "ca.pem", folder / "leaf.pem").returncode == 0
    for host in ("www.example.test", "example.test"):  # what the two names cover
        verify_for_host(certificate, root, host)
    # lint_pkix_cert -s WARNING: exactly "pkix.invalid_domain_name_syntax" for *.example.test
    assert pkix_findings_besides_wildcards(folder / "leaf.pem", ["*.example.test"]) == []
    # lint_cabf_serverauth_cert: nothing about the wildcard (its BR 7.1.2.7.12 syntax check
    # passes), only what any private CA's certificate gets
    assert cabf_findings(folder / "leaf.pem") <= CABF_PRIVATE_PKI_FINDINGS


def test_the_issuance_service_signs_a_wildcard(root_ca, tmp_path):
    row = issuance.issue_from_csr(CSR, "server", actor="test")
    check_wildcard_certificate(certificates.load_x509(row), root_ca.certificate_der, tmp_path)


def test_cert_issue_signs_a_wildcard(runner, root_ca, tmp_path):
    (tmp_path / "wild.csr").write_bytes(CSR)
    result = runner.invoke(args=["cert", "issue", "--csr", str(tmp_path / "wild.csr"),
                                 "--profile", "server"])
    assert result.exit_code == 0, result.output
    check_wildcard_certificate(x509.load_pem_x509_certificate(result.stdout_bytes),
                               root_ca.certificate_der, tmp_path)


def test_the_api_signs_a_wildcard(client, admin, root_ca, tmp_path):
    _row, token = tokens.create_token("alice", actor="test")
    reply = client.post("/api/v1/certificates", headers={"Authorization": f"Bearer {token}"},
                        json={"csr": CSR.decode(), "profile": "server"})
    assert reply.status_code == 201, reply.get_json()
    check_wildcard_certificate(x509.load_pem_x509_certificate(reply.get_json()["certificate"].encode()),
                               root_ca.certificate_der, tmp_path)


def test_the_issue_page_signs_a_wildcard(admin_web, root_ca, tmp_path):
    data = {"csr": CSR.decode(), "profile": "server", "ca": "root", "step": "sign",
            "csrf_token": csrf_token(admin_web, "/issue")}
    response = admin_web.post("/issue", data=data)
    assert response.status_code == 302, response.get_data(as_text=True)
    row = db.session.get(Certificate, int(re.fullmatch(
        r"/certificates/(\d+)", response.headers["Location"]).group(1)))
    check_wildcard_certificate(certificates.load_x509(row), root_ca.certificate_der, tmp_path)


@pytest.mark.parametrize("name", ["*.co.uk", "*.github.io"])
def test_a_wildcard_over_a_public_suffix_is_refused_and_nothing_is_written(root_ca, name):
    before = db.session.query(Certificate).count()
    with pytest.raises(PolicyViolation, match="public suffix"):
        issuance.issue_from_csr(make_csr(name, sans=[x509.DNSName(name)]), "server",
                                actor="test")
    assert db.session.query(Certificate).count() == before
