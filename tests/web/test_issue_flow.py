"""Issuing from a CSR in the browser: preview first, then sign, then download; and revoking."""

import re

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from sqlalchemy import func, select

from portal.extensions import db
from portal.models import Certificate
from tests.pki import make_csr
from tests.web.conftest import csrf_token

CSR = make_csr("www.example.com", sans=[x509.DNSName("www.example.com"),
                                        x509.DNSName("api.example.com")])


def _post_issue(client, step, csr=CSR, **fields):
    data = {"csr": csr.decode(), "profile": "server", "ca": "root", "step": step, **fields}
    data["csrf_token"] = csrf_token(client, "/issue")
    return client.post("/issue", data=data)


def _count():
    return db.session.scalar(select(func.count()).select_from(Certificate))


def test_preview_shows_the_request_and_signs_nothing(admin_web):
    response = _post_issue(admin_web, "preview")
    body = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "What will be signed" in body
    assert "CN=www.example.com" in body
    assert "DNS:www.example.com" in body and "DNS:api.example.com" in body
    assert "ec-p256" in body
    assert 'value="sign"' in body
    assert _count() == 0


def test_sign_then_download_every_format(admin_web):
    response = _post_issue(admin_web, "sign")
    assert response.status_code == 302
    match = re.fullmatch(r"/certificates/(\d+)", response.headers["Location"])
    detail = admin_web.get(response.headers["Location"]).get_data(as_text=True)
    assert "Issued certificate" in detail and "www.example.com" in detail
    row = db.session.get(Certificate, int(match.group(1)))
    assert row.status == "issued" and row.profile == "server"
    pem = admin_web.get(f"/certificates/{row.id}/pem")
    der = admin_web.get(f"/certificates/{row.id}/der")
    chain = admin_web.get(f"/certificates/{row.id}/chain")
    certificate = x509.load_pem_x509_certificate(pem.data)
    assert certificate.public_bytes(serialization.Encoding.DER) == der.data == row.der
    assert len(x509.load_pem_x509_certificates(chain.data)) == 2
    assert pem.headers["Content-Disposition"] == 'attachment; filename="www.example.com.pem"'


def test_an_uploaded_der_csr_is_previewed_as_pem(admin_web):
    from io import BytesIO

    der = x509.load_pem_x509_csr(CSR).public_bytes(serialization.Encoding.DER)
    response = admin_web.post("/issue", data={
        "csr": "", "profile": "server", "ca": "root", "step": "preview",
        "csrf_token": csrf_token(admin_web, "/issue"),
        "csr_file": (BytesIO(der), "request.der"),
    }, content_type="multipart/form-data")
    body = response.get_data(as_text=True)
    assert response.status_code == 200 and "What will be signed" in body
    assert "-----BEGIN CERTIFICATE REQUEST-----" in body


def test_policy_errors_show_on_the_field_they_concern(admin_web):
    client_csr = make_csr("www.example.com", sans=[x509.RFC822Name("a@example.com")])
    response = _post_issue(admin_web, "preview", csr=client_csr)
    body = response.get_data(as_text=True)
    assert response.status_code == 400
    assert re.search(r'name="csr"[^>]*>[^<]*</textarea>\s*<p class="error" role="alert">'
                     r"[^<]*RFC822Name", body)
    garbage = _post_issue(admin_web, "sign", csr=b"-----BEGIN CERTIFICATE REQUEST-----\nxx")
    assert garbage.status_code == 400
    assert re.search(r'name="csr"[^>]*>[^<]*</textarea>\s*<p class="error" role="alert">\w',
                     garbage.get_data(as_text=True))
    assert _count() == 0


def test_revoke_needs_the_confirmation_and_shows_in_the_list(admin_web):
    location = _post_issue(admin_web, "sign").headers["Location"]
    certificate_id = int(location.rsplit("/", 1)[1])
    token = csrf_token(admin_web, location)
    unconfirmed = admin_web.post(f"{location}/revoke",
                                 data={"reason": "keyCompromise", "csrf_token": token})
    assert unconfirmed.status_code == 400
    assert "Tick the box" in unconfirmed.get_data(as_text=True)
    assert db.session.get(Certificate, certificate_id).status == "issued"
    revoked = admin_web.post(f"{location}/revoke", data={
        "reason": "keyCompromise", "confirm": "y", "csrf_token": token})
    assert revoked.status_code == 302
    db.session.expire_all()
    row = db.session.get(Certificate, certificate_id)
    assert row.status == "revoked" and row.revocation_reason == "keyCompromise"
    listing = admin_web.get("/certificates?status=revoked").get_data(as_text=True)
    assert "www.example.com" in listing and "keyCompromise" in listing
    again = admin_web.post(f"{location}/revoke", data={
        "reason": "superseded", "confirm": "y", "csrf_token": token})
    assert again.status_code == 409


def test_signing_parses_and_verifies_the_csr_once(admin_web, monkeypatch):
    """The preview's checks are the ones the signing step uses: not a second parse."""
    from portal.ca import csr as csr_module

    parsed = []
    parse = csr_module._parse
    monkeypatch.setattr(csr_module, "_parse", lambda data: parsed.append(data) or parse(data))
    response = _post_issue(admin_web, "sign")
    assert response.status_code == 302
    assert len(parsed) == 1
