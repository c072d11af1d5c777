"""Generating a key for someone: the .p12 is the response, and the key is stored nowhere."""

import re

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.serialization import pkcs12
from sqlalchemy import select

from portal.extensions import db
from portal.models import AuditEvent, Certificate
from tests.ca.test_pkcs12 import openssl_info, pk12util_import
from tests.keyscan import places_holding_key
from tests.web.conftest import csrf_token

PASSWORD = "Tr0ub4dor&3-long"


def _generate(client, **fields):
    data = {"common_name": "Jane Doe", "email": "jane@example.com", "profile": "client",
            "key_type": "ec-p256", "password": PASSWORD, "compatibility": "compatible",
            "output": "p12", "ca": "root", **fields}
    data["csrf_token"] = csrf_token(client, "/generate")
    return client.post("/generate", data=data)


@pytest.mark.parametrize("compatibility", ["compatible", "modern"])
def test_the_response_is_a_p12_that_opens_and_imports(admin_web, tmp_path, compatibility):
    response = _generate(admin_web, compatibility=compatibility)
    assert response.status_code == 200, response.get_data(as_text=True)[-2000:]
    assert response.headers["Cache-Control"] == "no-store"
    assert response.mimetype == "application/x-pkcs12"
    disposition = response.headers["Content-Disposition"]
    assert re.fullmatch(r'attachment; filename="Jane_Doe-[0-9a-f]{8}\.p12"', disposition)
    path = tmp_path / "jane.p12"
    path.write_bytes(response.data)
    info = openssl_info(path, PASSWORD)
    assert info.returncode == 0, info.stderr
    assert openssl_info(path, PASSWORD + "x").returncode != 0
    imported = pk12util_import(path, PASSWORD, tmp_path / "nss")
    assert imported.returncode == 0, imported.stdout + imported.stderr
    assert pk12util_import(path, "wrong-password", tmp_path / "nss2").returncode != 0
    bundle = pkcs12.load_pkcs12(response.data, PASSWORD.encode())
    certificate = bundle.cert.certificate
    sans = certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert sans.get_values_for_type(x509.RFC822Name) == ["jane@example.com"]
    assert len(bundle.additional_certs) == 1  # the CA chain
    row = db.session.scalar(select(Certificate).filter_by(serial=response.headers[
        "X-Certificate-Serial"]))
    assert row.status == "issued" and row.profile == "client"


@pytest.mark.parametrize("key_type", ["rsa-2048", "ec-p256"])
@pytest.mark.parametrize("output", ["p12", "pem"])
def test_the_key_is_nowhere_in_the_database_or_the_instance_folder(admin_web, app, instance,
                                                                   key_type, output):
    fields = {"profile": "server", "common_name": "api.example.com", "email": "",
              "sans": "DNS:api.example.com"} if output == "pem" else {}
    response = _generate(admin_web, key_type=key_type, output=output, **fields)
    assert response.status_code == 200, response.get_data(as_text=True)[-2000:]
    if output == "p12":
        key, p12 = pkcs12.load_pkcs12(response.data, PASSWORD.encode()).key, response.data
    else:
        key, p12 = serialization.load_pem_private_key(response.data, PASSWORD.encode()), None
    db.session.remove()
    assert places_holding_key(key, engine=db.engine, folders=[instance], p12=p12,
                              password=PASSWORD) == []
    with admin_web.session_transaction() as session:
        assert PASSWORD not in repr(dict(session))


def test_pem_for_servers_holds_the_encrypted_key_and_the_chain(admin_web):
    response = _generate(admin_web, profile="server", common_name="api.example.com",
                         email="", sans="DNS:api.example.com\nIP:192.0.2.7", output="pem")
    assert response.status_code == 200, response.get_data(as_text=True)[-2000:]
    assert response.headers["Cache-Control"] == "no-store"
    assert response.data.startswith(b"-----BEGIN ENCRYPTED PRIVATE KEY-----")
    certificates = x509.load_pem_x509_certificates(response.data)
    assert len(certificates) == 2
    serialization.load_pem_private_key(response.data, password=PASSWORD.encode())


def test_an_empty_password_is_refused_and_nothing_is_issued(admin_web):
    response = _generate(admin_web, password="")
    assert response.status_code == 400
    assert "A password is required." in response.get_data(as_text=True)
    assert db.session.scalar(select(Certificate.id)) is None


def test_a_policy_error_lands_on_its_field(admin_web):
    response = _generate(admin_web, profile="server", common_name="not a host name", email="")
    body = response.get_data(as_text=True)
    assert response.status_code == 400
    assert re.search(r'name="sans"[^>]*>[^<]*</textarea>\s*<p class="error" role="alert">'
                     r"[^<]*DNS name", body)
    assert db.session.scalar(select(Certificate.id)) is None


def test_generation_is_audited_without_the_password(admin_web):
    _generate(admin_web)
    events = db.session.scalars(select(AuditEvent).filter_by(action="key.generate")).all()
    assert len(events) == 1 and events[0].actor == "web:alice"
    assert PASSWORD not in events[0].detail


def test_the_download_names_the_new_certificates_page(admin_web):
    """The page's script links the new certificate from this header (downloads.js)."""
    response = _generate(admin_web)
    assert response.status_code == 200, response.get_data(as_text=True)[-2000:]
    row = db.session.scalars(select(Certificate).where(
        Certificate.serial == response.headers["X-Certificate-Serial"])).one()
    assert response.headers["X-Certificate-Location"] == f"/certificates/{row.id}"
