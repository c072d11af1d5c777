"""The public endpoints: CA certificates and CRLs, checked with cryptography, openssl, pkilint."""

from datetime import timedelta

import pytest
from cryptography import x509
from sqlalchemy import select, update

from portal.ca.pem import to_pem
from portal.extensions import db
from portal.models import AuditEvent, PublishedCRL
from portal.services import certificates
from portal.services import crl as crl_service
from portal.services.authorities import create_ca
from tests.pki import pkilint_findings
from tests.publishing import crl_number, fetch_crl, issue, openssl, url_path


@pytest.fixture
def intermediate(root_ca):
    """An intermediate CA 'issuing' under the default root."""
    return create_ca("issuing", key_type="ec-p384", parent="root", actor="test")


def ca_x509(ca) -> x509.Certificate:
    return x509.load_der_x509_certificate(ca.certificate_der)


def test_served_ca_certificate_equals_the_stored_one(client, root_ca):
    for path in ("/ca.crt", "/ca/root/ca.crt"):
        response = client.get(path)
        assert response.status_code == 200
        assert response.mimetype == "application/pkix-cert"
        assert x509.load_der_x509_certificate(response.data) == ca_x509(root_ca)
        assert response.data == root_ca.certificate_der
    chain = x509.load_pem_x509_certificates(client.get("/ca.pem").data)
    assert chain == [ca_x509(root_ca)]


def test_ca_pem_is_the_chain_from_the_issuing_ca_to_the_root(client, root_ca, intermediate):
    response = client.get("/ca/issuing/ca.pem")
    assert response.status_code == 200
    assert x509.load_pem_x509_certificates(response.data) == [ca_x509(intermediate),
                                                               ca_x509(root_ca)]
    served = x509.load_der_x509_certificate(client.get("/ca/issuing/ca.crt").data)
    assert served == ca_x509(intermediate)
    assert client.get("/ca/nobody/ca.crt").status_code == 404
    assert client.get("/ca/nobody/crl.der").status_code == 404


def test_each_certificate_names_urls_that_serve_its_issuer(client, root_ca, intermediate):
    _row, leaf, _key = issue("client", ca="issuing")
    issuing = ca_x509(intermediate)
    assert x509.load_der_x509_certificate(client.get(url_path(leaf, "ca")).data) == issuing
    crl = fetch_crl(client, url_path(leaf, "crl"))
    assert crl.issuer == leaf.issuer and crl.is_signature_valid(issuing.public_key())
    # The intermediate's own certificate points at the root's CRL and certificate.
    root = ca_x509(root_ca)
    assert url_path(issuing, "crl") == "/crl.der" and url_path(issuing, "ca") == "/ca.crt"
    assert fetch_crl(client, "/crl.der").is_signature_valid(root.public_key())
    assert x509.load_der_x509_certificate(client.get(url_path(issuing, "ca")).data) == root


@pytest.mark.parametrize("key_type", ["ec-p256", "rsa-2048", "ed25519"])
def test_crl_lists_a_revocation_at_once_and_passes_openssl_and_pkilint(
    app, client, tmp_path, key_type
):
    ca = create_ca("root", key_type=key_type, actor="test")
    ca_cert = ca_x509(ca)
    first = fetch_crl(client)
    assert first.is_signature_valid(ca_cert.public_key())
    assert len(first) == 0
    good_row, good, _ = issue("client", name="good")
    bad_row, bad, _ = issue("client", name="bad")
    certificates.revoke_certificate(bad_row.serial, reason="keyCompromise", actor="test")

    response = client.get("/crl.der")
    assert response.mimetype == "application/pkix-crl"
    crl = x509.load_der_x509_crl(response.data)
    assert crl_number(crl) > crl_number(first)
    assert crl.is_signature_valid(ca_cert.public_key())
    entry = crl.get_revoked_certificate_by_serial_number(bad.serial_number)
    assert entry is not None
    assert entry.extensions.get_extension_for_class(x509.CRLReason).value.reason \
        == x509.ReasonFlags.key_compromise
    assert crl.get_revoked_certificate_by_serial_number(good.serial_number) is None
    pem = client.get("/crl.pem").data
    assert x509.load_pem_x509_crl(pem) == crl

    (tmp_path / "crl.der").write_bytes(response.data)
    (tmp_path / "crl.pem").write_bytes(pem)
    (tmp_path / "ca.pem").write_bytes(client.get("/ca.pem").data)
    (tmp_path / "good.pem").write_bytes(to_pem(good))
    (tmp_path / "bad.pem").write_bytes(to_pem(bad))
    assert pkilint_findings(tmp_path / "crl.der", crl=True) == ""
    assert pkilint_findings(tmp_path / "crl.pem", crl=True) == ""
    checked = openssl("crl", "-CAfile", tmp_path / "ca.pem", "-in", tmp_path / "crl.pem",
                      "-verify", "-noout")
    assert checked.returncode == 0 and "verify OK" in checked.stdout + checked.stderr
    accept = openssl("verify", "-crl_check", "-CRLfile", tmp_path / "crl.pem",
                     "-CAfile", tmp_path / "ca.pem", tmp_path / "good.pem")
    assert accept.returncode == 0, accept.stdout + accept.stderr
    reject = openssl("verify", "-crl_check", "-CRLfile", tmp_path / "crl.pem",
                     "-CAfile", tmp_path / "ca.pem", tmp_path / "bad.pem")
    assert reject.returncode != 0 and "certificate revoked" in reject.stdout + reject.stderr
    assert good_row.status == "issued"


