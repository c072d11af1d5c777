"""Answering one OCSP request: kept in this process, else stored, else signed now.

Per request: the revocation epoch is read (one single-row query); an answer this process kept
for the same request bytes under that epoch is sent as it is (ocsp_cache). Otherwise the
request is parsed, its issuer found among the portal's CAs by CertID hashes (kept per process),
the CAs' state read (one small query: a revoked or expired CA, or one under it, answers
`unauthorized`: it signs nothing, and nothing it signed before is served), then the stored
response read (one indexed query) and kept. Only a request with a nonce, a response missing or
past half of its validity, or an unknown serial not asked for lately costs a signature.
"""

import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial

from flask import current_app
from sqlalchemy import select

from ..ca import ocsp
from ..errors import CAKeyUnavailable, CAUnusable
from ..extensions import db
from ..models import CertificateAuthority
from . import ca_state, cache, ocsp_cache
from .driver import DriverConnection, prepared, thread_connection
from .ocsp_store import (
    SELECT_CERTIFICATE,
    SELECT_STORED,
    aware,
    ca_responder,
    count,
    flush_counters,
    serial_text,
    sign,
    status_from_row,
    store,
)

ISSUERS_RELOAD_SECONDS = 10  # an unknown issuer reloads the CA list at most this often


class SignatureBudget:
    """A token bucket: at most `rate` signatures a second in this process, `rate` at once."""

    def __init__(self, rate: float, clock=time.monotonic):
        self.rate = rate
        self._clock = clock
        self._tokens = rate
        self._at = clock()
        self._lock = threading.Lock()

    def take(self) -> bool:
        """Spend one signature if the budget has one left."""
        with self._lock:
            now = self._clock()
            self._tokens = min(self.rate, self._tokens + (now - self._at) * self.rate)
            self._at = now
            if self._tokens < 1:
                return False
            self._tokens -= 1
            return True


# Each request for a serial the CA never issued costs a signature (the answer names the
# serial, so none can be signed ahead). The same request again gets the answer kept for it
# (ocsp_cache.UNKNOWN_SECONDS); new made-up serials past this rate get an unsigned tryLater,
# so a scan costs each worker at most this many signatures a second (~140 µs each).
UNKNOWN_SIGNATURES_PER_SECOND = 50


@dataclass(frozen=True, slots=True)
class Answer:
    """An OCSP response to send: its bytes, and its times when it may be cached (RFC 5019)."""

    der: bytes
    this_update: datetime | None = None
    next_update: datetime | None = None
    cacheable: bool = False


def _error(status: str) -> Answer:
    return Answer(ocsp.unsuccessful(status))


def _issuers() -> dict:
    """(algorithm, issuerNameHash, issuerKeyHash) -> (CA id, CA name), for every CA."""
    table = cache.table("ocsp.issuers")
    by_fingerprint = cache.table("ocsp.issuer_hashes")
    found = {}
    for ca_id, name, fingerprint, der in db.session.execute(select(
            CertificateAuthority.id, CertificateAuthority.name,
            CertificateAuthority.fingerprint_sha256, CertificateAuthority.certificate_der)):
        hashes = by_fingerprint.get(fingerprint)
        if hashes is None:
            from cryptography import x509

            hashes = by_fingerprint[fingerprint] = ocsp.issuer_hashes(
                x509.load_der_x509_certificate(der))
        for algorithm, (name_hash, key_hash) in hashes.by_algorithm.items():
            found[(algorithm, name_hash, key_hash)] = (ca_id, name)
    db.session.rollback()
    table["map"], table["at"] = found, time.monotonic()
    return found


def find_issuer(query: ocsp.OCSPQuery) -> tuple[int, str] | None:
    """The portal CA a request's CertID names (id, name), or None."""
    table = cache.table("ocsp.issuers")
    key = (query.hash_algorithm, query.issuer_name_hash, query.issuer_key_hash)
    known = table.get("map")
    if known is not None and key in known:
        return known[key]
    if known is None or time.monotonic() - table["at"] > ISSUERS_RELOAD_SECONDS:
        return _issuers().get(key)
    return None


