"""ACME state read on the driver path (driver.py): plain rows for the protocol's hot requests.

Every ACME request reads its endpoint and its account, most read an order, an authorization
or a challenge: through the ORM session each read cost more CPU than the SQL itself (building
the statement, its cache key, the identity map, expiry after a commit). Here each read is one
Core statement compiled once, run on the thread's held driver connection, and hands back a
frozen row whose attributes carry the models' names, so code written for the models (the
JSON of an order, its status) reads these the same way. Nothing is cached between requests:
a disabled endpoint, a deactivated account or an authorization decided by another host counts
on the next request.
"""

from dataclasses import dataclass, fields
from datetime import datetime

from sqlalchemy import bindparam, select

from ..acme_models import (
    AcmeAccount,
    AcmeAuthorization,
    AcmeChallenge,
    AcmeEndpoint,
    AcmeOrder,
    AcmeOrderAuthorization,
)
from ..extensions import db
from ..models import Certificate
from .driver import DriverConnection, thread_connection


@dataclass(frozen=True, slots=True)
class EndpointRow:
    """An acme_endpoints row."""

    id: int
    name: str
    ca_id: int
    profile: str
    domains: str
    networks: str
    days: int
    eab_required: bool
    enabled: bool


@dataclass(frozen=True, slots=True)
class AccountRow:
    """An acme_accounts row."""

    id: int
    endpoint_id: int
    thumbprint: str
    jwk: str
    contact: str
    status: str
    eab_key_id: int | None
    user_id: int | None


@dataclass(frozen=True, slots=True)
class OrderRow:
    """An acme_orders row."""

    id: int
    account_id: int
    status: str
    identifiers: str
    expires: datetime
    error: str | None
    certificate_id: int | None
    replaces: str | None


@dataclass(frozen=True, slots=True)
class AuthorizationRow:
    """An acme_authorizations row."""

    id: int
    account_id: int
    identifier_type: str
    identifier_value: str
    wildcard: bool
    status: str
    expires: datetime


@dataclass(frozen=True, slots=True)
class ChallengeRow:
    """An acme_challenges row (what its JSON shows)."""

    id: int
    authorization_id: int
    type: str
    token: str
    status: str
    validated: datetime | None
    error: str | None


def _columns(model, row_type) -> list:
    table = model.__table__
    return [table.c[field.name] for field in fields(row_type)]


_ENDPOINT = select(*_columns(AcmeEndpoint, EndpointRow)).where(
    AcmeEndpoint.__table__.c.name == bindparam("name"),
    AcmeEndpoint.__table__.c.enabled.is_(True),
)
_ACCOUNT = select(*_columns(AcmeAccount, AccountRow)).where(
    AcmeAccount.__table__.c.id == bindparam("id"),
    AcmeAccount.__table__.c.endpoint_id == bindparam("endpoint_id"),
)
_ORDER = select(*_columns(AcmeOrder, OrderRow)).where(
    AcmeOrder.__table__.c.id == bindparam("id"))
_ORDER_AUTHZ_IDS = select(AcmeOrderAuthorization.__table__.c.authorization_id).where(
    AcmeOrderAuthorization.__table__.c.order_id == bindparam("order_id")
).order_by(AcmeOrderAuthorization.__table__.c.authorization_id)
_AUTHORIZATION = select(*_columns(AcmeAuthorization, AuthorizationRow)).where(
    AcmeAuthorization.__table__.c.id == bindparam("id"))
_CHALLENGES = select(*_columns(AcmeChallenge, ChallengeRow)).where(
    AcmeChallenge.__table__.c.authorization_id == bindparam("authorization_id")
).order_by(AcmeChallenge.__table__.c.id)
_CHALLENGE = select(*_columns(AcmeChallenge, ChallengeRow)).where(
    AcmeChallenge.__table__.c.id == bindparam("id"))
_CERTIFICATE = select(Certificate.__table__.c.der, Certificate.__table__.c.ca_id).where(
    Certificate.__table__.c.id == bindparam("id"))


def _one(connection: DriverConnection, statement, row_type, values: dict):
    row = connection.first(statement, values)
    return None if row is None else row_type(*row)


def endpoint_named(name: str) -> EndpointRow | None:
    """The enabled endpoint called `name`, or None."""
    with thread_connection(db.engine) as connection:
        return _one(connection, _ENDPOINT, EndpointRow, {"name": name})


def account_of(endpoint_id: int, account_id: int) -> AccountRow | None:
    """The endpoint's account `account_id`, or None."""
    with thread_connection(db.engine) as connection:
        return _one(connection, _ACCOUNT, AccountRow,
                    {"id": account_id, "endpoint_id": endpoint_id})


def order(order_id: int) -> OrderRow | None:
    """The order `order_id`, or None."""
    with thread_connection(db.engine) as connection:
        return _one(connection, _ORDER, OrderRow, {"id": order_id})


def order_authorization_ids(order_id: int) -> list[int]:
    """The ids of the order's authorizations, in id order."""
    with thread_connection(db.engine) as connection:
        return [row[0] for row in connection.all(_ORDER_AUTHZ_IDS, {"order_id": order_id})]


def authorization(authz_id: int) -> AuthorizationRow | None:
    """The authorization `authz_id`, or None."""
    with thread_connection(db.engine) as connection:
        return _one(connection, _AUTHORIZATION, AuthorizationRow, {"id": authz_id})


def challenges_of(authz_id: int) -> list[ChallengeRow]:
    """The authorization's challenges, in id order."""
    with thread_connection(db.engine) as connection:
        return [ChallengeRow(*row)
                for row in connection.all(_CHALLENGES, {"authorization_id": authz_id})]


def challenge(challenge_id: int) -> ChallengeRow | None:
    """The challenge `challenge_id`, or None."""
    with thread_connection(db.engine) as connection:
        return _one(connection, _CHALLENGE, ChallengeRow, {"id": challenge_id})


def certificate_der(certificate_id: int) -> tuple[bytes | None, int] | None:
    """A certificate's DER and the id of its CA, or None."""
    with thread_connection(db.engine) as connection:
        return connection.first(_CERTIFICATE, {"id": certificate_id})
