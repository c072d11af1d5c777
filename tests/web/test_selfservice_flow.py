"""Self-service over HTTP: request, approval, the one-time download, CSRs, revoke and renew."""

from io import BytesIO

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.serialization import pkcs12
from sqlalchemy import select

from portal.extensions import db
from portal.models import AuditEvent, Certificate, CertificateRequest
from tests.pki import make_csr
from tests.web.conftest import csrf_token
from tests.web.selfhelp import (
    P12_PASSWORD,
    certificate_for,
    near_expiry,
    page_errors,
    person,
    post_form,
    signed_in_client,
)

GENERATE = {"profile": "client", "method": "generate", "common_name": "bob",
            "email": "bob@example.com", "key_type": "ec-p256"}


@pytest.fixture
def bob(app, admin, root_ca):
    """A plain user with an e-mail address."""
    return person("bob", email="bob@example.com")


@pytest.fixture
def bob_web(app, bob):
    """Bob, signed in."""
    return signed_in_client(app, "bob")


def _request(client, **changes):
    return post_form(client, "/account/request", {**GENERATE, **changes})


def _request_id(response) -> int:
    assert response.status_code == 302, response.get_data(as_text=True)
    return int(response.headers["Location"].rstrip("/").rsplit("/", 1)[1])


def _download(client, request_id, password=P12_PASSWORD, compatibility="compatible"):
    return post_form(client, f"/account/requests/{request_id}/download",
                     {"password": password, "compatibility": compatibility},
                     token_from=f"/account/requests/{request_id}")


def _decide(admin_web, request_id, decision, comment=""):
    return post_form(admin_web, f"/requests/{request_id}",
                     {"decision": decision, "comment": comment})


def _actions(actor):
    return [e.action for e in db.session.scalars(
        select(AuditEvent).where(AuditEvent.actor == actor).order_by(AuditEvent.id))]


@pytest.mark.parametrize("changes, field", [
    ({"common_name": "alice"}, "common_name"),
    ({"email": "alice@example.com"}, "email"),
    ({"sans": "DNS:bob.example.com"}, "sans"),
    ({"common_name": "bob\u0000"}, "common_name"),
    ({"email": "not an address"}, "email"),
    ({"profile": "server"}, "profile"),
])
def test_the_policy_refuses_names_on_the_field_they_concern(bob_web, changes, field):
    response = _request(bob_web, **changes)
    assert response.status_code == 400
    fields, _ = page_errors(response.get_data(as_text=True))
    assert list(fields) == [field], fields
    assert db.session.scalar(select(CertificateRequest.id)) is None


def test_a_csr_whose_names_the_policy_refuses_is_flagged_on_the_csr(bob_web):
    for csr in (make_csr("alice"), make_csr("bob", sans=[x509.DNSName("bob.example.com")]),
                b"-----BEGIN CERTIFICATE REQUEST-----\nxx"):
        response = _request(bob_web, method="csr", csr=csr.decode())
        assert response.status_code == 400
        fields, _ = page_errors(response.get_data(as_text=True))
        assert list(fields) == ["csr"], fields
    assert db.session.scalar(select(CertificateRequest.id)) is None


def test_request_approve_download_once(app, bob_web, admin_web):
    request_id = _request_id(_request(bob_web))
    assert "Waiting for an admin" in bob_web.get(f"/account/requests/{request_id}").get_data(
        as_text=True)
    assert _download(bob_web, request_id).status_code == 409  # not approved yet
    queue = admin_web.get("/requests").get_data(as_text=True)
    assert f"/requests/{request_id}" in queue and "bob@example.com" in queue
    assert _decide(admin_web, request_id, "approve", "welcome aboard").status_code == 302
    assert _decide(admin_web, request_id, "approve").status_code == 409  # once
    account = bob_web.get("/account").get_data(as_text=True)
    assert "welcome aboard" in account and "Choose a password and download" in account
    assert db.session.scalar(select(Certificate.id)) is None  # no key, no certificate yet
    short = _download(bob_web, request_id, password="short")
    assert short.status_code == 400 and "password" in page_errors(short.get_data(as_text=True))[0]
    response = _download(bob_web, request_id)
    assert response.status_code == 200 and response.mimetype == "application/x-pkcs12"
    assert response.headers["Cache-Control"] == "no-store"
    bundle = pkcs12.load_pkcs12(response.data, P12_PASSWORD.encode())
    subject = bundle.cert.certificate.subject.rfc4514_string()
    assert subject == "CN=bob"
    san = bundle.cert.certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName)
    assert san.value.get_values_for_type(x509.RFC822Name) == ["bob@example.com"]
    assert _download(bob_web, request_id).status_code == 409  # the key was handed over once
    db.session.expire_all()
    row = db.session.get(CertificateRequest, request_id)
    assert row.status == "issued" and row.certificate.owner.username == "bob"
    page = bob_web.get(f"/account/certificates/{row.certificate_id}")
    assert page.status_code == 200 and row.certificate.serial in page.get_data(as_text=True)
    assert _actions("web:bob")[-2:] == ["key.generate", "request.download"]
    assert "request.create" in _actions("web:bob")
    assert "request.approve" in _actions("web:alice")