def answer(request_der: bytes, *, ca_name: str | None = None) -> Answer:
    """The response to one DER OCSP request (at /ca/<ca_name>/ocsp: for that CA only)."""
    engine = db.engine
    with thread_connection(engine) as connection:
        kept = ocsp_cache.current(connection, engine)  # the one query of an answer kept here
        now = datetime.now(UTC)
        found = kept.find(request_der, ca_name, now)
        if found is not None:
            count("served")
            flush_counters(connection, engine)
            return found
        return _answer(connection, engine, kept, request_der, ca_name, now)


def _answer(connection: DriverConnection, engine, kept: ocsp_cache.Generation,
            request_der: bytes, ca_name: str | None, now: datetime) -> Answer:
    try:
        query = ocsp.parse_request(request_der)
    except ocsp.MalformedRequest:
        return _error("malformedRequest")
    serial = serial_text(query.serial)
    issuer = find_issuer(query)
    if issuer is None or (ca_name is not None and issuer[1] != ca_name):
        return _error("unauthorized")  # not a CA of this portal (or not this URL's CA)
    if serial is None:
        return _error("malformedRequest")  # no certificate can carry such a serial
    ca_id = issuer[0]
    try:
        states = ca_state.ca_states_on(connection, engine)
        state = states[ca_id]
    except KeyError:  # the CA is gone (a restore from before it): nobody answers for it
        return _error("unauthorized")
    if not state.usable:
        return _error("unauthorized")  # a revoked or expired CA vouches for nothing
    flush_counters(connection, engine)
    values = {"ca_id": ca_id, "serial": serial, "hash_algorithm": query.hash_algorithm}
    stored = prepared(SELECT_STORED, engine).first(connection.cursor, values)
    connection.rollback()
    keep = None if query.nonce is not None else partial(
        kept.keep, request_der, ca_name=issuer[1], ca_until=states.usable_until(ca_id))
    if stored is not None:
        _status, this_update, next_update, der = stored
        der = bytes(der)  # some drivers hand back a memoryview
        this_update, next_update = aware(this_update), aware(next_update)
        if query.nonce is None and now < this_update + (next_update - this_update) / 2:
            count("served")
            result = Answer(der, this_update, next_update, cacheable=True)
            keep(result)
            return result
    try:
        return _sign_now(connection, engine, ca_id, serial, query, keep)
    except (CAKeyUnavailable, CAUnusable) as exc:
        current_app.logger.error("OCSP: CA %s cannot sign: %s", issuer[1], exc.message)
        if stored is not None and now < next_update and query.nonce is None:
            count("served")  # still valid: better than no answer
            return Answer(der, this_update, next_update, cacheable=True)
        return _error("tryLater")


def _sign_now(connection: DriverConnection, engine, ca_id: int, serial: str,
              query: ocsp.OCSPQuery, keep) -> Answer:
    row = prepared(SELECT_CERTIFICATE, engine).first(
        connection.cursor, {"ca_id": ca_id, "serial": serial})
    connection.rollback()
    status = status_from_row(row)
    if status.status == ocsp.UNKNOWN and not cache.process_cache().value(
            "ocsp.unknown_budget", lambda: SignatureBudget(UNKNOWN_SIGNATURES_PER_SECOND)).take():
        return _error("tryLater")  # made-up serials, faster than this process signs them
    responder = ca_responder(ca_id)
    signed = sign(responder, query.serial, query.hash_algorithm, status, nonce=query.nonce)
    count("served")
    if query.nonce is not None:
        return Answer(signed.der)  # for this client alone: not to be cached
    result = Answer(signed.der, signed.this_update, signed.next_update, cacheable=True)
    if status.status == ocsp.UNKNOWN:
        keep(result, unknown=True)
    elif store(connection, engine, responder, serial, query.hash_algorithm, signed):
        keep(result)  # what the database now holds (a "good" that lost to a revocation: not)
    return result
