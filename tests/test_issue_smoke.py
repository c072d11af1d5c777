from cryptography import x509

from portal.ca.pem import to_pem
from portal.services import certificates, issuance
from tests.pki import make_csr, openssl_verify, pkilint_findings, verify_with_cryptography


def test_server_certificate_from_csr_verifies_and_lints(root_ca, tmp_path):
    csr = make_csr("www.example.com", sans=[x509.DNSName("www.example.com")])
    row = issuance.issue_from_csr(csr, "server", actor="test")
    cert = certificates.load_x509(row)
    ca_cert = x509.load_der_x509_certificate(root_ca.certificate_der)
    (tmp_path / "ca.pem").write_bytes(to_pem(ca_cert))
    (tmp_path / "leaf.pem").write_bytes(to_pem(cert))
    assert openssl_verify(tmp_path / "ca.pem", tmp_path / "leaf.pem").returncode == 0
    assert pkilint_findings(tmp_path / "leaf.pem") == ""
    verify_with_cryptography(cert, [ca_cert], profile="server")
    assert row.status == "issued"
