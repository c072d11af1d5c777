"""The OCSP responder through the app: stored answers, revocation, refresh, hostile input."""

import base64
from datetime import UTC, datetime, timedelta

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509 import ocsp as xo
from sqlalchemy import select, update

from portal.extensions import db
from portal.models import OCSPResponder, OCSPResponse
from portal.services import ca_state
from portal.services.authorities import create_ca
from portal.services.certificates import revoke_certificate
from portal.services.issuance import issue_from_csr
from portal.services.ocsp_refresh import refresh_all
from tests.pki import make_csr, ocsp_findings

OCSP = "application/ocsp-request"


def _request(leaf, issuer, algorithm=None, nonce=None) -> bytes:
    builder = xo.OCSPRequestBuilder().add_certificate(leaf, issuer, algorithm or hashes.SHA1())
    if nonce is not None:
        builder = builder.add_extension(x509.OCSPNonce(nonce), critical=False)
    return builder.build().public_bytes(serialization.Encoding.DER)


@pytest.fixture
def pki(app, root_ca):
    """The default CA (with its responder) and one client certificate it issued."""
    refresh_all(actor="test")  # issues the CA's responder
    issued = issue_from_csr(make_csr("alice"), "client", actor="test")
    return {"ca": x509.load_der_x509_certificate(root_ca.certificate_der),
            "leaf": issued.certificate, "serial": issued.serial, "ca_row": root_ca}


def _post(client, der, path="/ocsp"):
    response = client.post(path, data=der, content_type=OCSP)
    assert response.status_code == 200, response.data
    assert response.content_type == "application/ocsp-response"
    return response, xo.load_der_ocsp_response(response.data)


def _stored():
    return {(row.serial, row.hash_algorithm): row.status
            for row in db.session.scalars(select(OCSPResponse))}


def test_issuing_stores_a_good_answer_that_is_served_as_stored(client, pki):
    assert _stored()[(pki["serial"], "sha1")] == "good"
    stored = db.session.scalar(select(OCSPResponse.der).filter_by(serial=pki["serial"]))
    response, parsed = _post(client, _request(pki["leaf"], pki["ca"]))
    assert response.data == stored
    assert parsed.certificate_status is xo.OCSPCertStatus.GOOD
    assert parsed.serial_number == pki["leaf"].serial_number


def test_before_the_ca_has_a_responder_the_first_request_issues_it_and_stores(client, root_ca):
    issued = issue_from_csr(make_csr("early"), "client", actor="test")
    assert _stored() == {}
    assert db.session.scalar(select(OCSPResponder)) is None
    ca = x509.load_der_x509_certificate(root_ca.certificate_der)
    _response, parsed = _post(client, _request(issued.certificate, ca))
    assert parsed.certificate_status is xo.OCSPCertStatus.GOOD
    assert _stored() == {(issued.serial, "sha1"): "good"}
    responder = db.session.scalar(select(OCSPResponder))
    assert parsed.certificates[0].serial_number == int(responder.serial, 16)


def test_rfc5019_headers_come_from_the_response_and_a_revalidation_gets_304(client, pki):
    der = _request(pki["leaf"], pki["ca"])
    path = "/ocsp/" + base64.b64encode(der).decode()
    response = client.get(path)
    parsed = xo.load_der_ocsp_response(response.data)
    assert response.headers["Expires"] == parsed.next_update_utc.strftime(
        "%a, %d %b %Y %H:%M:%S GMT")
    assert response.headers["Last-Modified"] == parsed.this_update_utc.strftime(
        "%a, %d %b %Y %H:%M:%S GMT")
    max_age = int(response.headers["Cache-Control"].split("max-age=")[1].split(",")[0])
    assert 3500 < max_age <= 3660
    assert "public" in response.headers["Cache-Control"]
    again = client.get(path, headers={"If-None-Match": response.headers["ETag"]})
    assert again.status_code == 304 and again.data == b""


def test_get_and_post_agree_and_sha256_certids_are_answered(client, pki):
    for algorithm in (hashes.SHA1(), hashes.SHA256()):
        der = _request(pki["leaf"], pki["ca"], algorithm)
        posted, parsed = _post(client, der)
        got = client.get("/ocsp/" + base64.urlsafe_b64encode(der).decode().rstrip("="))
        assert got.data == posted.data
        assert parsed.hash_algorithm.name == algorithm.name
    assert _stored()[(pki["serial"], "sha256")] == "good"


