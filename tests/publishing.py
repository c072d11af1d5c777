"""Helpers for the publishing tests: issuing leaves, fetching what the portal serves."""

import ipaddress
import subprocess
from pathlib import Path
from urllib.parse import urlsplit

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from portal.services import issuance
from tests.conftest import require_program
from tests.pki import make_csr


def issue(profile: str = "client", *, ca: str | None = None, name: str = "alice", key=None):
    """Issue a leaf (client: CN; server: an IP SAN 127.0.0.1) and return (row, x509, key)."""
    key = key or ec.generate_private_key(ec.SECP256R1())
    if profile == "server":
        csr = make_csr(None, sans=[x509.IPAddress(ipaddress.ip_address("127.0.0.1"))], key=key)
    else:
        csr = make_csr(name, key=key)
    row = issuance.issue_from_csr(csr, profile, ca_name=ca, actor="test")
    return row, x509.load_der_x509_certificate(row.der), key


def key_pem(key) -> bytes:
    """An unencrypted PKCS#8 PEM private key."""
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def url_path(certificate: x509.Certificate, kind: str) -> str:
    """The path of a certificate's CRL distribution point ('crl') or caIssuers URL ('ca')."""
    if kind == "crl":
        points = certificate.extensions.get_extension_for_class(x509.CRLDistributionPoints).value
        url = points[0].full_name[0].value
    else:
        access = certificate.extensions.get_extension_for_class(
            x509.AuthorityInformationAccess).value
        url = access[0].access_location.value
    return urlsplit(url).path


def fetch_crl(client, path: str = "/crl.der") -> x509.CertificateRevocationList:
    """GET a CRL from the app and parse it (DER or PEM by the path)."""
    response = client.get(path)
    assert response.status_code == 200, response.get_data(as_text=True)
    if path.endswith(".pem"):
        return x509.load_pem_x509_crl(response.data)
    return x509.load_der_x509_crl(response.data)


def crl_number(crl: x509.CertificateRevocationList) -> int:
    """The CRL number extension's value."""
    return crl.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number


def openssl(*args: str | Path) -> subprocess.CompletedProcess:
    """Run openssl with arguments; return the completed process (text)."""
    return subprocess.run([require_program("openssl"), *map(str, args)],
                          capture_output=True, text=True, timeout=60)