def test_reject_needs_a_comment_and_the_user_sees_it(bob_web, admin_web):
    request_id = _request_id(_request(bob_web))
    silent = _decide(admin_web, request_id, "reject")
    assert silent.status_code == 400
    assert list(page_errors(silent.get_data(as_text=True))[0]) == ["comment"]
    assert _decide(admin_web, request_id, "reject", "use your work e-mail").status_code == 302
    page = bob_web.get(f"/account/requests/{request_id}").get_data(as_text=True)
    assert "Rejected" in page and "use your work e-mail" in page
    assert _download(bob_web, request_id).status_code == 409
    assert _actions("web:alice")[-1] == "request.reject"


def test_a_csr_request_is_signed_at_approval_and_downloaded_as_pem(bob_web, admin_web):
    csr = make_csr("bob", sans=[x509.RFC822Name("bob@example.com")])
    response = bob_web.post("/account/request", data={
        **GENERATE, "method": "csr", "csr": "", "csr_file": (BytesIO(csr), "bob.csr"),
        "csrf_token": csrf_token(bob_web, "/account/request"),
    }, content_type="multipart/form-data")
    request_id = _request_id(response)
    assert _decide(admin_web, request_id, "approve").status_code == 302
    db.session.expire_all()
    row = db.session.get(CertificateRequest, request_id)
    assert row.status == "issued" and row.certificate.status == "issued"
    pem = bob_web.get(f"/account/certificates/{row.certificate_id}/pem")
    assert x509.load_pem_x509_certificate(pem.data).subject.rfc4514_string() == "CN=bob"
    chain = bob_web.get(f"/account/certificates/{row.certificate_id}/chain").data
    assert len(x509.load_pem_x509_certificates(chain)) == 2


def test_a_policy_that_issues_at_once(bob_web, admin_web):
    saved = post_form(admin_web, "/policies?profile=client", {
        "self_service": "y", "approval": "auto", "common_name_rule": "username",
        "email_rule": "own", "dns_suffixes": "", "ip_networks": "", "max_days": "30"})
    assert saved.status_code == 302
    assert "issued at once" in bob_web.get("/account/request").get_data(as_text=True)
    too_long = _request(bob_web, days="31")
    assert list(page_errors(too_long.get_data(as_text=True))[0]) == ["days"]
    response = _request(bob_web, days="30")
    assert "/account/requests/" in response.headers["Location"]  # straight to the download
    request_id = _request_id(response)
    assert _download(bob_web, request_id, compatibility="modern").status_code == 200
    csr = _request(bob_web, method="csr", csr=make_csr("bob").decode())
    assert "/account/certificates/" in csr.headers["Location"]  # issued at once
    assert "policy.update" in _actions("web:alice")
    assert "request.approve" in _actions("policy:client")


def test_policy_page_puts_errors_on_their_fields(admin_web):
    for changes, field in [({"dns_suffixes": "ex ample.com"}, "dns_suffixes"),
                           ({"ip_networks": "300.1.2.3/8"}, "ip_networks")]:
        response = post_form(admin_web, "/policies?profile=server", {
            "self_service": "y", "approval": "admin", "common_name_rule": "any",
            "email_rule": "none", **changes}, token_from="/policies")
        assert response.status_code == 400
        assert list(page_errors(response.get_data(as_text=True))[0]) == [field]


def test_a_server_policy_with_a_domain(bob_web, admin_web):
    post_form(admin_web, "/policies?profile=server", {
        "self_service": "y", "approval": "auto", "common_name_rule": "any",
        "email_rule": "none", "dns_suffixes": "lab.example.com", "ip_networks": "192.0.2.0/24"},
        token_from="/policies")
    base = {"profile": "server", "common_name": "web.lab.example.com", "email": ""}
    outside = _request(bob_web, **base, sans="DNS:web.example.org")
    assert list(page_errors(outside.get_data(as_text=True))[0]) == ["sans"]
    inside = _request(bob_web, **base, sans="IP:192.0.2.7\nDNS:api.lab.example.com")
    request_id = _request_id(inside)
    assert _download(bob_web, request_id).status_code == 200


