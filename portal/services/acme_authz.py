"""ACME authorizations and challenges (RFC 8555 §7.5): made, reused, answered, decided.

A challenge the client answers becomes `processing`; the validation worker
(acme_validation.py) decides it. Its outcome, the authorization's and every affected order's
status change in one transaction: the order is `ready` the moment its last authorization is
valid, so a client that finalizes without polling again (certbot) finds it ready.
"""

import json
import secrets
from datetime import UTC, datetime, timedelta

from sqlalchemy import and_, bindparam, insert, or_, select, update

from ..acme.identifiers import Identifier
from ..acme.problems import AcmeProblem, not_found
from ..acme_models import (
    AcmeAuthorization,
    AcmeChallenge,
    AcmeOrder,
    AcmeOrderAuthorization,
)
from ..extensions import db
from . import acme_rows, audit
from .acme_rows import AuthorizationRow, ChallengeRow
from .driver import DriverConnection, thread_connection

PENDING_LIFETIME = timedelta(days=7)
VALID_LIFETIME = timedelta(days=30)
VALIDATION_DEADLINE = timedelta(minutes=2)
# Reused only while it stays valid long enough for the order to be finalized.
REUSE_MARGIN = timedelta(days=1)


def challenge_types(identifier: Identifier) -> tuple[str, ...]:
    """The challenges offered: dns-01 only for a wildcard, no dns-01 for an IP (RFC 8738)."""
    if identifier.wildcard:
        return ("dns-01",)
    if identifier.type == "ip":
        return ("http-01", "tls-alpn-01")
    return ("http-01", "dns-01", "tls-alpn-01")


_AUTHZS = AcmeAuthorization.__table__
_CHALLENGES = AcmeChallenge.__table__
_REUSABLE = select(_AUTHZS.c.id).where(
    _AUTHZS.c.account_id == bindparam("account_id"),
    _AUTHZS.c.identifier_value == bindparam("value"),
    _AUTHZS.c.identifier_type == bindparam("type"),
    _AUTHZS.c.wildcard == bindparam("wildcard"),
    _AUTHZS.c.status == "valid",
    _AUTHZS.c.expires > bindparam("after"),
).order_by(_AUTHZS.c.expires.desc()).limit(1)
_INSERT_AUTHZ = insert(_AUTHZS)
_AUTHZ_COLUMNS = ("account_id", "identifier_type", "identifier_value", "wildcard", "status",
                  "expires")
_INSERT_CHALLENGE = insert(_CHALLENGES)
_CHALLENGE_COLUMNS = ("authorization_id", "type", "token", "status")


def authorization_for(connection: DriverConnection, account, identifier: Identifier,
                      now: datetime) -> tuple[int, str]:
    """A valid authorization of the account for `identifier` to reuse, or a new pending one.

    On the caller's driver connection (and in its transaction): the id and the status.
    """
    reusable = connection.first(_REUSABLE, {
        "account_id": account.id, "value": identifier.base, "type": identifier.type,
        "wildcard": identifier.wildcard, "after": now + REUSE_MARGIN})
    if reusable is not None:
        return reusable[0], "valid"
    authz_id = connection.execute(_INSERT_AUTHZ, {
        "account_id": account.id, "identifier_type": identifier.type,
        "identifier_value": identifier.base, "wildcard": identifier.wildcard,
        "status": "pending", "expires": now + PENDING_LIFETIME}, _AUTHZ_COLUMNS)
    connection.execute_many(_INSERT_CHALLENGE, [
        {"authorization_id": authz_id, "type": kind, "token": secrets.token_urlsafe(32),
         "status": "pending"} for kind in challenge_types(identifier)
    ], _CHALLENGE_COLUMNS)
    return authz_id, "pending"


def _identifier(authz: AcmeAuthorization) -> dict:
    return {"type": authz.identifier_type, "value": authz.identifier_value}


def challenge_json(challenge: AcmeChallenge, base: str) -> dict:
    """The challenge object (§8)."""
    body = {"type": challenge.type, "url": f"{base}/chall/{challenge.id}",
            "token": challenge.token, "status": challenge.status}
    if challenge.validated is not None:
        body["validated"] = _rfc3339(challenge.validated)
    if challenge.error:
        body["error"] = json.loads(challenge.error)
    return body


