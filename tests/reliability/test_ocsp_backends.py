"""The OCSP responder's storage on SQLite and PostgreSQL: stored, served, revoked, refreshed."""

from datetime import UTC, datetime, timedelta

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509 import ocsp as xo
from sqlalchemy import select, update

from portal.extensions import db
from portal.models import OCSPResponse
from portal.services.certificates import revoke_certificate
from portal.services.issuance import issue_from_csr
from portal.services.ocsp_refresh import refresh_all
from tests.pki import make_csr


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"], indirect=True)
def test_store_serve_revoke_and_refresh(app, root_ca):
    refresh_all(actor="test")
    issued = issue_from_csr(make_csr("alice"), "client", actor="test")
    ca = x509.load_der_x509_certificate(root_ca.certificate_der)
    der = xo.OCSPRequestBuilder().add_certificate(issued.certificate, ca, hashes.SHA1()).build(
        ).public_bytes(serialization.Encoding.DER)
    client = app.test_client()

    def status():
        response = client.post("/ocsp", data=der, content_type="application/ocsp-request")
        assert response.status_code == 200
        return xo.load_der_ocsp_response(response.data)

    stored = db.session.scalar(select(OCSPResponse.der).filter_by(serial=issued.serial))
    assert status().certificate_status is xo.OCSPCertStatus.GOOD
    assert client.post("/ocsp", data=der, content_type="application/ocsp-request").data == stored
    revoke_certificate(issued.serial, reason="superseded", actor="test")
    assert status().revocation_reason is x509.ReasonFlags.superseded
    db.session.execute(update(OCSPResponse).values(
        this_update=datetime.now(UTC) - timedelta(minutes=50)))
    db.session.commit()
    assert [o.signed for o in refresh_all(actor="test")] == [4]  # one per hash algorithm
    assert status().certificate_status is xo.OCSPCertStatus.REVOKED
    from portal.services.driver import DriverConnection
    from portal.services.ocsp_store import flush_counters

    for _round in range(2):  # the first flush inserts the counters, the second adds to them
        status()
        with DriverConnection(db.engine) as connection:
            flush_counters(connection, db.engine, force=True)
    assert client.get("/healthz").get_json()["ocsp"]["responses_served"] == 6
