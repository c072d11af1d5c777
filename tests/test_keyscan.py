"""The key scan itself finds a key however it was written down (so a pass means something)."""

import base64
import json

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.hazmat.primitives.serialization import pkcs12
from sqlalchemy import text

from portal.extensions import db
from portal.services import audit
from tests.keyscan import places_holding_key, secret_forms

PASSWORD = "scan-password-123"
KEYS = {
    "ec": lambda: ec.generate_private_key(ec.SECP256R1()),
    "rsa": lambda: rsa.generate_private_key(public_exponent=65537, key_size=2048),
    "ed25519": ed25519.Ed25519PrivateKey.generate,
}


def _p12(key) -> bytes:
    return pkcs12.serialize_key_and_certificates(
        b"x", key, None, None, serialization.BestAvailableEncryption(PASSWORD.encode()))


def _hidden_forms(key) -> dict[str, bytes]:
    """The ways a careless change could write the key down."""
    der = key.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption())
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption())
    encrypted = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                  serialization.BestAvailableEncryption(PASSWORD.encode()))
    number = secret_forms(key)[1]
    return {
        "pem": pem,
        "der-base64-in-json": json.dumps({"k": base64.b64encode(der).decode()}).encode(),
        "der-urlsafe-base64": base64.urlsafe_b64encode(der).rstrip(b"="),
        "der-hex-with-colons": der.hex(":").encode(),
        "number-hex-upper": number.hex().upper().encode(),
        "pem-base64": base64.b64encode(pem),
        "encrypted-with-the-p12-password": encrypted,
        "the-p12-itself-base64": base64.b64encode(_p12(key)),
        "percent-encoded-pem": "".join(f"%{b:02X}" for b in pem).encode(),
    }


FORMS = sorted(_hidden_forms(KEYS["ec"]()))


@pytest.mark.parametrize("form", FORMS)
@pytest.mark.parametrize("kind", sorted(KEYS))
def test_every_hidden_form_in_a_row_or_a_file_is_found(app, instance, tmp_path, kind, form):
    key = KEYS[kind]()
    p12 = _p12(key)
    assert places_holding_key(key, engine=db.engine, folders=[instance], p12=p12,
                              password=PASSWORD) == []
    hidden = _hidden_forms(key)[form]
    db.session.execute(text("CREATE TABLE scratch (value TEXT)"))
    db.session.execute(text("INSERT INTO scratch VALUES (:v)"), {"v": hidden.decode("latin-1")})
    db.session.commit()
    assert places_holding_key(key, engine=db.engine, p12=p12, password=PASSWORD) == [
        "scratch.value"]
    folder = tmp_path / "files"
    folder.mkdir()
    (folder / "leak").write_bytes(b"prefix " + hidden + b" suffix")
    assert str(folder / "leak") in places_holding_key(key, engine=db.engine, folders=[folder],
                                                      p12=p12, password=PASSWORD)


def test_a_key_base64_encoded_into_an_audit_detail_is_found(app, instance):
    """The mutation that once passed every check: PKCS#8 DER, base64, in an audit event."""
    key = KEYS["ec"]()
    audit.record("key.generate", actor="t", detail=_hidden_forms(key)["der-base64-in-json"]
                 .decode())
    db.session.commit()
    assert places_holding_key(key, engine=db.engine, folders=[instance]) == [
        "audit_events.detail", str(instance / "portal.sqlite3")]
