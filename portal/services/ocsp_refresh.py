"""Keeping stored OCSP responses fresh: `portal ocsp refresh` and `portal serve`'s thread.

A stored response is re-signed once half of its validity has passed (RFC 5019 caches keep it
until nextUpdate at most), a certificate without one gets one, and each CA's responder
certificate is renewed at half of its lifetime. A CA that may not sign (revoked or expired, it
or one above it) is skipped: it signs nothing, and its responder answers `unauthorized`.
"""

import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from sqlalchemy import and_, bindparam, or_, select

from ..errors import CAKeyUnavailable, CAUnusable
from ..extensions import db
from ..models import STATUS_ISSUED, STATUS_REVOKED, Certificate, OCSPResponse
from . import audit, ca_state
from .authorities import list_cas
from .driver import DriverConnection, prepared
from .ocsp_signing import ensure_responder, signer_mode
from .ocsp_store import response_seconds, sign_and_store

BATCH = 500
_r = OCSPResponse.__table__
_c = Certificate.__table__
_DUE = select(_r.c.serial, _r.c.hash_algorithm).select_from(
    _r.join(_c, and_(_c.c.ca_id == _r.c.ca_id, _c.c.serial == _r.c.serial))
).where(
    _r.c.ca_id == bindparam("ca_id"), _r.c.this_update <= bindparam("due_before"),
    _c.c.not_after > bindparam("now"),
).order_by(_r.c.this_update).limit(BATCH)
_MISSING = select(_c.c.serial).select_from(
    _c.outerjoin(_r, and_(_r.c.ca_id == _c.c.ca_id, _r.c.serial == _c.c.serial,
                          _r.c.hash_algorithm == "sha1"))
).where(
    _c.c.ca_id == bindparam("ca_id"),
    or_(_c.c.status == STATUS_ISSUED, _c.c.status == STATUS_REVOKED),
    _c.c.not_after > bindparam("now"), _c.c.profile != "ocsp", _r.c.id.is_(None),
).limit(BATCH)
_EXPIRED = _r.delete().where(_r.c.next_update < bindparam("before"))


@dataclass
class RefreshOutcome:
    """What one refresh did for one CA."""

    ca: str
    signed: int = 0
    responder_renewed: bool = False
    problem: str | None = None
    skipped: list[str] = field(default_factory=list)


def _serials(connection, engine, statement, values) -> list:
    rows = prepared(statement, engine).all(connection.cursor, values)
    connection.rollback()
    return rows


def refresh(*, actor: str, now: datetime | None = None) -> list[RefreshOutcome]:
    """Re-sign what is due, sign what is missing, renew responders; one outcome per CA."""
    now = now or datetime.now(UTC)
    seconds = response_seconds()
    due_before = now - timedelta(seconds=seconds / 2)
    states = ca_state.ca_states()
    engine = db.engine
    outcomes = []
    for ca in list_cas():
        outcome = RefreshOutcome(ca.name)
        outcomes.append(outcome)
        state = states[ca.id]
        if not state.usable:
            outcome.problem = f"signs nothing: {state.problem}"
            continue
        try:
            if signer_mode() == "responder":
                _row, outcome.responder_renewed = ensure_responder(ca, actor=actor, now=now)
            with DriverConnection(engine) as connection:
                for serial, algorithm in _serials(connection, engine, _DUE, {
                        "ca_id": ca.id, "due_before": due_before, "now": now}):
                    sign_and_store(connection, engine, ca.id, serial, (algorithm,))
                    outcome.signed += 1
                for (serial,) in _serials(connection, engine, _MISSING,
                                          {"ca_id": ca.id, "now": now}):
                    sign_and_store(connection, engine, ca.id, serial, ("sha1",))
                    outcome.signed += 1
        except (CAKeyUnavailable, CAUnusable) as exc:
            outcome.problem = exc.message
            audit.record_now("ocsp.refresh", actor=actor, outcome="error",
                             detail=f"CA {ca.name}: {exc.message}"[:2000])
    with DriverConnection(engine) as connection:
        # Responses past their nextUpdate are of certificates no longer refreshed (expired).
        prepared(_EXPIRED, engine).execute(connection.cursor, {"before": now})
        connection.commit()
    return outcomes


def refresh_all(*, actor: str) -> list[RefreshOutcome]:
    """Refresh until nothing due or missing is left (each pass handles a batch per CA)."""
    total: dict[str, RefreshOutcome] = {}
    while True:
        outcomes = refresh(actor=actor)
        more = False
        for outcome in outcomes:
            kept = total.setdefault(outcome.ca, RefreshOutcome(outcome.ca))
            kept.signed += outcome.signed
            kept.responder_renewed |= outcome.responder_renewed
            kept.problem = outcome.problem
            more |= outcome.signed >= BATCH
        if not more:
            return list(total.values())


def run_periodically(app, stop: threading.Event | None = None) -> None:
    """`portal serve`'s thread: refresh every PORTAL_OCSP_REFRESH_INTERVAL seconds (0: never)."""
    interval = int(app.config["PORTAL_OCSP_REFRESH_INTERVAL"])
    if interval <= 0:
        return
    stop = stop or threading.Event()
    while not stop.wait(interval):
        try:
            with app.app_context():
                for outcome in refresh_all(actor="serve:ocsp"):
                    if outcome.problem:
                        app.logger.warning("portal ocsp: CA %s: %s", outcome.ca, outcome.problem)
                db.session.remove()
        except Exception:  # the thread must outlive a database hiccup
            app.logger.exception("portal ocsp: the periodic refresh failed")

