"""ACME orders (RFC 8555 §7.4): newOrder, the order object, and an account's orders list."""

import json
from datetime import UTC, datetime, timedelta

from flask import current_app
from sqlalchemy import insert, select

from ..acme.identifiers import Identifier, parse_identifier
from ..acme.problems import AcmeProblem, not_found
from ..acme_models import (
    AcmeAccount,
    AcmeAuthorization,
    AcmeOrder,
    AcmeOrderAuthorization,
)
from ..extensions import db
from . import acme_rows, audit
from .acme_authz import authorization_for
from .acme_endpoints import name_policy
from .acme_rows import OrderRow
from .driver import thread_connection

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


_ORDERS = AcmeOrder.__table__
_INSERT_ORDER = insert(_ORDERS)
_ORDER_COLUMNS = ("account_id", "status", "identifiers", "expires", "replaces")
_INSERT_LINK = insert(AcmeOrderAuthorization.__table__)
_LINK_COLUMNS = ("order_id", "authorization_id")


def new_order(endpoint, account, payload: dict | None) -> tuple[OrderRow, list[int]]:
    """newOrder: check every identifier against the endpoint's policy, reuse or make authzs.

    One transaction on the driver connection (the order, its new authorizations and their
    challenges, the links, the audit event); the order and its authorizations' ids.
    """
    identifiers = parse_identifiers(payload)
    policy = name_policy(endpoint)
    for identifier in identifiers:
        policy.check(identifier)
    replaces = (payload or {}).get("replaces")
    if replaces is not None and (not isinstance(replaces, str) or len(replaces) > 255):
        raise AcmeProblem("malformed", "replaces must be an ARI certificate identifier")
    now = datetime.now(UTC)
    with thread_connection(db.engine) as connection:
        authorizations = [authorization_for(connection, account, identifier, now)
                          for identifier in identifiers]
        ready = all(status == "valid" for _, status in authorizations)
        values = {"account_id": account.id, "status": "ready" if ready else "pending",
                  "identifiers": json.dumps([i.json() for i in identifiers]),
                  "expires": now + ORDER_LIFETIME, "replaces": replaces}
        order_id = connection.execute(_INSERT_ORDER, values, _ORDER_COLUMNS)
        authz_ids = sorted({authz_id for authz_id, _ in authorizations})
        connection.execute_many(_INSERT_LINK, [
            {"order_id": order_id, "authorization_id": authz_id} for authz_id in authz_ids
        ], _LINK_COLUMNS)
        audit.insert_on_driver(connection, None, audit.event_row(
            "acme.order.create", actor=f"acme:{endpoint.name}:account {account.id}",
            detail=f"order {order_id}: {', '.join(i.value for i in identifiers)[:500]}"))
        connection.commit()
    return OrderRow(id=order_id, error=None, certificate_id=None, **values), authz_ids


def own_order(account, order_id: int) -> OrderRow:
    """The account's order `order_id`; 404 for another's or a missing one."""
    order = acme_rows.order(order_id)
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


def order_json(order: AcmeOrder | OrderRow, base: str, authz_ids: list[int] | None = None
               ) -> dict:
    """The order object (§7.1.3); `authz_ids` when known already (read otherwise)."""
    if authz_ids is None:
        authz_ids = acme_rows.order_authorization_ids(order.id)
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
