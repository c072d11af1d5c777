"""Issuance's driver-level writes store what the ORM would, on SQLite and on PostgreSQL.

The hot path compiles its statements once and runs them on the driver's cursor
(portal/services/driver.py). These tests read the rows back through the ORM, force serial
collisions, and check that driver errors arrive as SQLAlchemy's exceptions with nothing written.
"""

import pytest
from cryptography import x509
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from portal.errors import PortalError
from portal.extensions import db
from portal.models import AuditEvent, Certificate, CertificateName
from portal.services import issuance
from tests.pki import make_csr
from tests.reliability.conftest import BACKENDS

pytestmark = pytest.mark.parametrize("backend", BACKENDS, indirect=True)

COLUMNS = [column.key for column in Certificate.__table__.columns]


def _csr(host: str) -> bytes:
    return make_csr(host, sans=[x509.DNSName(host), x509.DNSName(f"www.{host}")])


def _counts() -> tuple[int, int, int]:
    return tuple(db.session.scalar(select(func.count()).select_from(model))
                 for model in (Certificate, CertificateName, AuditEvent))


def test_the_row_read_back_is_what_issuance_returned(app, root_ca):
    issued = issuance.issue_from_csr(_csr("Stored.example.com"), "server", actor="tester")
    db.session.remove()
    row = db.session.get(Certificate, issued.id)
    # Every column of the model, so a column added there and not to IssuedCertificate fails.
    assert set(COLUMNS) == set(issuance.IssuedCertificate.__dataclass_fields__) - {"certificate"}
    for column in COLUMNS:
        assert getattr(row, column) == getattr(issued, column), column
    assert row.not_after.utcoffset().total_seconds() == 0
    assert row.status == "issued" and row.ca.name == "root"
    assert x509.load_der_x509_certificate(row.der).serial_number == int(row.serial, 16)
    assert sorted((name.kind, name.value) for name in row.names) == [
        ("DNS", "stored.example.com"), ("DNS", "www.stored.example.com")]
    event = db.session.scalars(select(AuditEvent).where(AuditEvent.serial == row.serial)).one()
    assert (event.action, event.actor, event.outcome) == ("certificate.issue", "tester", "ok")
    assert event.at.utcoffset().total_seconds() == 0


def test_a_serial_collision_takes_the_next_serial(app, root_ca, monkeypatch):
    first = issuance.issue_from_csr(_csr("one.example.com"), "server", actor="tester")
    serials = iter([int(first.serial, 16), int(first.serial, 16), 0x1234_5678_9ABC_DEF0_1234])
    monkeypatch.setattr(issuance, "random_serial", lambda: next(serials))
    second = issuance.issue_from_csr(_csr("two.example.com"), "server", actor="tester")
    assert second.serial == "123456789ABCDEF01234"
    assert _counts() == (2, 4, 3)  # the CA's creation, then two issuances


def test_only_collisions_end_in_an_error_and_leave_nothing_behind(app, root_ca, monkeypatch):
    first = issuance.issue_from_csr(_csr("one.example.com"), "server", actor="tester")
    before = _counts()
    monkeypatch.setattr(issuance, "random_serial", lambda: int(first.serial, 16))
    with pytest.raises(PortalError, match="unique serial"):
        issuance.issue_from_csr(_csr("two.example.com"), "server", actor="tester")
    assert _counts() == before


def test_a_driver_error_is_sqlalchemys_and_the_pool_still_works(app, root_ca):
    before = _counts()
    with pytest.raises(IntegrityError):  # no user 4242: the foreign key refuses the row
        issuance.issue_from_csr(_csr("orphan.example.com"), "server", owner_id=4242,
                                actor="tester")
    assert _counts() == before
    for index in range(6):  # more than the pool holds: no connection was left in a transaction
        issuance.issue_from_csr(_csr(f"after{index}.example.com"), "server", actor="tester")
    assert _counts()[0] == before[0] + 6