def test_revocation_replaces_every_stored_answer_before_it_returns(client, pki):
    _post(client, _request(pki["leaf"], pki["ca"], hashes.SHA256()))
    revoke_certificate(pki["serial"], reason="keyCompromise", actor="test")
    assert {key: value for key, value in _stored().items() if key[0] == pki["serial"]} == {
        (pki["serial"], name): "revoked" for name in ("sha1", "sha256", "sha384", "sha512")}
    for algorithm in (hashes.SHA1(), hashes.SHA256()):
        _response, parsed = _post(client, _request(pki["leaf"], pki["ca"], algorithm))
        assert parsed.certificate_status is xo.OCSPCertStatus.REVOKED
        assert parsed.revocation_reason is x509.ReasonFlags.key_compromise


def test_a_good_answer_never_replaces_a_revoked_one(app, pki):
    from portal.services.driver import DriverConnection
    from portal.services.ocsp_store import ca_responder, sign, status_from_row, store

    revoke_certificate(pki["serial"], reason="superseded", actor="test")
    responder = ca_responder(pki["ca_row"].id)
    late_good = sign(responder, int(pki["serial"], 16), "sha1", status_from_row(("issued", None,
                                                                                 None)))
    with DriverConnection(db.engine) as connection:
        assert store(connection, db.engine, responder, pki["serial"], "sha1", late_good) is False
    db.session.expire_all()
    assert _stored()[(pki["serial"], "sha1")] == "revoked"


def test_an_unknown_serial_is_answered_unknown_and_not_stored(client, pki):
    before = _stored()
    builder = xo.OCSPRequestBuilder().add_certificate_by_hash(
        *_hashes(pki["ca"]), x509.random_serial_number(), hashes.SHA1())
    _response, parsed = _post(client, builder.build().public_bytes(serialization.Encoding.DER))
    assert parsed.certificate_status is xo.OCSPCertStatus.UNKNOWN
    assert _stored() == before


def _hashes(ca):
    from portal.ca.ocsp import issuer_hashes

    name_hash, key_hash = issuer_hashes(ca).by_algorithm["sha1"]
    return name_hash, key_hash


def test_a_nonce_is_echoed_signed_now_and_not_cached(client, pki):
    response, parsed = _post(client, _request(pki["leaf"], pki["ca"], nonce=b"\x07" * 20))
    assert parsed.extensions.get_extension_for_class(x509.OCSPNonce).value.nonce == b"\x07" * 20
    assert response.headers["Cache-Control"] == "no-store"
    stored = db.session.scalar(select(OCSPResponse.der).filter_by(serial=pki["serial"]))
    assert stored != response.data


def test_another_issuer_gets_unauthorized_and_the_per_ca_url_answers_only_its_ca(client, pki):
    other = create_ca("other", key_type="ec-p256", actor="test")
    other_issued = issue_from_csr(make_csr("carol"), "client", ca_name="other", actor="test")
    other_ca = x509.load_der_x509_certificate(other.certificate_der)
    der = _request(other_issued.certificate, other_ca)
    _r, parsed = _post(client, der, "/ca/other/ocsp")
    assert parsed.certificate_status is xo.OCSPCertStatus.GOOD
    _r, parsed = _post(client, der, "/ca/root/ocsp")
    assert parsed.response_status is xo.OCSPResponseStatus.UNAUTHORIZED
    stranger = x509.load_der_x509_certificate(
        create_ca("elsewhere", key_type="ec-p256", actor="test").certificate_der)
    db.session.execute(OCSPResponder.__table__.delete())
    from portal.models import CertificateAuthority

    db.session.execute(CertificateAuthority.__table__.delete().where(
        CertificateAuthority.name == "elsewhere"))
    db.session.commit()
    _r, parsed = _post(client, _request(stranger, stranger))
    assert parsed.response_status is xo.OCSPResponseStatus.UNAUTHORIZED


def test_a_revoked_intermediate_signs_no_answer(client, root_ca):
    create_ca("sub", key_type="ec-p256", parent="root", actor="test")
    leaf = issue_from_csr(make_csr("dave"), "client", ca_name="sub", actor="test")
    from portal.services.authorities import get_ca

    sub = get_ca("sub")
    sub_cert = x509.load_der_x509_certificate(sub.certificate_der)
    _r, parsed = _post(client, _request(leaf.certificate, sub_cert), "/ca/sub/ocsp")
    assert parsed.certificate_status is xo.OCSPCertStatus.GOOD
    revoke_certificate(sub.serial, reason="CACompromise", ca_name="root", actor="test")
    assert not ca_state.state_of(sub.id).usable
    _r, parsed = _post(client, _request(leaf.certificate, sub_cert), "/ca/sub/ocsp")
    assert parsed.response_status is xo.OCSPResponseStatus.UNAUTHORIZED
    # ...while the root's responder says the intermediate itself is revoked.
    root = x509.load_der_x509_certificate(root_ca.certificate_der)
    _r, parsed = _post(client, _request(sub_cert, root))
    assert parsed.certificate_status is xo.OCSPCertStatus.REVOKED
    assert parsed.revocation_reason is x509.ReasonFlags.ca_compromise


