"""ACME orders (RFC 8555 §7.4): newOrder, the order object, and an account's orders list."""

import json
from datetime import UTC, datetime, timedelta

from flask import current_app
from sqlalchemy import select

from ..acme.identifiers import Identifier, parse_identifier
from ..acme.problems import AcmeProblem, not_found
from ..acme_models import (
    AcmeAccount,
    AcmeAuthorization,
    AcmeEndpoint,
    AcmeOrder,
    AcmeOrderAuthorization,
)
from ..extensions import db
from . import audit
from .acme_authz import authorization_for
from .acme_endpoints import name_policy

ORDER_LIFETIME = timedelta(days=7)
ORDERS_PAGE = 100


def parse_identifiers(payload: dict | None) -> list[Identifier]:
    """The distinct, checked identifiers of a newOrder payload."""
    raw = (payload or {}).get("identifiers")
    if not isinstance(raw, list) or not raw:
        raise AcmeProblem("malformed", "newOrder needs a non-empty identifiers list")
    limit = current_app.config["PORTAL_MAX_SANS"]
    if len(raw) > limit:
        raise AcmeProblem("rejectedIdentifier", f"an order has at most {limit} identifiers")
    return sorted({parse_identifier(item) for item in raw})


def new_order(endpoint: AcmeEndpoint, account: AcmeAccount, payload: dict | None
              ) -> AcmeOrder:
    """newOrder: check every identifier against the endpoint's policy, reuse or make authzs."""
    identifiers = parse_identifiers(payload)
    policy = name_policy(endpoint)
    for identifier in identifiers:
        policy.check(identifier)
    replaces = (payload or {}).get("replaces")
    if replaces is not None and (not isinstance(replaces, str) or len(replaces) > 255):
        raise AcmeProblem("malformed", "replaces must be an ARI certificate identifier")
    now = datetime.now(UTC)
    authorizations = [authorization_for(account, identifier, now) for identifier in identifiers]
    ready = all(authz.status == "valid" for authz in authorizations)
    order = AcmeOrder(
        account_id=account.id, status="ready" if ready else "pending",
        identifiers=json.dumps([i.json() for i in identifiers]), expires=now + ORDER_LIFETIME,
        replaces=replaces,
    )
    db.session.add(order)
    db.session.flush()
    for authz in {a.id for a in authorizations}:
        db.session.add(AcmeOrderAuthorization(order_id=order.id, authorization_id=authz))
    audit.record("acme.order.create", actor=f"acme:{endpoint.name}:account {account.id}",
                 detail=f"order {order.id}: {', '.join(i.value for i in identifiers)[:500]}")
    db.session.commit()
    return order


def own_order(account: AcmeAccount, order_id: int) -> AcmeOrder:
    """The account's order `order_id`; 404 for another's or a missing one."""
    order = db.session.get(AcmeOrder, order_id)
    if order is None or order.account_id != account.id:
        raise not_found("order")
    return order


def order_identifiers(order: AcmeOrder) -> list[Identifier]:
    """The order's identifiers, as checked at newOrder."""
    return [Identifier(i["type"], i["value"]) for i in json.loads(order.identifiers)]


def order_status(order: AcmeOrder, now: datetime | None = None) -> str:
    """The status to show: an unfinished order past its expiry is invalid."""
    now = now or datetime.now(UTC)
    if order.status in ("pending", "ready") and order.expires <= now:
        return "invalid"
    return order.status


def order_json(order: AcmeOrder, base: str) -> dict:
    """The order object (§7.1.3)."""
    authz_ids = db.session.scalars(
        select(AcmeOrderAuthorization.authorization_id).filter_by(order_id=order.id)
        .order_by(AcmeOrderAuthorization.authorization_id)
    )
    body = {
        "status": order_status(order),
        "expires": order.expires.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "identifiers": json.loads(order.identifiers),
        "authorizations": [f"{base}/authz/{i}" for i in authz_ids],
        "finalize": f"{base}/order/{order.id}/finalize",
    }
    if order.replaces:
        body["replaces"] = order.replaces
    if order.error:
        body["error"] = json.loads(order.error)
    if order.status == "valid" and order.certificate_id is not None:
        body["certificate"] = f"{base}/cert/{order.id}"
    return body


def orders_list(account: AcmeAccount, base: str, *, after: int = 0) -> tuple[list[str], int | None]:
    """The account's orders not yet finished (§7.1.2.1), a page at a time: URLs, next cursor."""
    ids = list(db.session.scalars(
        select(AcmeOrder.id).filter(AcmeOrder.account_id == account.id, AcmeOrder.id > after,
                                    AcmeOrder.status.in_(("pending", "ready", "processing")),
                                    AcmeOrder.expires > datetime.now(UTC))
        .order_by(AcmeOrder.id).limit(ORDERS_PAGE + 1)
    ))
    more = ids[ORDERS_PAGE] if len(ids) > ORDERS_PAGE else None
    cursor = ids[ORDERS_PAGE - 1] if more else None
    return [f"{base}/order/{i}" for i in ids[:ORDERS_PAGE]], cursor


def order_authorizations(order: AcmeOrder) -> list[AcmeAuthorization]:
    """The order's authorizations."""
    return list(db.session.scalars(
        select(AcmeAuthorization).join(
            AcmeOrderAuthorization,
            AcmeOrderAuthorization.authorization_id == AcmeAuthorization.id,
        ).where(AcmeOrderAuthorization.order_id == order.id)
    ))