def test_every_level_of_an_intermediate_chain_has_a_crl(client, root_ca, intermediate, tmp_path):
    _row, good, _ = issue("client", ca="issuing", name="good")
    bad_row, bad, _ = issue("client", ca="issuing", name="bad")
    certificates.revoke_certificate(bad_row.serial, reason="superseded", actor="test")
    issuing_crl = client.get("/ca/issuing/crl.pem").data
    root_crl = client.get("/crl.pem").data
    (tmp_path / "ca.pem").write_bytes(client.get("/ca/issuing/ca.pem").data)
    (tmp_path / "root.pem").write_bytes(client.get("/ca.pem").data)
    (tmp_path / "issuing-crl.pem").write_bytes(issuing_crl)
    (tmp_path / "root-crl.pem").write_bytes(root_crl)
    (tmp_path / "crls.pem").write_bytes(issuing_crl + root_crl)
    (tmp_path / "good.pem").write_bytes(to_pem(good))
    (tmp_path / "bad.pem").write_bytes(to_pem(bad))
    for name in ("issuing-crl.pem", "root-crl.pem"):  # pkilint reads one CRL per file
        assert pkilint_findings(tmp_path / name, crl=True) == ""
    checked = openssl("crl", "-CAfile", tmp_path / "ca.pem", "-in", tmp_path / "issuing-crl.pem",
                      "-verify", "-noout")
    assert checked.returncode == 0, checked.stderr

    def verify(leaf: str, crls: str):
        return openssl("verify", "-crl_check_all", "-CRLfile", tmp_path / crls,
                       "-CAfile", tmp_path / "ca.pem", tmp_path / leaf)

    assert verify("good.pem", "crls.pem").returncode == 0
    rejected = verify("bad.pem", "crls.pem")
    assert rejected.returncode != 0 and "certificate revoked" in rejected.stdout + rejected.stderr
    # Without the root's CRL the intermediate's status is unknown: every level needs a CRL.
    assert verify("good.pem", "issuing-crl.pem").returncode != 0

    root_cert = ca_x509(root_ca)
    assert fetch_crl(client, "/crl.der").is_signature_valid(root_cert.public_key())


def test_crl_number_grows_with_each_revocation(client, root_ca):
    numbers = [crl_number(fetch_crl(client))]
    serials = []
    for index in range(3):
        row, cert, _ = issue("client", name=f"user{index}")
        certificates.revoke_certificate(row.serial, actor="test")
        crl = fetch_crl(client, "/ca/root/crl.der")
        numbers.append(crl_number(crl))
        serials.append(cert.serial_number)
        assert {entry.serial_number for entry in crl} == set(serials)
    assert numbers == sorted(set(numbers))
    events = db.session.scalars(
        select(AuditEvent).filter_by(action="crl.publish").order_by(AuditEvent.id)).all()
    assert [event.outcome for event in events] == ["ok"] * 4
    for number, event in zip(numbers, events, strict=True):
        assert f"CRL number {number}," in event.detail


