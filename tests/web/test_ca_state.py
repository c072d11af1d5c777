"""A revoked or expired CA (or one under such a CA) signs nothing, and every report says so."""

import os
from datetime import UTC, datetime, timedelta

import pytest
from cryptography import x509

from portal.ca.authority import ca_subject
from portal.ca.keys import generate_private_key
from portal.ca.keystore import seal_private_key
from portal.ca.pem import to_der, to_pem
from portal.ca.profiles import PROFILES
from portal.ca.serials import random_serial, serial_to_hex
from portal.ca.signer import build_certificate, fingerprint_sha256
from portal.errors import CAUnusable
from portal.extensions import db
from portal.models import STATUS_ISSUED, Certificate, CertificateAuthority
from portal.services import (
    backup,
    ca_state,
    cache,
    certificates,
    crl,
    enrollment,
    issuance,
    keygen,
    tokens,
    users,
)
from portal.services.authorities import create_ca, get_signer, urls_for
from portal.services.secrets import ca_secret
from tests.peer import presenting
from tests.pki import make_csr
from tests.web.conftest import csrf_token


def _record_ca(parent: CertificateAuthority, name: str, *, now: datetime, days: int,
               path_length: int) -> x509.Certificate:
    """A CA certificate signed by `parent` as given, stored as the portal stores its CAs."""
    key = generate_private_key("ec-p256")
    serial = random_serial()
    signer = get_signer(parent)
    certificate = build_certificate(
        signer, public_key=key.public_key(), subject=ca_subject(name, None), sans=(),
        profile=PROFILES["ca"], serial=serial, not_before=now,
        not_after=min(now + timedelta(days=days), signer.not_after), urls=urls_for(parent),
        path_length=path_length,
    )
    der = to_der(certificate)
    fields = dict(
        subject=certificate.subject.rfc4514_string(), serial=serial_to_hex(serial),
        key_type="ec-p256", not_before=certificate.not_valid_before_utc,
        not_after=certificate.not_valid_after_utc,
    )
    fingerprint = fingerprint_sha256(certificate)
    db.session.add(Certificate(ca_id=parent.id, common_name=name, sans="", profile="ca",
                               status=STATUS_ISSUED, der=der, fingerprint_sha256=fingerprint,
                               **fields))
    db.session.add(CertificateAuthority(
        name=name, parent_id=parent.id, fingerprint_sha256=fingerprint, certificate_der=der,
        key_encrypted=seal_private_key(key, ca_secret(), bound_to=der), **fields,
    ))
    db.session.commit()
    return certificate


@pytest.fixture
def issuing(app, root_ca):
    """root -> "policy" (path length 1) -> "issuing" (made by the service); returns issuing."""
    now = datetime.now(UTC).replace(microsecond=0)
    _record_ca(root_ca, "policy", now=now, days=3650, path_length=1)
    return create_ca("issuing", key_type="ec-p256", parent="policy", actor="test")


@pytest.fixture
def expired(app, root_ca):
    """An intermediate "old" under the root whose certificate expired (signed in the past)."""
    past = datetime.now(UTC).replace(microsecond=0) - timedelta(days=400)
    return _record_ca(root_ca, "old", now=past, days=30, path_length=0)


def _serial_of(name: str) -> str:
    return db.session.query(CertificateAuthority).filter_by(name=name).one().serial


def _issue(ca_name: str):
    return issuance.issue_from_csr(make_csr("leaf"), "client", ca_name=ca_name, actor="test")


def _admin_token() -> str:
    users.create_user("boss", role="admin", password="boss-password-0123", actor="t")
    return tokens.create_token("boss", actor="t")[1]


