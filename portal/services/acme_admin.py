"""What admins see of the ACME server: endpoints, accounts and recent orders, with their state."""

import json
from dataclasses import dataclass

from sqlalchemy import select

from ..acme_models import AcmeAccount, AcmeEndpoint, AcmeOrder
from ..extensions import db
from ..models import Certificate, CertificateAuthority, User
from .acme_endpoints import list_endpoints
from .acme_orders import order_status

RECENT = 100


@dataclass(frozen=True)
class AccountRow:
    """One account, for the admin page."""

    id: int
    endpoint: str
    status: str
    contact: str
    owner: str | None
    created_at: object


@dataclass(frozen=True)
class OrderRow:
    """One order, for the admin page."""

    id: int
    account_id: int
    endpoint: str
    identifiers: str
    status: str
    serial: str | None
    created_at: object


@dataclass(frozen=True)
class AcmeOverview:
    """The endpoints (with their CA's name), the newest accounts and the newest orders."""

    endpoints: list[tuple[AcmeEndpoint, str]]
    accounts: list[AccountRow]
    orders: list[OrderRow]


def overview() -> AcmeOverview:
    """Everything the admin page shows, newest first."""
    ca_names = dict(db.session.execute(select(CertificateAuthority.id,
                                              CertificateAuthority.name)).all())
    endpoints = list_endpoints()
    names = {e.id: e.name for e in endpoints}
    accounts = [
        AccountRow(a.id, names.get(a.endpoint_id, "?"), a.status,
                   ", ".join(json.loads(a.contact)), owner, a.created_at)
        for a, owner in db.session.execute(
            select(AcmeAccount, User.username).outerjoin(User, User.id == AcmeAccount.user_id)
            .order_by(AcmeAccount.id.desc()).limit(RECENT))
    ]
    orders = [
        OrderRow(o.id, o.account_id, names.get(endpoint_id, "?"),
                 ", ".join(i["value"] for i in json.loads(o.identifiers)), order_status(o),
                 serial, o.created_at)
        for o, endpoint_id, serial in db.session.execute(
            select(AcmeOrder, AcmeAccount.endpoint_id, Certificate.serial)
            .join(AcmeAccount, AcmeAccount.id == AcmeOrder.account_id)
            .outerjoin(Certificate, Certificate.id == AcmeOrder.certificate_id)
            .order_by(AcmeOrder.id.desc()).limit(RECENT))
    ]
    return AcmeOverview([(e, ca_names.get(e.ca_id, "?")) for e in endpoints], accounts, orders)
