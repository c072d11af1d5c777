"""Serial numbers: random, unique, at least 64 random bits, and readable in any usual notation."""

import subprocess

import pytest
from cryptography import x509
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import func, select

from portal.ca.pem import to_pem
from portal.ca.serials import SERIAL_BITS, normalize_serial, random_serial, serial_to_hex
from portal.errors import InvalidInput
from portal.extensions import db
from portal.models import Certificate
from portal.services import certificates, issuance
from tests.conftest import require_program
from tests.pki import make_csr

COUNT = 1000


@pytest.fixture
def issued_serials(app, root_ca) -> list[int]:
    """1,000 certificates issued through the service, every row committed; their serials."""
    csr = make_csr("serial.example.com", sans=[x509.DNSName("serial.example.com")])
    serials = []
    for _ in range(COUNT):
        row = issuance.issue_from_csr(csr, "server", actor="test")
        serials.append(certificates.load_x509(row).serial_number)
        assert row.serial == serial_to_hex(serials[-1])
    db.session.remove()
    return serials


def test_a_thousand_issued_serials_are_unique_and_random(issued_serials):
    assert len(set(issued_serials)) == COUNT
    stored = db.session.scalars(select(Certificate.serial).filter_by(status="issued")).all()
    assert len(stored) == COUNT
    assert db.session.scalar(select(func.count(func.distinct(Certificate.serial)))) == COUNT
    assert sorted(stored) == sorted(serial_to_hex(serial) for serial in issued_serials)
    for serial in issued_serials:
        # RFC 5280: positive and at most 20 octets (159 bits leave room for the sign);
        # CA/B Forum: at least 64 bits from a CSPRNG.
        assert 0 < serial < 2**SERIAL_BITS
        assert serial.bit_length() > 64
    # Every bit position varies: about half of the serials have each bit set. For 1,000 fair
    # coins the count is 500 +- 16 (one standard deviation); 350..650 is over 9 of them.
    for position in range(SERIAL_BITS):
        ones = sum((serial >> position) & 1 for serial in issued_serials)
        assert 350 <= ones <= 650, f"bit {position} is set in {ones} of {COUNT} serials"
    # Consecutive serials are unrelated (no counter hidden in them).
    differences = {b - a for a, b in zip(issued_serials, issued_serials[1:], strict=False)}
    assert len(differences) == COUNT - 1


def test_random_serial_bounds():
    for _ in range(2000):
        serial = random_serial()
        assert 64 < serial.bit_length() <= SERIAL_BITS


def test_stored_serial_is_what_openssl_prints(app, root_ca, tmp_path):
    row = issuance.issue_from_csr(
        make_csr("www.example.com", sans=[x509.DNSName("www.example.com")]), "server",
        actor="test",
    )
    path = tmp_path / "leaf.pem"
    path.write_bytes(to_pem(certificates.load_x509(row)))
    printed = subprocess.run(
        [require_program("openssl"), "x509", "-in", str(path), "-noout", "-serial"],
        check=True, capture_output=True, text=True, timeout=60,
    ).stdout.strip()
    assert printed == f"serial={row.serial}"
    assert normalize_serial(printed) == row.serial
    for notation in (printed, row.serial.lower(), ":".join(
            row.serial[i:i + 2] for i in range(0, len(row.serial), 2)), "0x" + row.serial):
        assert certificates.get_certificate(notation).id == row.id


@pytest.mark.parametrize(
    ("typed", "canonical"),
    [
        ("serial=0A1B2C", "0A1B2C"),
        ("SERIAL=0a1b2c", "0A1B2C"),
        ("0a:1b:2c", "0A1B2C"),
        ("0A:1B:2C", "0A1B2C"),
        ("  a1b2c \n", "0A1B2C"),
        ("0xA1B2C", "0A1B2C"),
        ("0a 1b 2c", "0A1B2C"),
        ("00ff", "FF"),
        ("1", "01"),
    ],
)
def test_normalize_serial_accepts_usual_notations(typed, canonical):
    assert normalize_serial(typed) == canonical


@pytest.mark.parametrize("typed", ["", "   ", "serial=", "0x", "xyz", "12-34", "1" * 43, "é"])
def test_normalize_serial_refuses_what_is_not_a_serial(typed):
    with pytest.raises(InvalidInput) as raised:
        normalize_serial(typed)
    assert "not a serial number" in raised.value.message


@given(st.integers(min_value=1, max_value=2**SERIAL_BITS - 1))
def test_every_notation_of_a_serial_normalises_to_the_same_text(serial):
    canonical = serial_to_hex(serial)
    assert canonical == canonical.upper() and len(canonical) % 2 == 0
    assert int(canonical, 16) == serial
    colons = ":".join(canonical[i:i + 2] for i in range(0, len(canonical), 2))
    for typed in (canonical, canonical.lower(), colons, colons.lower(), f"serial={canonical}",
                  f"0x{serial:x}", f"{serial:x}"):
        assert normalize_serial(typed) == canonical
