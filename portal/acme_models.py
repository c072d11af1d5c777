"""The ACME server's tables (RFC 8555): endpoints, nonces, accounts, orders, authorizations.

Every piece of protocol state lives here, not in a process, so that several `portal serve`
hosts on one database serve one endpoint. Tables only: no crypto and no commits.
"""

from datetime import datetime

from sqlalchemy import (
    Boolean,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from .extensions import db
from .models import UTCDateTime, utcnow


class AcmeEndpoint(db.Model):
    """One ACME directory (`/acme/<name>/directory`) and the policy it issues under."""

    __tablename__ = "acme_endpoints"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    ca_id: Mapped[int] = mapped_column(ForeignKey("certificate_authorities.id"))
    profile: Mapped[str] = mapped_column(String(16), default="server")
    domains: Mapped[str] = mapped_column(Text, default="")  # DNS suffixes, comma-separated
    networks: Mapped[str] = mapped_column(Text, default="")  # IP networks, comma-separated
    days: Mapped[int] = mapped_column(Integer, default=90)
    eab_required: Mapped[bool] = mapped_column(Boolean, default=False)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class AcmeNonce(db.Model):
    """A Replay-Nonce used already (its value and issue time): a second use is refused."""

    __tablename__ = "acme_nonces"

    value: Mapped[str] = mapped_column(String(64), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)


class AcmeEabKey(db.Model):
    """An external account binding key made for a user; its HMAC key is sealed."""

    __tablename__ = "acme_eab_keys"

    id: Mapped[int] = mapped_column(primary_key=True)
    key_id: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    hmac_sealed: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    created_by: Mapped[str] = mapped_column(String(128))


class AcmeAccount(db.Model):
    """An ACME account: its key (JWK and thumbprint), contacts, status and EAB binding."""

    __tablename__ = "acme_accounts"
    __table_args__ = (UniqueConstraint("endpoint_id", "thumbprint"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    endpoint_id: Mapped[int] = mapped_column(ForeignKey("acme_endpoints.id"))
    thumbprint: Mapped[str] = mapped_column(String(64))  # RFC 7638, base64url
    jwk: Mapped[str] = mapped_column(Text)  # the public JWK as JSON
    contact: Mapped[str] = mapped_column(Text, default="[]")  # JSON list of URLs
    status: Mapped[str] = mapped_column(String(16), default="valid")
    eab_key_id: Mapped[int | None] = mapped_column(ForeignKey("acme_eab_keys.id"), unique=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class AcmeOrder(db.Model):
    """An order: identifiers asked for, its status and, once finalized, its certificate."""

    __tablename__ = "acme_orders"

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("acme_accounts.id"), index=True)
    status: Mapped[str] = mapped_column(String(16), default="pending")
    identifiers: Mapped[str] = mapped_column(Text)  # JSON list of {"type", "value"}
    expires: Mapped[datetime] = mapped_column(UTCDateTime())
    error: Mapped[str | None] = mapped_column(Text)  # a problem document, JSON
    certificate_id: Mapped[int | None] = mapped_column(ForeignKey("certificates.id"))
    replaces: Mapped[str | None] = mapped_column(String(255))  # ARI: the certificate renewed
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class AcmeAuthorization(db.Model):
    """The proof asked for one identifier; reused by the account's orders while valid."""

    __tablename__ = "acme_authorizations"
    __table_args__ = (
        Index("ix_acme_authorizations_account_value", "account_id", "identifier_value"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("acme_accounts.id"))
    identifier_type: Mapped[str] = mapped_column(String(8))  # dns or ip
    identifier_value: Mapped[str] = mapped_column(String(255))  # without "*." for a wildcard
    wildcard: Mapped[bool] = mapped_column(Boolean, default=False)
    status: Mapped[str] = mapped_column(String(16), default="pending")
    expires: Mapped[datetime] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class AcmeOrderAuthorization(db.Model):
    """Which authorizations an order needs (an authorization can serve several orders)."""

    __tablename__ = "acme_order_authorizations"

    order_id: Mapped[int] = mapped_column(ForeignKey("acme_orders.id"), primary_key=True)
    authorization_id: Mapped[int] = mapped_column(
        ForeignKey("acme_authorizations.id"), primary_key=True, index=True
    )


class AcmeChallenge(db.Model):
    """One way to prove an authorization; validated in the background, with retries."""

    __tablename__ = "acme_challenges"
    __table_args__ = (Index("ix_acme_challenges_status_next_attempt_at", "status",
                            "next_attempt_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    authorization_id: Mapped[int] = mapped_column(
        ForeignKey("acme_authorizations.id"), index=True
    )
    type: Mapped[str] = mapped_column(String(16))  # http-01, dns-01, tls-alpn-01
    token: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16), default="pending")
    validated: Mapped[datetime | None] = mapped_column(UTCDateTime())
    error: Mapped[str | None] = mapped_column(Text)  # a problem document, JSON
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    deadline: Mapped[datetime | None] = mapped_column(UTCDateTime())
    claimed_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
