"""Issue similar (renew) for admins: same names and profile, a new CSR or a new key."""

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import pkcs12
from sqlalchemy import func, select

from portal.extensions import db
from portal.models import AuditEvent, Certificate
from portal.services import certificates
from tests.pki import make_csr
from tests.web.conftest import USER_PASSWORD, post, sign_in

NAMES = {x509.DNSName("api.example.com"), x509.DNSName("www.example.com")}


def _old(client) -> Certificate:
    """A server certificate for api.example.com and www.example.com, made on the generate page."""
    response = post(client, "/generate", {
        "common_name": "api.example.com", "sans": "DNS:api.example.com\nDNS:www.example.com",
        "profile": "server", "key_type": "ec-p256", "password": "old-password-1",
        "compatibility": "modern", "output": "pem", "ca": "root",
    })
    assert response.status_code == 200, response.get_data(as_text=True)[-1500:]
    return db.session.scalars(select(Certificate).where(
        Certificate.serial == response.headers["X-Certificate-Serial"])).one()


def _names(row: Certificate) -> set:
    certificate = certificates.load_x509(row)
    return set(certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName).value)


def _reissue(client, row, **fields):
    return post(client, f"/certificates/{row.id}/reissue", fields,
                token_from=f"/certificates/{row.id}/reissue")


def test_from_a_new_csr_the_names_are_the_old_ones_and_the_old_stays_valid(admin_web):
    old = _old(admin_web)
    key = ec.generate_private_key(ec.SECP256R1())
    csr = make_csr("evil.example.net", sans=[x509.DNSName("evil.example.net")], key=key)
    response = _reissue(admin_web, old, method="csr", csr=csr.decode())
    assert response.status_code == 302, response.get_data(as_text=True)[-1500:]
    new = db.session.get(Certificate, int(response.headers["Location"].rsplit("/", 1)[1]))
    assert new.id != old.id and new.profile == "server" and new.ca_id == old.ca_id
    assert _names(new) == NAMES
    certificate = certificates.load_x509(new)
    assert certificate.subject.rfc4514_string() == "CN=api.example.com"
    assert certificate.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo) == \
        key.public_key().public_bytes(serialization.Encoding.DER,
                                      serialization.PublicFormat.SubjectPublicKeyInfo)
    db.session.refresh(old)
    assert old.status == "issued"
    actions = {(event.action, event.serial) for event in db.session.scalars(select(AuditEvent))}
    assert ("certificate.renew", old.serial) in actions
    assert ("certificate.renewal", new.serial) in actions
    page = admin_web.get(f"/certificates/{new.id}").get_data(as_text=True)
    assert "which stays valid" in page


def test_the_old_one_is_revoked_as_superseded_when_asked(admin_web):
    old = _old(admin_web)
    response = _reissue(admin_web, old, method="csr", csr=make_csr("x").decode(), revoke_old="y")
    assert response.status_code == 302
    db.session.refresh(old)
    assert old.status == "revoked" and old.revocation_reason == "superseded"
    timeline = admin_web.get(f"/certificates/{old.id}").get_data(as_text=True)
    assert "Renewed by a new certificate." in timeline and "Revoked." in timeline


def test_with_a_new_key_the_file_holds_the_old_names(admin_web):
    old = _old(admin_web)
    response = _reissue(admin_web, old, method="generate", key_type="ec-p256",
                        password="new-password-1", compatibility="modern", output="p12")
    assert response.status_code == 200, response.get_data(as_text=True)[-1500:]
    assert response.headers["Cache-Control"] == "no-store"
    bundle = pkcs12.load_pkcs12(response.data, b"new-password-1")
    certificate = bundle.cert.certificate
    assert set(certificate.extensions.get_extension_for_class(
        x509.SubjectAlternativeName).value) == NAMES
    new = db.session.scalars(select(Certificate).where(
        Certificate.serial == response.headers["X-Certificate-Serial"])).one()
    assert response.headers["X-Certificate-Location"] == f"/certificates/{new.id}"
    db.session.refresh(old)
    assert old.status == "issued"


def test_a_bad_csr_or_password_is_a_400_and_issues_nothing(admin_web):
    old = _old(admin_web)
    count = db.session.scalar(select(func.count()).select_from(Certificate))
    response = _reissue(admin_web, old, method="csr", csr="-----BEGIN CERTIFICATE REQUEST-----")
    assert response.status_code == 400
    assert 'class="error"' in response.get_data(as_text=True)
    response = _reissue(admin_web, old, method="generate", key_type="ec-p256",
                        password="short", compatibility="modern", output="p12", revoke_old="y")
    assert response.status_code == 400
    assert db.session.scalar(select(func.count()).select_from(Certificate)) == count
    db.session.refresh(old)
    assert old.status == "issued"


def test_the_page_shows_what_is_copied_and_only_admins_reach_it(admin_web, app, plain_user):
    old = _old(admin_web)
    page = admin_web.get(f"/certificates/{old.id}/reissue").get_data(as_text=True)
    assert "DNS:api.example.com" in page and "DNS:www.example.com" in page
    assert f'href="/certificates/{old.id}/reissue"' in admin_web.get(
        f"/certificates/{old.id}").get_data(as_text=True)
    other = app.test_client()
    other.environ_base["HTTP_REFERER"] = "https://localhost/"
    sign_in(other, "bob", USER_PASSWORD)
    assert other.get(f"/certificates/{old.id}/reissue",
                     base_url="https://localhost").status_code == 403