@pytest.mark.parametrize("mode", ["responder", "ca"])
def test_every_served_kind_lints_clean_in_both_modes(app, client, root_ca, tmp_path, mode):
    app.config["PORTAL_OCSP_SIGNER"] = mode
    ca = x509.load_der_x509_certificate(root_ca.certificate_der)
    good = issue_from_csr(make_csr("g"), "client", actor="test")
    bad = issue_from_csr(make_csr("r"), "client", actor="test")
    revoke_certificate(bad.serial, reason="affiliationChanged", actor="test")
    unknown = xo.OCSPRequestBuilder().add_certificate_by_hash(
        *_hashes(ca), x509.random_serial_number(), hashes.SHA1()).build().public_bytes(
        serialization.Encoding.DER)
    answers = {
        "good": _post(client, _request(good.certificate, ca))[0].data,
        "revoked": _post(client, _request(bad.certificate, ca))[0].data,
        "unknown": _post(client, unknown)[0].data,
        "nonce": _post(client, _request(good.certificate, ca, nonce=b"n" * 16))[0].data,
    }
    for kind, der in answers.items():
        parsed = xo.load_der_ocsp_response(der)
        assert parsed.certificate_status.name == ("GOOD" if kind == "nonce" else kind.upper())
        assert bool(parsed.certificates) == (mode == "responder")
        path = tmp_path / f"{kind}.der"
        path.write_bytes(der)
        assert ocsp_findings(path) == "", kind


def test_refresh_resigns_what_is_past_half_its_validity_and_renews_the_responder(app, pki):
    old = datetime.now(UTC) - timedelta(minutes=45)
    db.session.execute(update(OCSPResponse).values(this_update=old))
    responder = db.session.scalar(select(OCSPResponder))
    old_serial = responder.serial
    db.session.execute(update(OCSPResponder).values(
        not_before=responder.not_before - timedelta(days=8),
        not_after=responder.not_after - timedelta(days=8)))
    db.session.commit()
    outcomes = refresh_all(actor="test")
    assert [(o.ca, o.signed, o.responder_renewed, o.problem) for o in outcomes] == [
        ("root", 1, True, None)]
    db.session.expire_all()
    assert db.session.scalar(select(OCSPResponse.this_update)) > old + timedelta(minutes=40)
    assert db.session.scalar(select(OCSPResponder.serial)) != old_serial


def test_refresh_signs_certificates_that_have_no_answer(app, pki, runner):
    db.session.execute(OCSPResponse.__table__.delete())
    db.session.commit()
    result = runner.invoke(args=["ocsp", "refresh"])
    assert result.exit_code == 0, result.output
    assert result.output == "root: signed 1 response(s)\n"
    assert _stored() == {(pki["serial"], "sha1"): "good"}


@pytest.mark.parametrize(("body", "kind", "status"), [
    (b"", OCSP, 200),
    (b"\x30\x80" + b"\xff" * 100, OCSP, 200),
    (b"not der at all", OCSP, 200),
    (b"\x30" * 5000, OCSP, 413),
    (b"x", "text/html", 415),
])
def test_hostile_posts_get_malformed_request_or_a_4xx(client, pki, body, kind, status):
    response = client.post("/ocsp", data=body, content_type=kind)
    assert response.status_code == status
    if status == 200:
        parsed = xo.load_der_ocsp_response(response.data)
        assert parsed.response_status is xo.OCSPResponseStatus.MALFORMED_REQUEST


def test_truncated_requests_and_bad_base64_are_malformed(client, pki):
    der = _request(pki["leaf"], pki["ca"])
    for cut in range(1, len(der), 7):
        _r, parsed = _post(client, der[:cut])
        assert parsed.response_status is xo.OCSPResponseStatus.MALFORMED_REQUEST
    for path in ("/ocsp/%%%%", "/ocsp/" + "A" * 9000, "/ocsp/@@@", "/ocsp/AAA/BBB="):
        response = client.get(path)
        assert response.status_code == 200
        assert xo.load_der_ocsp_response(response.data).response_status is (
            xo.OCSPResponseStatus.MALFORMED_REQUEST)
    assert client.get("/ocsp").status_code == 400
    assert client.put("/ocsp").status_code == 405


