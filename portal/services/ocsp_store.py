"""Pre-signed OCSP responses: signed when a certificate is issued or revoked, stored, refreshed.

One row per certificate and CertID hash algorithm (`ocsp_responses`). SHA-1 answers are signed
when a certificate is issued (what nginx, Apache and openssl ask with); every answered
algorithm is signed when it is revoked, before the revocation returns, so that no stored
"good" can outlive it. A row never goes from revoked back to good: a slow writer that signed
"good" before the revocation loses (the UPDATE refuses it). Writes and the hot reads run on the
driver's cursor (driver.py).
"""

import time
from dataclasses import dataclass
from datetime import UTC, datetime

from flask import current_app
from sqlalchemy import Engine, bindparam, delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from ..ca import ocsp
from ..ca.serials import serial_to_hex
from ..extensions import db
from ..models import (
    STATUS_ISSUED,
    STATUS_REVOKED,
    Certificate,
    CertificateAuthority,
    OCSPCounter,
    OCSPResponder,
    OCSPResponse,
)
from . import cache
from .authorities import ca_certificate
from .driver import DriverConnection, prepared
from .ocsp_cache import raise_epoch
from .ocsp_signing import OCSPSigner, response_signer

SIGNER_RECHECK_SECONDS = 60  # how long a process trusts its responder without asking the database
COUNTER_FLUSH_SECONDS = 5

_r = OCSPResponse.__table__
_c = Certificate.__table__
_KEY = (_r.c.ca_id == bindparam("ca_id"), _r.c.serial == bindparam("serial"),
        _r.c.hash_algorithm == bindparam("hash_algorithm"))
SELECT_STORED = select(_r.c.status, _r.c.this_update, _r.c.next_update, _r.c.der).where(*_KEY)
SELECT_CERTIFICATE = select(_c.c.status, _c.c.revoked_at, _c.c.revocation_reason).where(
    _c.c.ca_id == bindparam("ca_id"), _c.c.serial == bindparam("serial"))
_INSERT = insert(_r)
_INSERT_COLUMNS = ("ca_id", "serial", "hash_algorithm", "status", "this_update", "next_update",
                   "signed_by", "der")
_VALUES = {name: bindparam(f"new_{name}") for name in _INSERT_COLUMNS[3:]}
# A revoked answer replaces anything; any other never replaces a revoked one.
_UPDATE_ANY = update(_r).where(*_KEY).values(**_VALUES)
_UPDATE_UNLESS_REVOKED = update(_r).where(*_KEY, _r.c.status != STATUS_REVOKED).values(**_VALUES)


def response_seconds() -> int:
    """How long a response is valid (nextUpdate - thisUpdate), PORTAL_OCSP_RESPONSE_SECONDS."""
    return max(60, int(current_app.config["PORTAL_OCSP_RESPONSE_SECONDS"]))


def aware(value) -> datetime:
    """A stored time as aware UTC: SQLite's driver hands back text, others naive datetimes."""
    if value.__class__ is str:
        value = datetime.fromisoformat(value)
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


@dataclass(frozen=True)
class CAResponder:
    """What answering for one CA needs, kept per process: its CertID hashes and its signer."""

    ca_id: int
    name: str
    hashes: ocsp.IssuerHashes
    signer: OCSPSigner | None  # None: no responder yet (only when asked not to make one)
    checked_at: float


def ca_responder(ca_id: int, *, create: bool = True) -> CAResponder | None:
    """The CA's responder for this process, re-read from the database once a minute.

    Without `create`: None while the CA has no responder (see response_signer).
    """
    responders = cache.table("ocsp.responders")
    found = responders.get(ca_id)
    fresh = found is not None and time.monotonic() - found.checked_at <= SIGNER_RECHECK_SECONDS
    if fresh and (found.signer is not None or not create):
        return found if found.signer is not None else None
    ca = db.session.get(CertificateAuthority, ca_id)
    hashes = found.hashes if found is not None else ocsp.issuer_hashes(ca_certificate(ca))
    found = responders[ca_id] = CAResponder(
        ca.id, ca.name, hashes, response_signer(ca, create=create), time.monotonic())
    return found if found.signer is not None else None


