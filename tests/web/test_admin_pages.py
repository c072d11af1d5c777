"""Admin pages: every one renders; CAs are created, imported and downloaded; users managed."""

import re
from io import BytesIO

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from sqlalchemy import select

from portal.ca.authority import ca_subject, create_root_ca
from portal.extensions import db
from portal.models import CertificateAuthority, User
from portal.services import cache
from tests.web.conftest import csrf_token, sign_in


def test_every_page_renders(admin_web, root_ca):
    for path, heading in [
        ("/", "Dashboard"), ("/certificates", "Certificates"),
        ("/issue", "Issue a certificate from a CSR"), ("/generate", "Generate a key"),
        ("/cas", "Certificate authorities"), (f"/cas/{root_ca.id}", root_ca.name),
        ("/users", "Users"), ("/audit", "Audit log"), ("/account", "Your certificates"),
    ]:
        response = admin_web.get(path)
        assert response.status_code == 200, path
        assert re.search(rf"<h1>\s*{re.escape(heading)}", response.get_data(as_text=True)), path


def test_dashboard_shows_the_ca_and_warns_about_an_unusable_key(admin_web, root_ca, app):
    body = admin_web.get("/").get_data(as_text=True)
    assert root_ca.fingerprint_sha256 in body and "key ok" in body
    assert "Attention." not in body
    app.config["PORTAL_CA_SECRET"] = "a-different-secret-that-is-long-enough"
    cache.clear()
    body = admin_web.get("/").get_data(as_text=True)
    assert "Attention." in body and "key unusable" in body


def test_create_root_and_intermediate_then_download(admin_web, root_ca):
    response = admin_web.post("/cas/create", data={
        "create-name": "issuing", "create-parent": "root", "create-key_type": "ec-p384",
        "create-common_name": "Issuing CA 1", "csrf_token": csrf_token(admin_web, "/cas"),
    })
    assert response.status_code == 302, response.get_data(as_text=True)[-1500:]
    ca = db.session.scalar(select(CertificateAuthority).filter_by(name="issuing"))
    assert ca.parent_id == root_ca.id and ca.key_type == "ec-p384"
    pem = admin_web.get(f"/cas/{ca.id}/certificate.pem")
    certificate = x509.load_pem_x509_certificate(pem.data)
    assert certificate.subject.rfc4514_string() == "CN=Issuing CA 1"
    der = admin_web.get(f"/cas/{ca.id}/certificate.der")
    assert der.data == ca.certificate_der
    duplicate = admin_web.post("/cas/create", data={
        "create-name": "issuing", "create-parent": "", "create-key_type": "ec-p256",
        "csrf_token": csrf_token(admin_web, "/cas"),
    })
    assert duplicate.status_code == 409
    assert re.search(r'name="create-name"[^>]*>\s*<p class="error" role="alert">a CA named',
                     duplicate.get_data(as_text=True))


def test_import_a_ca(admin_web, root_ca):
    certificate, key = create_root_ca(ca_subject("Outside CA"), key_type="ec-p256", days=100)
    key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.BestAvailableEncryption(b"import-pass"))
    data = {
        "import-name": "outside", "import-key_password": "import-pass",
        "import-cert": (BytesIO(certificate.public_bytes(serialization.Encoding.PEM)), "ca.pem"),
        "import-key": (BytesIO(key_pem), "ca.key"),
        "csrf_token": csrf_token(admin_web, "/cas"),
    }
    response = admin_web.post("/cas/import", data=data, content_type="multipart/form-data")
    assert response.status_code == 302, response.get_data(as_text=True)[-1500:]
    assert db.session.scalar(select(CertificateAuthority.id).filter_by(name="outside"))
    wrong = admin_web.post("/cas/import", data={
        "import-cert": (BytesIO(certificate.public_bytes(serialization.Encoding.PEM)), "c.pem"),
        "import-key": (BytesIO(key_pem), "ca.key"), "import-key_password": "nope",
        "csrf_token": csrf_token(admin_web, "/cas"),
    }, content_type="multipart/form-data")
    assert wrong.status_code == 400
    assert "wrong password for the key" in wrong.get_data(as_text=True)


def test_users_created_promoted_disabled_and_reset(admin_web, admin, app):
    created = admin_web.post("/users", data={
        "username": "dave", "role": "user", "email": "dave@example.com",
        "csrf_token": csrf_token(admin_web, "/users"),
    })
    body = created.get_data(as_text=True)
    assert created.status_code == 200 and "Shown once" in body
    password = re.search(r'id="shown-password">([^<]+)<', body).group(1)
    with admin_web.session_transaction() as session:
        assert password not in repr(dict(session))  # rendered, never flashed into the cookie
    dave = db.session.scalar(select(User).filter_by(username="dave"))
    token = csrf_token(admin_web, "/users")
    admin_web.post(f"/users/{dave.id}/role", data={"role": "admin", "csrf_token": token})
    db.session.refresh(dave)
    assert dave.role == "admin"
    admin_web.post(f"/users/{dave.id}/active", data={"active": "0", "csrf_token": token})
    db.session.refresh(dave)
    assert not dave.active
    reset = admin_web.post(f"/users/{dave.id}/password", data={"csrf_token": token})
    new_password = re.search(r'id="shown-password">([^<]+)<', reset.get_data(as_text=True))
    assert new_password and new_password.group(1) != password
    admin_web.post(f"/users/{dave.id}/active", data={"active": "1", "csrf_token": token})
    browser = app.test_client()  # another person's browser
    browser.environ_base["HTTP_REFERER"] = "https://localhost/"
    assert sign_in(browser, "dave", new_password.group(1)).status_code == 302


def test_the_last_admin_cannot_be_demoted_or_disabled(admin_web, admin):
    token = csrf_token(admin_web, "/users")
    response = admin_web.post(f"/users/{admin.id}/active", data={"active": "0",
                                                                "csrf_token": token})
    assert response.status_code == 302
    follow = admin_web.get("/users").get_data(as_text=True)
    assert "cannot disable the last active admin" in follow
    db.session.refresh(admin)
    assert admin.active and admin.role == "admin"
    admin_web.post(f"/users/{admin.id}/role", data={"role": "user", "csrf_token": token})
    assert "cannot demote the last active admin" in admin_web.get("/users").get_data(
        as_text=True)
    db.session.refresh(admin)
    assert admin.role == "admin"


def test_audit_log_search(admin_web, root_ca):
    body = admin_web.get("/audit?q=ca.create").get_data(as_text=True)
    assert "ca.create_root" in body
    by_area = admin_web.get("/audit?action=ca.")
    assert by_area.status_code == 200
    assert "ca.create_root" in by_area.get_data(as_text=True)  # the page lists the CA events
    assert "auth.login" not in by_area.get_data(as_text=True)  # and only those
    assert "auth.login" in admin_web.get("/audit?q=alice").get_data(as_text=True)
    assert "No event matches." in admin_web.get("/audit?q=nobody-at-all").get_data(as_text=True)
