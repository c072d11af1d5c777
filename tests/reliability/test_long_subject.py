"""A CA whose subject is longer than the database column: refused clearly, never a 500."""

from io import BytesIO

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.x509.oid import NameOID
from sqlalchemy import func, select

from portal.ca.authority import create_root_ca
from portal.extensions import db
from portal.models import AuditEvent, CertificateAuthority
from tests.conftest import run_portal
from tests.reliability.conftest import BACKENDS
from tests.web.conftest import ADMIN_PASSWORD, admin, csrf_token, sign_in, web  # noqa: F401

pytestmark = pytest.mark.parametrize("backend", BACKENDS, indirect=True)


@pytest.fixture
def long_subject_ca(tmp_path):
    """A CA certificate whose subject is 1,400 characters as text, and its key, as files."""
    units = [x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, f"{index:02d}" + "u" * 62)
             for index in range(20)]
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Long CA"), *units])
    assert len(name.rfc4514_string()) > 1024
    certificate, key = create_root_ca(name, key_type="ec-p256", days=100)
    cert_pem = certificate.public_bytes(serialization.Encoding.PEM)
    key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    (tmp_path / "long.pem").write_bytes(cert_pem)
    (tmp_path / "long.key").write_bytes(key_pem)
    return tmp_path / "long.pem", tmp_path / "long.key"


def _nothing_written() -> None:
    assert db.session.scalar(select(func.count()).select_from(CertificateAuthority)) == 1
    assert db.session.scalar(select(func.count()).select_from(AuditEvent)
                             .where(AuditEvent.action == "ca.import")) == 0
    db.session.remove()


def test_the_cli_refuses_it_in_one_line(app, root_ca, long_subject_ca):
    db.session.remove()
    cert, key = long_subject_ca
    result = run_portal("ca", "import", "--cert", str(cert), "--key", str(key))
    assert result.returncode == 1
    assert result.stderr.decode().count("\n") == 1, result.stderr.decode()
    assert "subject is 1" in result.stderr.decode() and "at most 1024" in result.stderr.decode()
    _nothing_written()


def test_the_page_refuses_it_with_a_400(app, web, admin, root_ca, long_subject_ca):  # noqa: F811
    assert sign_in(web, "alice", ADMIN_PASSWORD).status_code == 302
    cert, key = long_subject_ca
    response = web.post("/cas/import", data={
        "import-cert": (BytesIO(cert.read_bytes()), "ca.pem"),
        "import-key": (BytesIO(key.read_bytes()), "ca.key"),
        "csrf_token": csrf_token(web, "/cas"),
    }, content_type="multipart/form-data")
    assert response.status_code == 400
    assert "at most 1024" in response.get_data(as_text=True)
    _nothing_written()