def status_from_row(row) -> ocsp.CertificateStatus:
    """A certificate row's (status, revoked_at, reason) as OCSP sees it; None row: unknown."""
    if row is None:
        return ocsp.CertificateStatus(ocsp.UNKNOWN)
    status, revoked_at, reason = row
    if status == STATUS_REVOKED:
        return ocsp.CertificateStatus(ocsp.REVOKED, aware(revoked_at), reason)
    if status == STATUS_ISSUED:
        return ocsp.CertificateStatus(ocsp.GOOD)
    return ocsp.CertificateStatus(ocsp.UNKNOWN)  # pending: signed for nobody yet


@dataclass(frozen=True, slots=True)
class SignedResponse:
    """A response just signed, with what the cache headers and the storage need."""

    der: bytes
    status: str
    this_update: datetime
    next_update: datetime


def sign(responder: CAResponder, serial: int, hash_algorithm: str,
         status: ocsp.CertificateStatus, *, nonce: bytes | None = None) -> SignedResponse:
    """Sign one answer for a serial of the CA now."""
    name_hash, key_hash = responder.hashes.by_algorithm[hash_algorithm]
    this_update, next_update = ocsp.validity(datetime.now(UTC), response_seconds())
    der = ocsp.build_response(
        responder.signer.signer, issuer_name_hash=name_hash, issuer_key_hash=key_hash,
        serial=serial, hash_algorithm=hash_algorithm, status=status,
        this_update=this_update, next_update=next_update, nonce=nonce,
    )
    count("signed")
    return SignedResponse(der, status.status, this_update, next_update)


def store(connection: DriverConnection, engine: Engine, responder: CAResponder, serial: str,
          hash_algorithm: str, signed: SignedResponse) -> bool:
    """Insert or replace the stored answer (a revoked one only by another revoked); commit."""
    values = {"ca_id": responder.ca_id, "serial": serial, "hash_algorithm": hash_algorithm}
    new = {"status": signed.status, "this_update": signed.this_update,
           "next_update": signed.next_update, "signed_by": responder.signer.fingerprint,
           "der": signed.der}
    statement = _UPDATE_ANY if signed.status == ocsp.REVOKED else _UPDATE_UNLESS_REVOKED
    update_values = values | {f"new_{name}": value for name, value in new.items()}
    prepared(statement, engine).execute(connection.cursor, update_values)
    if connection.cursor.rowcount:
        connection.commit()
        return True
    try:
        prepared(_INSERT, engine, _INSERT_COLUMNS).execute(connection.cursor, values | new)
        connection.commit()
    except IntegrityError:  # a row exists after all: revoked, so "good" loses
        connection.rollback()
        return False
    return True


def sign_and_store(connection: DriverConnection, engine: Engine, ca_id: int, serial: str,
                   algorithms=("sha1",)) -> ocsp.CertificateStatus:
    """Sign the certificate's current status (read now) for each algorithm and store it."""
    responder = ca_responder(ca_id)
    row = prepared(SELECT_CERTIFICATE, engine).first(
        connection.cursor, {"ca_id": ca_id, "serial": serial})
    connection.rollback()
    status = status_from_row(row)
    if status.status == ocsp.UNKNOWN:
        return status  # pending: nothing to store
    number = int(serial, 16)
    for algorithm in algorithms:
        store(connection, engine, responder, serial, algorithm,
              sign(responder, number, algorithm, status))
    return status


def presign_good(ca_id: int, serial: str) -> dict | None:
    """The new certificate's "good" answer (SHA-1), signed now, as the row to insert.

    None when the CA has no responder yet or signing fails (logged): the first request or
    `portal ocsp refresh` signs it instead, and issuance stands.
    """
    try:
        responder = ca_responder(ca_id, create=False)
        if responder is None:
            return None  # the CA's first OCSP answer issues its responder
        signed = sign(responder, int(serial, 16), "sha1", _GOOD)
    except Exception:
        current_app.logger.warning("OCSP response of %s not pre-signed", serial, exc_info=True)
        return None
    return {"ca_id": ca_id, "serial": serial, "hash_algorithm": "sha1", "status": signed.status,
            "this_update": signed.this_update, "next_update": signed.next_update,
            "signed_by": responder.signer.fingerprint, "der": signed.der}


def insert_presigned(connection: DriverConnection, engine: Engine, row: dict | None) -> None:
    """Add a pre-signed answer to issuance's own transaction (its commit stores both)."""
    if row is not None:
        prepared(_INSERT, engine, _INSERT_COLUMNS).execute(connection.cursor, row)


