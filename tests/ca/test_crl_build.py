"""The CRL core on its own: no app, no database."""

import ast
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from portal.ca.authority import ca_subject, create_root_ca
from portal.ca.crl import (
    MAX_CRL_NUMBER,
    build_crl,
    crl_der,
    crl_number_floor,
    der_to_pem,
    revoked_entries,
    revoked_entry,
)
from portal.ca.signer import CASigner

NOW = datetime(2030, 5, 1, 12, 0, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def signer():
    certificate, key = create_root_ca(ca_subject("CRL test root"), key_type="ec-p256", days=30)
    return CASigner(certificate, key)


def test_crl_core_imports_neither_flask_nor_sqlalchemy():
    source = Path(__file__).resolve().parents[2] / "portal" / "ca" / "crl.py"
    imported = set()
    for node in ast.walk(ast.parse(source.read_text())):
        if isinstance(node, ast.Import):
            imported.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            imported.add(node.module.split(".")[0])
    assert not imported & {"flask", "sqlalchemy", "flask_sqlalchemy"}


def test_build_crl_is_v2_with_number_aki_dates_and_reasons(signer):
    entries = revoked_entries([
        ("0A1B", NOW - timedelta(days=1), "keyCompromise"),
        (0x2C3D, NOW - timedelta(hours=1), "unspecified"),
        ("4E5F", (NOW - timedelta(minutes=5)).replace(tzinfo=None), None),
    ])
    crl = build_crl(signer, entries, number=7, this_update=NOW,
                    next_update=NOW + timedelta(days=7))
    assert crl.is_signature_valid(signer.certificate.public_key())
    assert crl.issuer == signer.certificate.subject
    assert crl.last_update_utc == NOW
    assert crl.next_update_utc == NOW + timedelta(days=7)
    assert crl.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number == 7
    aki = crl.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier).value
    assert aki == signer.key_identifier
    by_serial = {entry.serial_number: entry for entry in crl}
    assert set(by_serial) == {0x0A1B, 0x2C3D, 0x4E5F}
    reason = by_serial[0x0A1B].extensions.get_extension_for_class(x509.CRLReason).value
    assert reason.reason == x509.ReasonFlags.key_compromise
    # RFC 5280 5.3.1: no reasonCode extension rather than "unspecified".
    assert len(by_serial[0x2C3D].extensions) == 0
    assert len(by_serial[0x4E5F].extensions) == 0
    assert by_serial[0x0A1B].revocation_date_utc == NOW - timedelta(days=1)
    assert by_serial[0x4E5F].revocation_date_utc == NOW - timedelta(minutes=5)


def test_empty_crl(signer):
    crl = build_crl(signer, [], number=1, this_update=NOW, next_update=NOW + timedelta(days=1))
    assert len(crl) == 0 and crl.is_signature_valid(signer.certificate.public_key())


@pytest.mark.parametrize("number", [0, -1, 1 << 159])
def test_refuses_a_bad_crl_number(signer, number):
    with pytest.raises(ValueError, match="CRL number"):
        build_crl(signer, [], number=number, this_update=NOW, next_update=NOW + timedelta(1))


def test_refuses_next_update_before_this_update(signer):
    with pytest.raises(ValueError, match="nextUpdate"):
        build_crl(signer, [], number=1, this_update=NOW, next_update=NOW)


@pytest.mark.parametrize("serial", [0, -5, 1 << 159])
def test_refuses_a_bad_serial(serial):
    with pytest.raises(ValueError, match="serial"):
        revoked_entry(serial, NOW, None)


def test_refuses_an_unknown_reason():
    with pytest.raises(ValueError, match="reason"):
        revoked_entry(5, NOW, "certificateHold")


def test_der_to_pem_matches_cryptography(signer):
    entries = revoked_entries((serial, NOW, "superseded") for serial in range(1, 500))
    crl = build_crl(signer, entries, number=3, this_update=NOW,
                    next_update=NOW + timedelta(days=7))
    der = crl_der(crl)
    assert der_to_pem(der) == crl.public_bytes(serialization.Encoding.PEM)
    assert x509.load_pem_x509_crl(der_to_pem(der)).public_bytes(
        serialization.Encoding.DER) == der


def test_crl_number_floor_is_nanoseconds_and_fits_everywhere():
    moment = datetime(2026, 12, 1, 13, 0, 0, 250_000, tzinfo=UTC)
    assert crl_number_floor(moment) == 1_796_130_000_250_000_000
    assert crl_number_floor(moment.replace(tzinfo=None)) == crl_number_floor(moment)
    assert crl_number_floor(moment + timedelta(microseconds=1)) > crl_number_floor(moment)
    latest = crl_number_floor(datetime(2262, 1, 1, tzinfo=UTC))
    assert latest < 2**63 - 1  # a signed 64-bit column (SQLite INTEGER, PostgreSQL BIGINT)
    assert latest <= MAX_CRL_NUMBER  # RFC 5280: at most 20 octets
