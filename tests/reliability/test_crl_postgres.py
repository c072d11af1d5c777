"""CRL numbers and CRL serving on PostgreSQL: concurrent revocations from separate processes."""

import os
import subprocess

import pytest
from cryptography import x509

from portal.extensions import db
from portal.services import crl as crl_service
from tests.conftest import BIN
from tests.publishing import crl_number, issue
from tests.test_crl_concurrency import _check_numbers, _publish_events

pytestmark = pytest.mark.parametrize("backend", ["postgresql"], indirect=True)


def test_concurrent_revocations_give_distinct_increasing_numbers(app, root_ca, database_url):
    issued = [issue(name=f"user{index}") for index in range(12)]
    serials = {cert.serial_number for _row, cert, _key in issued}
    hex_serials = [row.serial for row, _cert, _key in issued]
    db.session.remove()

    processes = [
        subprocess.Popen([str(BIN / "portal"), "cert", "revoke", serial, "--reason",
                          "keyCompromise"],
                         env={**os.environ, "PORTAL_DATABASE_URL": database_url},
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        for serial in hex_serials
    ]
    for process in processes:
        _out, err = process.communicate()
        assert process.returncode == 0, err.decode()

    events = _publish_events()
    assert len(events) == 12
    highest = _check_numbers(events, 12)
    db.session.remove()

    client = app.test_client()
    response = client.get("/crl.der")  # the fast path's own connection, on psycopg
    assert response.status_code == 200
    crl = x509.load_der_x509_crl(response.data)
    assert crl_number(crl) == highest
    assert {entry.serial_number for entry in crl} == serials
    assert client.get("/crl.der", headers={"If-None-Match": response.headers["ETag"]}) \
        .status_code == 304
    state = crl_service.crl_state()
    assert state.number == highest and state.revoked_count == 12
    assert client.get("/healthz").status_code == 200
    db.session.remove()
