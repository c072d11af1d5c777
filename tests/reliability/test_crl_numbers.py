"""One revocation, one new CRL; CRL numbers that only grow; the first CRL audited as stored."""

from datetime import UTC, datetime, timedelta

import pytest
from cryptography import x509
from sqlalchemy import update

from portal.ca.crl import crl_number_floor
from portal.extensions import db
from portal.models import CRLCounter
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


def test_numbers_keep_growing_from_an_old_counter_and_past_a_clock_set_back(app, client,
                                                                            root_ca):
    fetch_crl(client)
    counter = CRLCounter.__table__
    db.session.execute(update(counter).values(last_number=84))  # a deployment from before
    db.session.commit()
    row, _cert, _key = issue(name="old")
    certificates.revoke_certificate(row.serial, actor="test")
    upgraded = crl_number(fetch_crl(client))
    assert upgraded >= crl_number_floor(datetime.now(UTC) - timedelta(minutes=5)) > 84
    ahead = upgraded + 10**15  # as if signed on a host whose clock was 11 days ahead
    db.session.execute(update(counter).values(last_number=ahead))
    db.session.commit()
    row, _cert, _key = issue(name="later")
    certificates.revoke_certificate(row.serial, actor="test")
    assert crl_number(fetch_crl(client)) == ahead + 1
