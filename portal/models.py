"""The database tables: no crypto and no commits here."""

import hashlib
from datetime import datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    event,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .extensions import db
from .model_types import UTCDateTime, utcnow

STATUS_PENDING = "pending"
STATUS_ISSUED = "issued"
STATUS_REVOKED = "revoked"
ROLE_ADMIN = "admin"
ROLE_USER = "user"


class CertificateAuthority(db.Model):
    """A CA whose key the portal holds (encrypted with the CA secret kept outside the database)."""

    __tablename__ = "certificate_authorities"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    parent_id: Mapped[int | None] = mapped_column(
        ForeignKey("certificate_authorities.id"), index=True
    )
    is_default: Mapped[bool] = mapped_column(Boolean, default=False)
    subject: Mapped[str] = mapped_column(String(1024))
    serial: Mapped[str] = mapped_column(String(42))
    key_type: Mapped[str] = mapped_column(String(16))
    fingerprint_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    not_before: Mapped[datetime] = mapped_column(UTCDateTime())
    not_after: Mapped[datetime] = mapped_column(UTCDateTime())
    certificate_der: Mapped[bytes] = mapped_column(LargeBinary)
    key_encrypted: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    parent: Mapped["CertificateAuthority | None"] = relationship(remote_side=[id])


class User(db.Model):
    """A person who signs in: an admin runs the CA, a user gets certificates."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    email: Mapped[str | None] = mapped_column(String(254))
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(8), default=ROLE_USER)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    # What they chose with the switcher (en, ja, ko, zh_Hans; None: the browser's choice);
    # their pages and their mails follow it.
    language: Mapped[str | None] = mapped_column(String(16))

    # Flask-Login: the session holds "<id>:<stamp>"; a new password changes the stamp, which
    # signs the user out everywhere; a disabled user is not active.
    is_authenticated = True
    is_anonymous = False

    @property
    def is_active(self) -> bool:
        """Whether this user may sign in."""
        return bool(self.active)

    @property
    def is_admin(self) -> bool:
        """Whether this user runs the CA."""
        return self.role == ROLE_ADMIN

    def get_id(self) -> str:
        """The id Flask-Login keeps in the session."""
        stamp = hashlib.sha256(self.password_hash.encode()).hexdigest()[:16]
        return f"{self.id}:{stamp}"


class Certificate(db.Model):
    """A certificate the portal issued, or is about to issue (pending)."""

    __tablename__ = "certificates"
    __table_args__ = (
        UniqueConstraint("ca_id", "serial"),
        Index("ix_certificates_status_not_after", "status", "not_after"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    ca_id: Mapped[int] = mapped_column(ForeignKey("certificate_authorities.id"), index=True)
    serial: Mapped[str] = mapped_column(String(42), index=True)
    common_name: Mapped[str | None] = mapped_column(String(255), index=True)
    subject: Mapped[str] = mapped_column(String(1024))
    sans: Mapped[str] = mapped_column(Text, default="")
    profile: Mapped[str] = mapped_column(String(16), index=True)
    key_type: Mapped[str] = mapped_column(String(16))
    not_before: Mapped[datetime] = mapped_column(UTCDateTime())
    not_after: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    status: Mapped[str] = mapped_column(String(16), index=True)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    revocation_reason: Mapped[str | None] = mapped_column(String(32))
    fingerprint_sha256: Mapped[str | None] = mapped_column(String(64))
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    der: Mapped[bytes | None] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    ca: Mapped[CertificateAuthority] = relationship()
    owner: Mapped[User | None] = relationship()
    names: Mapped[list["CertificateName"]] = relationship(
        back_populates="certificate", cascade="all, delete-orphan"
    )


class CertificateName(db.Model):
    """One subjectAltName of a certificate, a row each so that SAN search uses an index."""

    __tablename__ = "certificate_names"

    id: Mapped[int] = mapped_column(primary_key=True)
    certificate_id: Mapped[int] = mapped_column(ForeignKey("certificates.id"), index=True)
    kind: Mapped[str] = mapped_column(String(8))
    value: Mapped[str] = mapped_column(String(255), index=True)

    certificate: Mapped[Certificate] = relationship(back_populates="names")


class AuditEvent(db.Model):
    """An append-only record of who did what: issuance, revocation, CRL, sign-in."""

    __tablename__ = "audit_events"
    # a range of days is a range of ids: each end is found in this index (audit_search.py)
    __table_args__ = (Index("ix_audit_events_at", "at", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)  # read in id order
    actor: Mapped[str] = mapped_column(String(128), index=True)
    action: Mapped[str] = mapped_column(String(64), index=True)
    serial: Mapped[str | None] = mapped_column(String(42), index=True)
    outcome: Mapped[str] = mapped_column(String(16))
    detail: Mapped[str] = mapped_column(Text, default="")
    # The integrity chain (services/audit_chain.py): the row's place in the chain and an HMAC
    # of its content and of the previous row's seal, keyed outside the database. NULL only for
    # rows written before the chain began (sealed together by the head's genesis_seal).
    chain_seq: Mapped[int | None] = mapped_column(BigInteger)
    seal: Mapped[str | None] = mapped_column(String(64))


class AuditChainHead(db.Model):
    """The audit chain's one row: its length. Updating it serialises the writers."""

    __tablename__ = "audit_chain_head"

    id: Mapped[int] = mapped_column(primary_key=True)
    length: Mapped[int] = mapped_column(BigInteger, default=0)
    # Rows with an id up to this one were written before the chain began.
    genesis_after_id: Mapped[int] = mapped_column(BigInteger, default=0)
    genesis_seal: Mapped[str | None] = mapped_column(String(64))