def test_healthz_and_metrics_report_the_responder_and_the_counts(app, client, pki):
    from portal.services.driver import DriverConnection
    from portal.services.ocsp_store import flush_counters

    der = _request(pki["leaf"], pki["ca"])
    for _ in range(3):
        _post(client, der)
    _post(client, _request(pki["leaf"], pki["ca"], nonce=b"z" * 8))
    with DriverConnection(db.engine) as connection:
        flush_counters(connection, db.engine, force=True)
    report = client.get("/healthz").get_json()
    assert report["status"] == "ok", report["problems"]
    ocsp_part = report["ocsp"]
    responder = db.session.scalar(select(OCSPResponder))
    assert ocsp_part["signer"] == "responder"
    assert [r["serial"] for r in ocsp_part["responders"]] == [responder.serial]
    assert 13 * 86400 < ocsp_part["responders"][0]["seconds_left"] <= 14 * 86400
    assert ocsp_part["stored_responses"] == 1
    assert 0 <= ocsp_part["oldest_response_age_seconds"] < 600
    assert ocsp_part["responses_served"] == 4
    assert ocsp_part["responses_signed"] == 2  # the one pre-signed at issue, the nonce's
    metrics = client.get("/metrics").get_data(as_text=True)
    assert "portal_ocsp_responses_served_total 4.0" in metrics
    assert "portal_ocsp_responses_signed_total 2.0" in metrics
    assert 'portal_ocsp_responder_seconds_to_expiry{ca="root"}' in metrics
    assert "portal_ocsp_oldest_response_age_seconds" in metrics


def test_healthz_says_when_stored_responses_are_past_their_next_update(client, pki):
    db.session.execute(update(OCSPResponse).values(
        this_update=datetime.now(UTC) - timedelta(hours=2)))
    db.session.commit()
    response = client.get("/healthz")
    assert response.status_code == 503
    assert any("`portal ocsp refresh` is not running" in p
               for p in response.get_json()["problems"])


def test_a_revocation_before_the_ca_has_a_responder_issues_none(client, root_ca):
    issued = issue_from_csr(make_csr("early"), "client", actor="test")
    revoke_certificate(issued.serial, actor="test")
    assert db.session.scalar(select(OCSPResponder)) is None
    assert _stored() == {}
    ca = x509.load_der_x509_certificate(root_ca.certificate_der)
    _response, parsed = _post(client, _request(issued.certificate, ca))
    assert parsed.certificate_status is xo.OCSPCertStatus.REVOKED


def test_a_restore_carrying_a_revocation_forward_serves_no_stored_good(client, pki):
    from portal.services.carry_forward import carry_forward, live_revocations

    good = db.session.scalar(select(OCSPResponse.der).filter_by(serial=pki["serial"]))
    revoke_certificate(pki["serial"], reason="keyCompromise", actor="test")
    revocations = live_revocations(None)
    # What a backup taken before the revocation holds: the certificate good, its answer good.
    from portal.models import Certificate

    db.session.execute(update(Certificate).where(Certificate.serial == pki["serial"]).values(
        status="issued", revoked_at=None, revocation_reason=None))
    db.session.execute(update(OCSPResponse).where(OCSPResponse.serial == pki["serial"]).values(
        status="good", der=good))
    db.session.commit()
    carry_forward(revocations, actor="test")
    _response, parsed = _post(client, _request(pki["leaf"], pki["ca"]))
    assert parsed.certificate_status is xo.OCSPCertStatus.REVOKED


def test_a_revoked_responder_certificate_is_replaced_on_the_next_answer(client, pki):
    old = db.session.scalar(select(OCSPResponder.serial))
    revoke_certificate(old, reason="keyCompromise", actor="test")
    assert db.session.scalar(select(OCSPResponder)) is None
    _response, parsed = _post(client, _request(pki["leaf"], pki["ca"], nonce=b"r" * 8))
    assert parsed.certificate_status is xo.OCSPCertStatus.GOOD
    new = db.session.scalar(select(OCSPResponder.serial))
    assert new not in (None, old)
    assert parsed.certificates[0].serial_number == int(new, 16)


@pytest.mark.parametrize("setting", [True, False])
def test_the_ocsp_url_in_certificates_follows_the_setting(app, root_ca, setting):
    app.config["PORTAL_OCSP_URL_IN_CERTS"] = setting
    leaf = issue_from_csr(make_csr("aia"), "client", actor="test").certificate
    access = leaf.extensions.get_extension_for_class(x509.AuthorityInformationAccess).value
    assert [(item.access_method._name, item.access_location.value) for item in access] == [
        ("caIssuers", "http://127.0.0.1:8080/ca.crt"),
        *([("OCSP", "http://127.0.0.1:8080/ocsp")] if setting else []),
    ]
