"""OCSP answers kept per process: never past half their validity, dropped by any revocation,
unknown serials signed once per request bytes and at a bounded rate."""

from datetime import datetime, timedelta

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509 import ocsp as xo
from sqlalchemy import select

from portal.extensions import db
from portal.models import Certificate, OCSPCounter
from portal.services import cache, ocsp_answer
from portal.services.bulk_revoke import revoke_many
from portal.services.issuance import issue_from_csr
from portal.services.ocsp_refresh import refresh_all
from tests.pki import make_csr
from tests.test_ocsp import _hashes, _post, _request


@pytest.fixture
def pki(app, root_ca):
    """The default CA (with its responder) and one client certificate it issued."""
    refresh_all(actor="test")
    issued = issue_from_csr(make_csr("alice"), "client", actor="test")
    return {"ca": x509.load_der_x509_certificate(root_ca.certificate_der),
            "leaf": issued.certificate, "serial": issued.serial}


@pytest.fixture
def signatures(monkeypatch) -> list:
    """Every answer the responder signs while answering, in order."""
    signed = []
    real = ocsp_answer.sign

    def counting(*args, **kwargs):
        signed.append(args[1])
        return real(*args, **kwargs)

    monkeypatch.setattr(ocsp_answer, "sign", counting)
    return signed


def _made_up(ca, serial: int) -> bytes:
    name_hash, key_hash = _hashes(ca)
    return xo.OCSPRequestBuilder().add_certificate_by_hash(
        name_hash, key_hash, serial, hashes.SHA1()).build().public_bytes(
        serialization.Encoding.DER)


class _Later(datetime):
    """datetime whose now() is `shift` ahead."""

    shift = timedelta(0)

    @classmethod
    def now(cls, tz=None):
        return datetime.now(tz) + cls.shift


def test_a_kept_answer_is_served_until_half_its_validity_and_never_after(
        client, pki, monkeypatch, signatures):
    der = _request(pki["leaf"], pki["ca"])
    first, parsed = _post(client, der)
    assert _post(client, der)[0].data == first.data
    half = (parsed.next_update_utc - parsed.this_update_utc) / 2
    assert signatures == []  # both were the stored answer
    late = parsed.this_update_utc + half + timedelta(seconds=1)
    monkeypatch.setattr(_Later, "shift", late - datetime.now(late.tzinfo))
    monkeypatch.setattr(ocsp_answer, "datetime", _Later)
    again, parsed_again = _post(client, der)
    assert again.data != first.data  # signed anew, not the kept one
    assert signatures == [pki["leaf"].serial_number]
    assert parsed_again.certificate_status is xo.OCSPCertStatus.GOOD


def test_a_bulk_revocation_counts_on_the_next_request(client, pki):
    der = _request(pki["leaf"], pki["ca"])
    for _ in range(2):
        assert _post(client, der)[1].certificate_status is xo.OCSPCertStatus.GOOD
    row_id = db.session.scalar(select(Certificate.id).filter_by(serial=pki["serial"]))
    revoke_many([row_id], reason="keyCompromise", actor="test")
    _response, parsed = _post(client, der)
    assert parsed.certificate_status is xo.OCSPCertStatus.REVOKED
    assert parsed.revocation_reason is x509.ReasonFlags.key_compromise


def test_every_revocation_raises_the_epoch_by_a_new_step(client, pki):
    def epoch():
        db.session.rollback()
        return db.session.scalar(select(OCSPCounter.value).filter_by(name="revocation_epoch"))

    assert epoch() is None
    from portal.services.certificates import revoke_certificate

    revoke_certificate(pki["serial"], actor="test")
    first = epoch()
    other = issue_from_csr(make_csr("bob"), "client", actor="test")
    revoke_certificate(other.serial, actor="test")
    assert first and epoch() > first


def test_an_unknown_serial_is_signed_once_for_the_same_request(client, pki, signatures):
    der = _made_up(pki["ca"], 0x1234567)
    first, parsed = _post(client, der)
    assert parsed.certificate_status is xo.OCSPCertStatus.UNKNOWN
    assert _post(client, der)[0].data == first.data
    assert signatures == [0x1234567]
    other, parsed_other = _post(client, _made_up(pki["ca"], 0x7654321))
    assert parsed_other.serial_number == 0x7654321 and other.data != first.data
    assert signatures == [0x1234567, 0x7654321]


def test_made_up_serials_past_the_budget_get_try_later_unsigned(client, pki):
    frozen = ocsp_answer.SignatureBudget(3, clock=lambda: 0.0)  # no refill: exactly 3
    cache.process_cache().table("ocsp.unknown_budget")[None] = frozen
    statuses = [_status(client, _made_up(pki["ca"], 1000 + n)) for n in range(6)]
    assert statuses == [xo.OCSPResponseStatus.SUCCESSFUL] * 3 + \
        [xo.OCSPResponseStatus.TRY_LATER] * 3
    # A real certificate's answer is stored: the budget does not concern it.
    assert _post(client, _request(pki["leaf"], pki["ca"]))[1].certificate_status is \
        xo.OCSPCertStatus.GOOD


def _status(client, der):
    response = client.post("/ocsp", data=der, content_type="application/ocsp-request")
    assert response.status_code == 200
    return xo.load_der_ocsp_response(response.data).response_status
