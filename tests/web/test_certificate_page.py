"""A certificate's page: its timeline (oldest first, with times), the PEM inline, copy buttons."""

import re
from datetime import UTC, datetime, timedelta

from cryptography import x509
from sqlalchemy import select

from portal.extensions import db
from portal.models import AuditEvent, Certificate, CertificateAuthority
from portal.notification_models import ExpiryNotice
from portal.ocsp_models import OCSPResponse
from portal.services import crl, selfservice
from portal.services.users import create_user
from tests.pki import make_csr
from tests.web.conftest import post


def _timeline(body: str) -> list[tuple[str, str]]:
    """(time, what) of each timeline entry, in the page's order."""
    part = body.split('id="timeline"', 1)[1]
    return re.findall(r'<time datetime="([^"]+)">[^<]*</time>\s*<div class="what">\s*'
                      r'<strong>([^<]+)</strong>', part)


def _generate(client, name="dana"):
    response = post(client, "/generate", {
        "common_name": name, "profile": "client", "key_type": "ec-p256",
        "password": "dana-password-1", "compatibility": "modern", "output": "p12", "ca": "root",
    })
    assert response.status_code == 200, response.get_data(as_text=True)[-1500:]
    return db.session.scalars(select(Certificate).where(
        Certificate.serial == response.headers["X-Certificate-Serial"])).one()


def test_the_timeline_tells_issue_revocation_crl_and_warnings_oldest_first(admin_web):
    row = _generate(admin_web)
    db.session.add(ExpiryNotice(certificate_id=row.id, threshold_days=30,
                                owner_at=datetime.now(UTC)))
    db.session.commit()
    response = post(admin_web, f"/certificates/{row.id}/revoke",
                    {"reason": "keyCompromise", "confirm": "y"},
                    token_from=f"/certificates/{row.id}")
    assert response.status_code == 302
    crl.publish(db.session.get(CertificateAuthority, row.ca_id), actor="test")

    body = admin_web.get(f"/certificates/{row.id}").get_data(as_text=True)
    entries = _timeline(body)
    whats = [what for _at, what in entries]
    assert whats[:3] == ["Issued.", "Key generated and handed over in a file.",
                         "Expiry warning sent."]
    assert whats[3:] == ["Revoked.", "Listed on the next CRL."]
    times = [at for at, _what in entries]
    assert times == sorted(times)
    assert "30 days before it expires, by owner" in body
    assert "CRL number" in body


def test_a_request_and_its_approval_are_on_the_timeline(admin_web, admin):
    bob, _ = create_user("bob", role="user", password="bob-password-0123", actor="test")
    request = selfservice.create_request(
        bob, profile_name="client", method=selfservice.METHOD_CSR,
        csr_data=make_csr(common_name="bob"), actor="web:bob")
    if request.status == "pending":
        request = selfservice.approve(request.id, comment="for the lab", actor="web:alice")
    body = admin_web.get(f"/certificates/{request.certificate_id}").get_data(as_text=True)
    whats = [what for _at, what in _timeline(body)]
    assert whats[0] == "Requested."
    assert "Issued." in whats
    assert whats.index("Requested.") < whats.index("Issued.")


def test_an_event_of_another_certificate_is_not_on_the_timeline(admin_web):
    row, other = _generate(admin_web, "dana"), _generate(admin_web, "erin")
    db.session.add(AuditEvent(actor="test", action="certificate.revoke", serial=other.serial,
                              outcome="ok", at=datetime.now(UTC) + timedelta(seconds=1)))
    db.session.commit()
    body = admin_web.get(f"/certificates/{row.id}").get_data(as_text=True)
    assert "Revoked." not in [what for _at, what in _timeline(body)]


def test_the_pem_is_shown_inline_and_every_value_has_a_copy_button(admin_web):
    row = _generate(admin_web)
    body = admin_web.get(f"/certificates/{row.id}").get_data(as_text=True)
    pem = re.search(r'<pre id="pem-value">([^<]+)</pre>', body).group(1)
    certificate = x509.load_pem_x509_certificate(pem.encode())
    assert format(certificate.serial_number, "X").lstrip("0") == row.serial.lstrip("0")
    assert re.search(r'<details class="pem">\s*<summary>', body)  # collapsed until opened
    for target in ("serial-value", "sha256-value", "sha1-value", "pem-value"):
        assert re.search(rf'<button type="button" [^>]*data-copy-target="{target}"', body)
    assert f'<span class="mono wrap" id="serial-value">{row.serial}</span>' in body


def test_the_stored_ocsp_answers_are_on_the_timeline_once_per_update(admin_web):
    row = _generate(admin_web)
    later = datetime.now(UTC) + timedelta(minutes=5)
    for algorithm in ("sha1", "sha256"):  # one answer per hash algorithm, same update
        db.session.add(OCSPResponse(ca_id=row.ca_id, serial=row.serial, hash_algorithm=algorithm,
                                    status="good", this_update=later,
                                    next_update=later + timedelta(hours=1), signed_by="x" * 64,
                                    der=b"answer"))
    db.session.commit()
    body = admin_web.get(f"/certificates/{row.id}").get_data(as_text=True)
    whats = [what for _at, what in _timeline(body)]
    assert whats.count("OCSP answer signed.") == 1 and whats[-1] == "OCSP answer signed."