def test_a_revoked_intermediate_and_every_ca_under_it_sign_nothing(issuing, client):
    _issue("issuing")  # signs while healthy, and its issuer is now in the process cache
    _issue("policy")
    crl.publish(issuing, actor="test")
    before = crl.crl_state("issuing")
    certificates.revoke_certificate(issuing.serial, reason="cACompromise", actor="test")
    pending = db.session.query(Certificate).count()

    with pytest.raises(CAUnusable, match="CA issuing signs nothing: its certificate is revoked"):
        _issue("issuing")
    _issue("policy")  # the CA above it still signs, and may have another intermediate
    create_ca("sibling", key_type="ec-p256", parent="policy", actor="test")
    _issue("sibling")
    certificates.revoke_certificate(_serial_of("policy"), reason="cACompromise", actor="test")
    pending = db.session.query(Certificate).count()
    with pytest.raises(CAUnusable, match="the certificate of CA policy above it is revoked"):
        _issue("sibling")
    with pytest.raises(CAUnusable):
        create_ca("below", key_type="ec-p256", parent="policy", actor="test")
    with pytest.raises(CAUnusable):  # its CRL is not re-signed as if all were well
        crl.publish(issuing, actor="test")
    assert crl.crl_state("issuing").number == before.number
    served = client.get("/ca/issuing/crl.der")  # its last CRL, as it was signed
    assert served.status_code == 200 and served.data == crl.stored_der(before)
    assert db.session.query(Certificate).count() == pending  # nothing written, not even pending
    _issue("root")  # the root, whose CRL lists the intermediate, still signs
    outcomes = {o.ca_name: o for o in crl.refresh(force=True, actor="test")}
    assert outcomes["root"].action == "published"
    assert outcomes["issuing"].action == "failed" and "revoked" in outcomes["issuing"].message
    assert outcomes["policy"].action == "failed"
    assert outcomes["sibling"].action == "failed" and "above it" in outcomes["sibling"].message


def test_an_expired_intermediate_signs_nothing(expired):
    assert expired.not_valid_after_utc < datetime.now(UTC)  # the certificate itself expired
    with pytest.raises(CAUnusable, match="CA old signs nothing: its certificate has expired"):
        _issue("old")
    with pytest.raises(CAUnusable):
        crl.publish(db.session.query(CertificateAuthority).filter_by(name="old").one(),
                    actor="test")


def test_the_api_refuses_with_a_clear_409_and_the_cli_with_one_line(issuing, client, runner,
                                                                     tmp_path):
    token = _admin_token()
    headers = {"Authorization": f"Bearer {token}"}
    csr = make_csr("www.example.com", sans=[x509.DNSName("www.example.com")]).decode()
    ok = client.post("/api/v1/certificates", headers=headers,
                     json={"csr": csr, "profile": "server", "ca": "issuing"})
    assert ok.status_code == 201
    revoked = client.post(f"/api/v1/certificates/{issuing.serial}/revoke", headers=headers,
                          json={"reason": "cACompromise"})
    assert revoked.status_code == 200
    refused = client.post("/api/v1/certificates", headers=headers,
                          json={"csr": csr, "profile": "server", "ca": "issuing"})
    assert refused.status_code == 409
    assert "CA issuing signs nothing: its certificate is revoked" in refused.json["message"]

    (tmp_path / "leaf.csr").write_bytes(make_csr("leaf"))
    result = runner.invoke(args=["cert", "issue", "--csr", str(tmp_path / "leaf.csr"),
                                 "--profile", "client", "--ca", "issuing"])
    assert result.exit_code != 0
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and "CA issuing signs nothing" in lines[0]


def test_ca_list_health_and_pages_say_a_ca_cannot_sign(issuing, runner, client, admin_web):
    assert client.get("/healthz").status_code == 200
    assert runner.invoke(args=["ca", "list"]).output.count("key ok") == 3
    certificates.revoke_certificate(_serial_of("policy"), reason="cACompromise", actor="test")

    listing = runner.invoke(args=["ca", "list"]).output
    lines = {line.split("\t")[0]: line for line in listing.splitlines()}
    assert lines["root (default)"].endswith("key ok")
    assert "CANNOT SIGN: its certificate is revoked" in lines["policy"]
    assert "CANNOT SIGN: the certificate of CA policy above it is revoked" in lines["issuing"]

    health = client.get("/healthz")
    assert health.status_code == 503
    by_name = {entry["name"]: entry for entry in health.json["cas"]}
    assert by_name["root"]["may_sign"] and not by_name["issuing"]["may_sign"]
    assert "revoked" in by_name["policy"]["state_error"]
    assert any("CA issuing signs nothing" in p for p in health.json["problems"])

    for page in ("/", "/cas", f"/cas/{issuing.id}"):
        body = admin_web.get(page).get_data(as_text=True)
        assert "cannot sign" in body and "CA issuing signs nothing" in body