def authorization_json(authz: AuthorizationRow, base: str) -> dict:
    """The authorization object (§7.1.4) with its challenges."""
    challenges = acme_rows.challenges_of(authz.id)
    status = authz.status
    if status in ("pending", "valid") and authz.expires <= datetime.now(UTC):
        status = "expired"
    shown = [challenge_json(c, base) for c in challenges]
    if status == "valid":  # only the challenge that proved it (§7.1.4)
        shown = [c for c in shown if c["status"] == "valid"] or shown
    body = {"identifier": _identifier(authz), "status": status,
            "expires": _rfc3339(authz.expires), "challenges": shown}
    if authz.wildcard:
        body["wildcard"] = True
    return body


def _rfc3339(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def own_authorization(account, authz_id: int) -> AuthorizationRow:
    """The account's authorization `authz_id`; 404 for another's or a missing one."""
    authz = acme_rows.authorization(authz_id)
    if authz is None or authz.account_id != account.id:
        raise not_found("authorization")
    return authz


def own_challenge(account, challenge_id: int) -> tuple[ChallengeRow, AuthorizationRow]:
    """The account's challenge `challenge_id` and its authorization; 404 otherwise."""
    challenge = acme_rows.challenge(challenge_id)
    if challenge is None:
        raise not_found("challenge")
    return challenge, own_authorization(account, challenge.authorization_id)


def deactivate_authorization(account, authz: AuthorizationRow, actor: str) -> AuthorizationRow:
    """The client gives up an authorization (§7.5.2); its pending orders become invalid."""
    row = db.session.get(AcmeAuthorization, authz.id)
    if row.status not in ("pending", "valid"):
        raise AcmeProblem("malformed", f"the authorization is {row.status}")
    row.status = "deactivated"
    _invalidate_orders(row.id, None)
    audit.record("acme.authz.deactivate", actor=actor, detail=f"authz {row.id}")
    db.session.commit()
    return acme_rows.authorization(authz.id)


_ANSWER = update(_CHALLENGES).where(
    _CHALLENGES.c.id == bindparam("challenge_id"), _CHALLENGES.c.status == "pending"
).values(status="processing", next_attempt_at=bindparam("now"),
         deadline=bindparam("deadline"))


def answer_challenge(challenge: ChallengeRow, authz: AuthorizationRow, actor: str
                     ) -> ChallengeRow:
    """The client says it is ready (§7.5.1): queue the challenge for the validation worker.

    The challenge as it is now.
    """
    now = datetime.now(UTC)
    if authz.status != "pending" or authz.expires <= now:
        return challenge  # nothing to do: answered already, or decided (the object says which)
    if challenge.status != "pending":
        return challenge
    with thread_connection(db.engine) as connection:
        connection.execute(_ANSWER, {"challenge_id": challenge.id, "now": now,
                                     "deadline": now + VALIDATION_DEADLINE})
        taken = connection.cursor.rowcount
        if taken:
            audit.insert_on_driver(connection, None, audit.event_row(
                "acme.challenge.answer", actor=actor,
                detail=f"{challenge.type} for {authz.identifier_value}"))
        connection.commit()
    if taken:
        from .acme_validation import wake  # acme_validation imports this module

        wake()
    return acme_rows.challenge(challenge.id)


_ORDERS = AcmeOrder.__table__
_LINKS = AcmeOrderAuthorization.__table__
_DECIDING = select(
    _CHALLENGES.c.type, _CHALLENGES.c.status, _CHALLENGES.c.deadline,
    _CHALLENGES.c.authorization_id, _AUTHZS.c.identifier_value,
).join(_AUTHZS, _AUTHZS.c.id == _CHALLENGES.c.authorization_id).where(
    _CHALLENGES.c.id == bindparam("challenge_id"))
_STILL_PROCESSING = (_CHALLENGES.c.id == bindparam("challenge_id"),
                     _CHALLENGES.c.status == "processing")
_RETRY = update(_CHALLENGES).where(*_STILL_PROCESSING).values(
    attempts=_CHALLENGES.c.attempts + 1, next_attempt_at=bindparam("retry_at"),
    claimed_until=None, error=bindparam("error"))
_DECIDE = update(_CHALLENGES).where(*_STILL_PROCESSING).values(
    status=bindparam("status"), validated=bindparam("validated"), error=bindparam("error"),
    claimed_until=None)
_AUTHZ_PENDING = (_AUTHZS.c.id == bindparam("authz_id"), _AUTHZS.c.status == "pending")
_AUTHZ_VALID = update(_AUTHZS).where(*_AUTHZ_PENDING).values(
    status="valid", expires=bindparam("expires"))
_AUTHZ_INVALID = update(_AUTHZS).where(*_AUTHZ_PENDING).values(status="invalid")
_ORDERS_OF = select(_LINKS.c.order_id).where(_LINKS.c.authorization_id == bindparam("authz_id"))
_NOT_VALID_YET = select(_LINKS.c.order_id).join(
    _AUTHZS, _AUTHZS.c.id == _LINKS.c.authorization_id
).where(and_(_LINKS.c.order_id == _ORDERS.c.id, _AUTHZS.c.status != "valid"))
# Pending orders of the authorization whose authorizations are now all valid: ready.
_COMPLETE_ORDERS = update(_ORDERS).where(
    _ORDERS.c.id.in_(_ORDERS_OF), _ORDERS.c.status == "pending", ~_NOT_VALID_YET.exists()
).values(status="ready")
# Pending or ready orders of the authorization can no longer complete: invalid.
_INVALIDATE_ORDERS = update(_ORDERS).where(
    # two comparisons, not IN (...): the driver path compiles no expanding parameter
    _ORDERS.c.id.in_(_ORDERS_OF), or_(_ORDERS.c.status == "pending", _ORDERS.c.status == "ready")
).values(status="invalid", error=bindparam("error"))


def record_outcome(challenge_id: int, error: dict | None, *, retry_at: datetime | None = None
                   ) -> None:
    """Store a validation attempt: valid, a retry later, or invalid with `error` (a problem).

    In one transaction with the authorization and the orders it completes or fails, on the
    driver connection; a challenge decided meanwhile (by another host) is left as it is.
    """
    now = datetime.now(UTC)
    with thread_connection(db.engine) as connection:
        found = connection.first(_DECIDING, {"challenge_id": challenge_id})
        if found is None or found[1] != "processing":
            return
        kind, _, deadline, authz_id, value = found
        if error is not None and retry_at is not None and retry_at < deadline:
            connection.execute(_RETRY, {"challenge_id": challenge_id, "retry_at": retry_at,
                                        "error": json.dumps(error)})
            connection.commit()
            return
        connection.execute(_DECIDE, {
            "challenge_id": challenge_id, "status": "valid" if error is None else "invalid",
            "validated": now if error is None else None,
            "error": None if error is None else json.dumps(error)})
        if not connection.cursor.rowcount:
            return  # decided meanwhile: rolled back when the connection is given back
        actor = f"acme:validation:authz {authz_id}"
        if error is None:
            connection.execute(_AUTHZ_VALID, {"authz_id": authz_id,
                                              "expires": now + VALID_LIFETIME})
            if connection.cursor.rowcount:
                connection.execute(_COMPLETE_ORDERS, {"authz_id": authz_id})
            row = audit.event_row("acme.challenge.valid", actor=actor,
                                  detail=f"{kind} for {value}")
        else:
            connection.execute(_AUTHZ_INVALID, {"authz_id": authz_id})
            if connection.cursor.rowcount:
                connection.execute(_INVALIDATE_ORDERS, {"authz_id": authz_id,
                                                        "error": json.dumps(error)})
            row = audit.event_row("acme.challenge.invalid", actor=actor, outcome="refused",
                                  detail=f"{kind} for {value}: "
                                         f"{error.get('detail', '')[:300]}")
        audit.insert_on_driver(connection, None, row)
        connection.commit()


def _invalidate_orders(authz_id: int, error: dict | None) -> None:
    """Pending or ready orders of this authorization can no longer complete: invalid."""
    db.session.execute(_INVALIDATE_ORDERS, {"authz_id": authz_id,
                                            "error": json.dumps(error) if error else None})
