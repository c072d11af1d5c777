"""ACME authorizations and challenges (RFC 8555 §7.5): made, reused, answered, decided.

A challenge the client answers becomes `processing`; the validation worker
(acme_validation.py) decides it. Its outcome, the authorization's and every affected order's
status change in one transaction: the order is `ready` the moment its last authorization is
valid, so a client that finalizes without polling again (certbot) finds it ready.
"""

import json
import secrets
from datetime import UTC, datetime, timedelta

from sqlalchemy import and_, select, update

from ..acme.identifiers import Identifier
from ..acme.problems import AcmeProblem, not_found
from ..acme_models import (
    AcmeAccount,
    AcmeAuthorization,
    AcmeChallenge,
    AcmeOrder,
    AcmeOrderAuthorization,
)
from ..extensions import db
from . import audit

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


def authorization_for(account: AcmeAccount, identifier: Identifier, now: datetime
                      ) -> AcmeAuthorization:
    """A valid authorization of the account for `identifier` to reuse, or a new pending one."""
    reusable = db.session.scalar(
        select(AcmeAuthorization).filter(
            AcmeAuthorization.account_id == account.id,
            AcmeAuthorization.identifier_value == identifier.base,
            AcmeAuthorization.identifier_type == identifier.type,
            AcmeAuthorization.wildcard == identifier.wildcard,
            AcmeAuthorization.status == "valid",
            AcmeAuthorization.expires > now + REUSE_MARGIN,
        ).order_by(AcmeAuthorization.expires.desc()).limit(1)
    )
    if reusable is not None:
        return reusable
    authz = AcmeAuthorization(
        account_id=account.id, identifier_type=identifier.type,
        identifier_value=identifier.base, wildcard=identifier.wildcard, status="pending",
        expires=now + PENDING_LIFETIME,
    )
    db.session.add(authz)
    db.session.flush()
    for kind in challenge_types(identifier):
        db.session.add(AcmeChallenge(authorization_id=authz.id, type=kind,
                                     token=secrets.token_urlsafe(32), status="pending"))
    return authz


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


def authorization_json(authz: AcmeAuthorization, base: str) -> dict:
    """The authorization object (§7.1.4) with its challenges."""
    challenges = db.session.scalars(
        select(AcmeChallenge).filter_by(authorization_id=authz.id).order_by(AcmeChallenge.id)
    )
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


def own_authorization(account: AcmeAccount, authz_id: int) -> AcmeAuthorization:
    """The account's authorization `authz_id`; 404 for another's or a missing one."""
    authz = db.session.get(AcmeAuthorization, authz_id)
    if authz is None or authz.account_id != account.id:
        raise not_found("authorization")
    return authz


def own_challenge(account: AcmeAccount, challenge_id: int
                  ) -> tuple[AcmeChallenge, AcmeAuthorization]:
    """The account's challenge `challenge_id` and its authorization; 404 otherwise."""
    challenge = db.session.get(AcmeChallenge, challenge_id)
    if challenge is None:
        raise not_found("challenge")
    return challenge, own_authorization(account, challenge.authorization_id)


def deactivate_authorization(account: AcmeAccount, authz: AcmeAuthorization, actor: str) -> None:
    """The client gives up an authorization (§7.5.2); its pending orders become invalid."""
    if authz.status not in ("pending", "valid"):
        raise AcmeProblem("malformed", f"the authorization is {authz.status}")
    authz.status = "deactivated"
    _invalidate_orders(authz.id, None)
    audit.record("acme.authz.deactivate", actor=actor, detail=f"authz {authz.id}")
    db.session.commit()


def answer_challenge(challenge: AcmeChallenge, authz: AcmeAuthorization, actor: str) -> None:
    """The client says it is ready (§7.5.1): queue the challenge for the validation worker."""
    now = datetime.now(UTC)
    if authz.status != "pending" or authz.expires <= now:
        return  # nothing to do: answered already, or decided (the object says which)
    if challenge.status != "pending":
        return
    taken = db.session.execute(
        update(AcmeChallenge).where(AcmeChallenge.id == challenge.id,
                                    AcmeChallenge.status == "pending")
        .values(status="processing", next_attempt_at=now, deadline=now + VALIDATION_DEADLINE)
    ).rowcount
    if taken:
        audit.record("acme.challenge.answer", actor=actor,
                     detail=f"{challenge.type} for {authz.identifier_value}")
    db.session.commit()
    if taken:
        from .acme_validation import wake  # acme_validation imports this module

        wake()
    db.session.refresh(challenge)


def record_outcome(challenge_id: int, error: dict | None, *, retry_at: datetime | None = None
                   ) -> None:
    """Store a validation attempt: valid, a retry later, or invalid with `error` (a problem).

    In one transaction with the authorization and the orders it completes or fails.
    """
    now = datetime.now(UTC)
    challenge = db.session.get(AcmeChallenge, challenge_id)
    if challenge is None or challenge.status != "processing":
        db.session.rollback()
        return
    authz = db.session.get(AcmeAuthorization, challenge.authorization_id)
    if error is not None and retry_at is not None and retry_at < challenge.deadline:
        challenge.attempts += 1
        challenge.next_attempt_at = retry_at
        challenge.claimed_until = None
        challenge.error = json.dumps(error)
        db.session.commit()
        return
    actor = f"acme:validation:authz {authz.id}"
    if error is None:
        challenge.status, challenge.validated, challenge.error = "valid", now, None
        if authz.status == "pending":
            authz.status, authz.expires = "valid", now + VALID_LIFETIME
            _complete_orders(authz.id)
        audit.record("acme.challenge.valid", actor=actor,
                     detail=f"{challenge.type} for {authz.identifier_value}")
    else:
        challenge.status, challenge.error = "invalid", json.dumps(error)
        if authz.status == "pending":
            authz.status = "invalid"
            _invalidate_orders(authz.id, error)
        audit.record("acme.challenge.invalid", actor=actor, outcome="refused",
                     detail=f"{challenge.type} for {authz.identifier_value}: "
                            f"{error.get('detail', '')[:300]}")
    challenge.claimed_until = None
    db.session.commit()


def _orders_of(authz_id: int):
    return select(AcmeOrderAuthorization.order_id).where(
        AcmeOrderAuthorization.authorization_id == authz_id)


def _complete_orders(authz_id: int) -> None:
    """Pending orders of this authorization whose authorizations are now all valid: ready."""
    others = select(AcmeOrderAuthorization.order_id).join(
        AcmeAuthorization, AcmeAuthorization.id == AcmeOrderAuthorization.authorization_id
    ).where(and_(AcmeOrderAuthorization.order_id == AcmeOrder.id,
                 AcmeAuthorization.status != "valid"))
    db.session.flush()
    db.session.execute(
        update(AcmeOrder).where(AcmeOrder.id.in_(_orders_of(authz_id)),
                                AcmeOrder.status == "pending", ~others.exists())
        .values(status="ready").execution_options(synchronize_session=False)
    )


def _invalidate_orders(authz_id: int, error: dict | None) -> None:
    """Pending or ready orders of this authorization can no longer complete: invalid."""
    db.session.execute(
        update(AcmeOrder).where(AcmeOrder.id.in_(_orders_of(authz_id)),
                                AcmeOrder.status.in_(("pending", "ready")))
        .values(status="invalid", error=json.dumps(error) if error else None)
        .execution_options(synchronize_session=False)
    )