_GOOD = ocsp.CertificateStatus(ocsp.GOOD)


def after_revocation(ca_id: int, serial: str) -> None:
    """Replace every stored answer for a revoked certificate before the revocation returns.

    Then the revocation epoch is raised: every process drops the answers (and responders) it
    kept, on its next request (ocsp_cache). It is raised even when re-signing failed and the
    stored answers were dropped instead; if raising it fails, the revocation raises.
    """
    engine = db.engine
    try:
        _replace_answers(engine, ca_id, serial)
    finally:
        with DriverConnection(engine) as connection:
            raise_epoch(connection, engine)


def _replace_answers(engine: Engine, ca_id: int, serial: str) -> None:
    try:
        # A revoked responder certificate is replaced: the next signature issues a new one,
        # and what it signed is dropped, so that each is signed anew on its next request.
        fingerprint = db.session.scalar(select(OCSPResponder.fingerprint_sha256).where(
            OCSPResponder.ca_id == ca_id, OCSPResponder.serial == serial))
        if fingerprint is not None:
            db.session.execute(delete(OCSPResponder).where(
                OCSPResponder.ca_id == ca_id, OCSPResponder.serial == serial))
            db.session.execute(delete(OCSPResponse).where(
                OCSPResponse.ca_id == ca_id, OCSPResponse.signed_by == fingerprint))
            cache.table("ocsp.responders").pop(ca_id, None)
        db.session.commit()
        if ca_responder(ca_id, create=False) is None:
            # No responder yet (none is issued just for this): nothing may say "good" now.
            raise LookupError("the CA has no OCSP responder yet")
        with DriverConnection(engine) as connection:
            sign_and_store(connection, engine, ca_id, serial, tuple(ocsp.HASH_ALGORITHMS))
    except LookupError:
        _forget(engine, ca_id, serial)
    except Exception:
        # Nothing stored may say "good" now: drop the stored answers, so requests sign anew.
        db.session.rollback()
        current_app.logger.exception("OCSP responses of %s not re-signed after revocation",
                                     serial)
        _forget(engine, ca_id, serial)


def _forget(engine: Engine, ca_id: int, serial: str) -> None:
    """Drop a certificate's stored answers: the next request signs its status anew."""
    with DriverConnection(engine) as connection:
        prepared(_DELETE_FOR_SERIAL, engine).execute(
            connection.cursor, {"ca_id": ca_id, "serial": serial})
        connection.commit()


_DELETE_FOR_SERIAL = _r.delete().where(_r.c.ca_id == bindparam("ca_id"),
                                       _r.c.serial == bindparam("serial"))


def serial_text(serial: int) -> str | None:
    """The stored form of a requested serial (None when no certificate could carry it)."""
    if not 0 < serial < 1 << 160:
        return None
    return serial_to_hex(serial)


# Counters of responses served and signed: per process, added to the database every few
# seconds (an UPDATE per response would cost more than serving it).
def count(name: str, amount: int = 1) -> None:
    """Count a served or signed response in this process."""
    pending = cache.table("ocsp.counts")
    pending[name] = pending.get(name, 0) + amount


def flush_counters(connection: DriverConnection, engine: Engine, *, force: bool = False) -> None:
    """Add this process's counts to the database when a few seconds have passed."""
    now = time.monotonic()
    flushed = cache.table("ocsp.flushed")
    if not force and now - flushed.get("at", now - COUNTER_FLUSH_SECONDS) < COUNTER_FLUSH_SECONDS:
        return
    flushed["at"] = now
    _pending = cache.table("ocsp.counts")
    for name in list(_pending):
        amount = _pending.pop(name, 0)
        if not amount:
            continue
        try:
            prepared(_ADD_COUNT, engine).execute(
                connection.cursor, {"name": name, "amount": amount})
            connection.commit()
            if not connection.cursor.rowcount:  # the first count ever (the row has no id)
                with engine.begin() as core:
                    core.execute(_INSERT_COUNT, {"name": name, "value": amount})
        except IntegrityError:  # another process inserted it first: add once more
            connection.rollback()
            _pending[name] = _pending.get(name, 0) + amount


_counter = OCSPCounter.__table__
_ADD_COUNT = update(_counter).where(_counter.c.name == bindparam("name")).values(
    value=_counter.c.value + bindparam("amount"))
_INSERT_COUNT = insert(_counter)