def test_http_caching(client, root_ca):
    first = client.get("/crl.der")
    etag, modified = first.headers["ETag"], first.headers["Last-Modified"]
    state = crl_service.crl_state()
    until_resign = (state.refresh_at - crl_service.utcnow()).total_seconds()
    control = first.cache_control
    assert control.public and 0 < control.max_age <= min(3600, until_resign)
    assert client.get("/crl.der", headers={"If-None-Match": etag}).status_code == 304
    assert client.get("/crl.der", headers={"If-Modified-Since": modified}).status_code == 304
    head = client.head("/crl.der")
    assert head.status_code == 200 and head.headers["ETag"] == etag and head.data == b""
    pem = client.get("/crl.pem")
    assert pem.headers["ETag"] != etag
    assert client.get("/crl.pem", headers={"If-None-Match": pem.headers["ETag"]}).status_code \
        == 304
    ca = client.get("/ca.crt")
    assert client.get("/ca.crt", headers={"If-None-Match": ca.headers["ETag"]}).status_code \
        == 304

    row, _cert, _ = issue()
    certificates.revoke_certificate(row.serial, actor="test")
    changed = client.get("/crl.der", headers={"If-None-Match": etag})
    assert changed.status_code == 200 and changed.headers["ETag"] != etag


def _set_crl_times(ca_id: int, *, this_update, next_update) -> None:
    db.session.execute(
        update(PublishedCRL.__table__).where(PublishedCRL.__table__.c.ca_id == ca_id)
        .values(this_update=this_update, next_update=next_update))
    db.session.commit()


def test_a_crl_past_half_life_is_resigned_on_the_next_request(client, root_ca):
    before = fetch_crl(client)
    now = crl_service.utcnow()
    # Not yet half way: served as it is.
    _set_crl_times(root_ca.id, this_update=now - timedelta(days=3),
                   next_update=now + timedelta(days=4))
    assert crl_number(fetch_crl(client)) == crl_number(before)
    # Past half way: the next request signs a new one.
    _set_crl_times(root_ca.id, this_update=now - timedelta(days=4),
                   next_update=now + timedelta(days=3))
    response = client.get("/crl.der")
    after = x509.load_der_x509_crl(response.data)
    assert crl_number(after) > crl_number(before)
    assert after.last_update_utc >= now.replace(microsecond=0)
    assert response.cache_control.max_age > 0
    last = db.session.scalars(select(AuditEvent).filter_by(action="crl.publish")
                              .order_by(AuditEvent.id.desc())).first()
    assert last.actor == "web:on-demand" and last.outcome == "ok"


def test_expired_revoked_certificates_leave_the_crl_after_one_lifetime(client, root_ca):
    from portal.models import Certificate

    rows = [issue(name=f"user{index}")[0] for index in range(3)]
    for row in rows:
        certificates.revoke_certificate(row.serial, actor="test")
    now = crl_service.utcnow()
    table = Certificate.__table__
    for row, expired_for in zip(rows[:2], (timedelta(days=1), timedelta(days=8)), strict=True):
        db.session.execute(update(table).where(table.c.id == row.id)
                           .values(not_after=now - expired_for))
    db.session.commit()
    crl_service.refresh(force=True, actor="test")
    # compared as numbers: the stored text of a serial whose first byte is 0 is shorter
    listed = {entry.serial_number for entry in fetch_crl(client)}
    assert int(rows[0].serial, 16) in listed  # expired a day ago: still listed
    assert int(rows[1].serial, 16) not in listed  # expired more than a CRL lifetime ago
    assert int(rows[2].serial, 16) in listed


def test_metrics(client, root_ca):
    issue(name="a")
    row, _cert, _ = issue(name="b")
    certificates.revoke_certificate(row.serial, actor="test")
    text = client.get("/metrics").get_data(as_text=True)
    assert 'portal_certificates_issued_total{ca="root"} 2.0' in text
    assert 'portal_certificates_revoked_total{ca="root"} 1.0' in text
    assert 'portal_certificates_expiring_30d{ca="root"} 0.0' in text
    assert 'portal_crl_number{ca="root"}' in text
    seconds = [line for line in text.splitlines()
               if line.startswith('portal_crl_seconds_to_next_update{ca="root"}')]
    assert len(seconds) == 1 and 6 * 86400 < float(seconds[0].split()[-1]) <= 7 * 86400


def test_healthz_when_all_is_well(client, root_ca):
    fetch_crl(client)
    response = client.get("/healthz")
    assert response.status_code == 200
    report = response.get_json()
    assert report["status"] == "ok" and report["database"]["ok"]
    (entry,) = report["cas"]
    assert entry["name"] == "root" and entry["key_usable"]
    assert entry["crl"]["number"] >= 1 and not entry["crl"]["due"]
    assert 0 < entry["crl"]["seconds_to_next_update"] <= 7 * 86400
    assert entry["crl"]["age_seconds"] >= 0