def test_revoke_ones_own_certificate_for_a_users_reason_only(bob_web, bob):
    certificate = certificate_for(bob)
    path = f"/account/certificates/{certificate.id}"
    admin_reason = post_form(bob_web, f"{path}/revoke",
                             {"reason": "CACompromise", "confirm": "y"}, token_from=path)
    assert admin_reason.status_code == 400
    unconfirmed = post_form(bob_web, f"{path}/revoke", {"reason": "keyCompromise"},
                            token_from=path)
    assert list(page_errors(unconfirmed.get_data(as_text=True))[0]) == ["confirm"]
    db.session.expire_all()
    assert db.session.get(Certificate, certificate.id).status == "issued"
    done = post_form(bob_web, f"{path}/revoke", {"reason": "keyCompromise", "confirm": "y"},
                     token_from=path)
    assert done.status_code == 302
    db.session.expire_all()
    row = db.session.get(Certificate, certificate.id)
    assert row.status == "revoked" and row.revocation_reason == "keyCompromise"
    assert "certificate.revoke" in _actions("web:bob")


def test_renewal_opens_near_the_end_and_leaves_the_old_one_to_expire(bob_web, admin_web, bob):
    old = certificate_for(bob)
    path = f"/account/certificates/{old.id}"
    assert "Renewal opens on" in bob_web.get(path).get_data(as_text=True)
    early = post_form(bob_web, f"{path}/renew", {"method": "generate", "key_type": "ec-p256"},
                      token_from=path)
    assert early.status_code == 400 and "can be renewed from" in early.get_data(as_text=True)
    near_expiry(old, days_left=20)
    assert ">Renew<" in bob_web.get("/account").get_data(as_text=True)
    renewal = post_form(bob_web, f"{path}/renew", {"method": "generate", "key_type": "ec-p256"},
                        token_from=path)
    request_id = _request_id(renewal)
    again = post_form(bob_web, f"{path}/renew", {"method": "generate", "key_type": "ec-p256"},
                      token_from=path)
    assert again.status_code == 409
    assert "<dt>Renews</dt>" in admin_web.get(f"/requests/{request_id}").get_data(as_text=True)
    _decide(admin_web, request_id, "approve")
    bundle = pkcs12.load_pkcs12(_download(bob_web, request_id).data, P12_PASSWORD.encode())
    db.session.expire_all()
    new = db.session.get(CertificateRequest, request_id).certificate
    assert new.id != old.id and new.common_name == old.common_name and new.sans == old.sans
    assert bundle.cert.certificate.public_key() != x509.load_der_x509_certificate(
        db.session.get(Certificate, old.id).der).public_key()  # a new key
    assert db.session.get(Certificate, old.id).status == "issued"  # left to expire


def test_a_renewal_from_a_new_csr(bob_web, admin_web, bob):
    old = certificate_for(bob)
    near_expiry(old, days_left=3, lifetime=30)
    path = f"/account/certificates/{old.id}"
    wrong = post_form(bob_web, f"{path}/renew", {"method": "csr",
                                                 "csr": make_csr("alice").decode()},
                      token_from=path)
    assert list(page_errors(wrong.get_data(as_text=True))[0]) == ["csr"]
    renewal = post_form(bob_web, f"{path}/renew", {"method": "csr",
                                                   "csr": make_csr("bob").decode()},
                        token_from=path)
    request_id = _request_id(renewal)
    _decide(admin_web, request_id, "approve")
    db.session.expire_all()
    assert db.session.get(CertificateRequest, request_id).certificate.owner_id == bob.id


def test_withdrawing_a_request(bob_web, admin_web):
    request_id = _request_id(_request(bob_web))
    response = post_form(bob_web, f"/account/requests/{request_id}/cancel", {},
                         token_from=f"/account/requests/{request_id}")
    assert response.status_code == 302
    assert _decide(admin_web, request_id, "approve").status_code == 409
    assert "request.cancel" in _actions("web:bob")


def test_the_downloaded_key_is_stored_nowhere(app, bob_web, admin_web, instance):
    from tests.keyscan import places_holding_key

    request_id = _request_id(_request(bob_web, key_type="rsa-2048"))
    _decide(admin_web, request_id, "approve")
    p12 = _download(bob_web, request_id).data
    key = pkcs12.load_pkcs12(p12, P12_PASSWORD.encode()).key
    db.session.remove()
    assert places_holding_key(key, engine=db.engine, folders=[instance], p12=p12,
                              password=P12_PASSWORD) == []
