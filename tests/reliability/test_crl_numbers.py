"""One revocation, one new CRL; CRL numbers that only grow; the first CRL audited as stored."""

import pytest
from cryptography import x509

from portal.extensions import db
from portal.services import certificates
from tests.publishing import crl_number, fetch_crl, issue
from tests.reliability.conftest import BACKENDS
from tests.test_crl_concurrency import _publish_events

pytestmark = pytest.mark.parametrize("backend", BACKENDS, indirect=True)


def test_each_revocation_signs_exactly_one_crl(app, client, runner, root_ca, tmp_path):
    first = fetch_crl(client)
    events = _publish_events()
    # psycopg reports rowcount -1 for INSERT ... ON CONFLICT: the first CRL was stored all the same.
    assert events == [("ok", crl_number(first))]
    issued = [issue(name=f"user{index}") for index in range(4)]
    numbers, revoked = [crl_number(first)], set()
    for row, cert, _key in issued:
        certificates.revoke_certificate(row.serial, reason="keyCompromise", actor="test")
        revoked.add(cert.serial_number)
        for _ in range(2):  # later requests, refreshes and exports find the CRL current
            crl = fetch_crl(client)
            refreshed = runner.invoke(args=["crl", "refresh"])
            assert refreshed.exit_code == 0 and "is fresh" in refreshed.output, refreshed.output
            exported = runner.invoke(args=["crl", "export", "--out", str(tmp_path / "crl.pem")])
            assert exported.exit_code == 0, exported.output
        assert {entry.serial_number for entry in crl} == revoked
        numbers.append(crl_number(crl))
        db.session.remove()
    events = _publish_events()
    assert len(events) == 1 + len(issued)  # one CRL per revocation, none more
    assert [outcome for outcome, _number in events] == ["ok"] * len(events)
    assert [number for _outcome, number in events] == numbers
    assert numbers == sorted(set(numbers))
    served = x509.load_pem_x509_crl((tmp_path / "crl.pem").read_bytes())
    assert crl_number(served) == numbers[-1]