@event.listens_for(AuditEvent, "before_update")
@event.listens_for(AuditEvent, "before_delete")
def _refuse_audit_change(mapper, connection, target):
    raise PermissionError("the audit log is append-only")


class CRLCounter(db.Model):
    """The last CRL number handed out for a CA: incremented atomically, never reused."""

    __tablename__ = "crl_counters"

    id: Mapped[int] = mapped_column(primary_key=True)
    ca_id: Mapped[int] = mapped_column(ForeignKey("certificate_authorities.id"), unique=True)
    last_number: Mapped[int] = mapped_column(BigInteger, default=0)


class PublishedCRL(db.Model):
    """The current signed CRL of a CA, stored as DER so that requests never sign."""

    __tablename__ = "crls"

    id: Mapped[int] = mapped_column(primary_key=True)
    ca_id: Mapped[int] = mapped_column(ForeignKey("certificate_authorities.id"), unique=True)
    number: Mapped[int] = mapped_column(BigInteger)
    this_update: Mapped[datetime] = mapped_column(UTCDateTime())
    next_update: Mapped[datetime] = mapped_column(UTCDateTime())
    revoked_count: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    der: Mapped[bytes] = mapped_column(LargeBinary)


# The certificate list filters by CA or by profile while sorting by expiry: with these, a page
# is read in index order instead of sorting every certificate of that CA or profile.
Index("ix_certificates_ca_id_not_after", Certificate.ca_id, Certificate.not_after)
Index("ix_certificates_profile_not_after", Certificate.profile, Certificate.not_after)