def test_the_process_cache_starts_empty_after_a_fork_and_on_clear(app, root_ca):
    _issue("root")
    issuers = cache.table("issuance.issuers")
    assert issuers
    cache.clear()
    assert not cache.table("issuance.issuers")
    _issue("root")
    pid = os.fork()
    if pid == 0:  # a forked child: its parent's signers are not its own
        os._exit(0 if not cache.table("issuance.issuers") else 1)
    assert os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]) == 0
    assert cache.table("issuance.issuers")  # the parent keeps its own


def test_a_leaf_of_a_revoked_intermediate_is_refused_at_ping(issuing, client):
    leaf = _issue("issuing")
    pem = to_pem(leaf.certificate).decode()
    assert client.get("/ping", environ_base=presenting(pem)).text == "pong"
    certificates.revoke_certificate(issuing.serial, reason="cACompromise", actor="test")
    refused = client.get("/ping", environ_base=presenting(pem))
    assert refused.status_code == 403
    assert "issued by CA issuing" in refused.text and "revoked" in refused.text


def test_a_leaf_under_a_revoked_ca_higher_up_is_refused_at_ping(issuing, client):
    pem = to_pem(_issue("issuing").certificate).decode()
    assert client.get("/ping", environ_base=presenting(pem)).text == "pong"
    certificates.revoke_certificate(_serial_of("policy"), reason="keyCompromise", actor="test")
    refused = client.get("/ping", environ_base=presenting(pem))
    assert refused.status_code == 403
    assert "the certificate of CA policy above it is revoked" in refused.text


def test_generated_keys_and_enrollment_links_get_nothing_from_a_ca_that_cannot_sign(
    app, root_ca, monkeypatch
):
    _row, token = enrollment.create_link(common_name="Jane Doe", actor="admin")
    later = datetime.now(UTC) + timedelta(days=20_000)
    monkeypatch.setattr(ca_state, "_now", lambda: later)  # the default CA has now expired
    pending = db.session.query(Certificate).count()
    with pytest.raises(CAUnusable, match="CA root signs nothing: its certificate has expired"):
        keygen.generate_bundle(common_name="Jane Doe", profile_name="client",
                               password="correct horse battery", actor="admin")
    with pytest.raises(CAUnusable):
        enrollment.redeem(token, password="correct horse battery")
    assert enrollment.link_state(enrollment.find_link(token)) == "active"  # not used up
    assert db.session.query(Certificate).count() == pending


def test_a_restore_empties_the_process_cache_and_rewrites_the_client_ca_bundle(
    app, root_ca, instance, tmp_path
):
    _issue("root")
    copy = tmp_path / "portal.backup"
    backup.backup(str(copy))
    bundle = instance / "client-ca.pem"
    bundle.unlink()
    assert cache.table("issuance.issuers")
    backup.restore(str(copy), force=True)
    assert not cache.table("issuance.issuers")
    assert x509.load_pem_x509_certificates(bundle.read_bytes())[0].subject.rfc4514_string() == (
        "CN=root")
    _issue("root")


def test_the_issue_page_refuses_a_revoked_ca_with_the_reason_on_the_form(issuing, admin_web):
    certificates.revoke_certificate(issuing.serial, reason="cACompromise", actor="test")
    pending = db.session.query(Certificate).count()
    csr = make_csr("www.example.com", sans=[x509.DNSName("www.example.com")]).decode()
    response = admin_web.post("/issue", data={
        "csr": csr, "profile": "server", "ca": "issuing", "step": "sign",
        "csrf_token": csrf_token(admin_web, "/issue"),
    })
    assert response.status_code == 409
    assert "CA issuing signs nothing: its certificate is revoked" in response.get_data(
        as_text=True)
    assert db.session.query(Certificate).count() == pending