class RateLimitHit(db.Model):
    """One counted hit of a rate limit (a failed sign-in), shared by every worker process."""

    __tablename__ = "rate_limit_hits"
    __table_args__ = (Index("ix_rate_limit_hits_key_at", "key", "at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(255))
    at: Mapped[float] = mapped_column(Float)  # seconds since the epoch, as `limits` counts


class ApiToken(db.Model):
    """A bearer token for the JSON API: only its SHA-256 is stored; the token is shown once."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    name: Mapped[str] = mapped_column(String(64))
    token_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(16))  # the first characters, to recognise it
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    user: Mapped[User] = relationship()


# Self-service (issue 6): what users may request, their requests, and one-time enrollment links.
REQUEST_PENDING = "pending"  # waiting for an admin
REQUEST_APPROVED = "approved"  # a server-generated key: made when the requester downloads it
REQUEST_ISSUED = "issued"
REQUEST_REJECTED = "rejected"
REQUEST_CANCELLED = "cancelled"
REQUEST_EXPIRED = "expired"  # approved for a key made here, but not downloaded in time


class ProfilePolicy(db.Model):
    """What users may request under one profile, and whether an admin approves each request."""

    __tablename__ = "profile_policies"

    id: Mapped[int] = mapped_column(primary_key=True)
    profile: Mapped[str] = mapped_column(String(16), unique=True)
    self_service: Mapped[bool] = mapped_column(Boolean, default=False)
    auto_issue: Mapped[bool] = mapped_column(Boolean, default=False)
    common_name_rule: Mapped[str] = mapped_column(String(16))  # "username" or "any"
    email_rule: Mapped[str] = mapped_column(String(16))  # "own" or "none"
    dns_suffixes: Mapped[str] = mapped_column(Text, default="")  # comma-separated domains
    ip_networks: Mapped[str] = mapped_column(Text, default="")  # comma-separated CIDRs
    max_days: Mapped[int | None] = mapped_column(Integer)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_by: Mapped[str] = mapped_column(String(128))


class CertificateRequest(db.Model):
    """A user's request for a certificate: from their CSR, or with a key the portal makes."""

    __tablename__ = "certificate_requests"

    id: Mapped[int] = mapped_column(primary_key=True)
    requester_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    profile: Mapped[str] = mapped_column(String(16))
    method: Mapped[str] = mapped_column(String(16))  # "generate" or "csr"
    common_name: Mapped[str | None] = mapped_column(String(255))
    subject: Mapped[str] = mapped_column(String(1024))
    sans: Mapped[str] = mapped_column(Text, default="")
    key_type: Mapped[str] = mapped_column(String(16))
    days: Mapped[int | None] = mapped_column(Integer)
    csr_der: Mapped[bytes | None] = mapped_column(LargeBinary)  # public data only
    status: Mapped[str] = mapped_column(String(16), index=True)
    renews_id: Mapped[int | None] = mapped_column(ForeignKey("certificates.id"), index=True)
    certificate_id: Mapped[int | None] = mapped_column(ForeignKey("certificates.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    decided_by: Mapped[str | None] = mapped_column(String(128))
    comment: Mapped[str] = mapped_column(Text, default="")

    requester: Mapped[User] = relationship()
    renews: Mapped[Certificate | None] = relationship(foreign_keys=[renews_id])
    certificate: Mapped[Certificate | None] = relationship(foreign_keys=[certificate_id])


class EnrollmentLink(db.Model):
    """A single-use link to download a key and certificate: only the token's SHA-256 is kept."""

    __tablename__ = "enrollment_links"

    id: Mapped[int] = mapped_column(primary_key=True)
    token_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    common_name: Mapped[str] = mapped_column(String(64))
    email: Mapped[str | None] = mapped_column(String(254))
    profile: Mapped[str] = mapped_column(String(16))
    key_type: Mapped[str] = mapped_column(String(16))
    days: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    created_by: Mapped[str] = mapped_column(String(128))
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    cancelled_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    certificate_id: Mapped[int | None] = mapped_column(ForeignKey("certificates.id"))

    certificate: Mapped[Certificate | None] = relationship()


class WebSession(db.Model):
    """A signed-in browser session: the cookie holds a random id, this row only its SHA-256.

    Every page request looks its row up (one indexed SELECT), so deleting the rows of a user
    signs them out on every host at once, whatever copies of the cookie exist.
    """

    __tablename__ = "web_sessions"

    id: Mapped[int] = mapped_column(primary_key=True)
    session_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


# The ACME, OCSP and notification tables live in their own modules; every name stays
# importable from here.
from . import acme_models  # noqa: E402, F401  (the ACME server's tables, issue 15)
from .notification_models import (  # noqa: E402, F401  (re-exported)
    DELIVERY_DELIVERED,
    DELIVERY_FAILED,
    DELIVERY_PENDING,
    NOTICE_ADMINS,
    NOTICE_OWNER,
    NOTICE_WEBHOOK,
    ExpiryNotice,
    NotifyState,
    Webhook,
    WebhookDelivery,
)
from .ocsp_models import OCSPCounter, OCSPResponder, OCSPResponse  # noqa: E402, F401, I001
