"""The notification tables (issue 17): expiry warnings sent once, webhooks and their outbox.

Re-exported by portal.models: import them from there, as every other table.
"""

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from .extensions import db
from .model_types import UTCDateTime, utcnow

# Notifications (issue 17): expiry warnings sent once, webhooks and their delivery outbox.
NOTICE_OWNER = "owner"  # the mail to the certificate's owner
NOTICE_ADMINS = "admins"  # the certificate's line in the admins' digest
NOTICE_WEBHOOK = "webhook"  # the certificate.expiring event
DELIVERY_PENDING = "pending"
DELIVERY_DELIVERED = "delivered"
DELIVERY_FAILED = "failed"  # gave up after the last attempt


class ExpiryNotice(db.Model):
    """A certificate's expiry warning at one threshold, with each channel's state: sent once.

    Per mail channel (owner, admins), `<channel>_at` and `<channel>_claim`: a run claims the
    warning (its token and the time) before the mail goes out, so that two hosts running the
    job at once cannot both send it; once the server accepted the mail the token is cleared
    and the time is when it was sent; a failed send clears both, so that the next run retries.
    `webhook_at` marks the certificate.expiring event as queued (its outbox dedupes it).
    """

    __tablename__ = "expiry_notices"
    __table_args__ = (
        UniqueConstraint("certificate_id", "threshold_days"),
        # each run looks for stale claims: only the claims in flight are in these indexes, so
        # that marking a run's claims sent removes them instead of moving them inside one
        Index("ix_expiry_notices_owner_claimed", "owner_at",
              sqlite_where=text("owner_claim IS NOT NULL"),
              postgresql_where=text("owner_claim IS NOT NULL")),
        Index("ix_expiry_notices_admins_claimed", "admins_at",
              sqlite_where=text("admins_claim IS NOT NULL"),
              postgresql_where=text("admins_claim IS NOT NULL")),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    # no foreign key: certificate rows are never deleted, and checking one per claim was
    # three fifths of the claim statement's time (2.7 of 4.3 ms for a thousand on SQLite)
    certificate_id: Mapped[int] = mapped_column(Integer)
    threshold_days: Mapped[int] = mapped_column(Integer)
    owner_at: Mapped[datetime | None] = mapped_column(UTCDateTime())  # claimed, or sent
    owner_claim: Mapped[int | None] = mapped_column(BigInteger)  # the claiming run's token
    admins_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    admins_claim: Mapped[int | None] = mapped_column(BigInteger)
    webhook_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    def sent(self) -> dict[str, datetime]:
        """When each channel's warning was sent (channels claimed or never sent left out)."""
        states = {NOTICE_OWNER: (self.owner_at, self.owner_claim),
                  NOTICE_ADMINS: (self.admins_at, self.admins_claim),
                  NOTICE_WEBHOOK: (self.webhook_at, None)}
        return {channel: at for channel, (at, claim) in states.items()
                if at is not None and claim is None}


class Webhook(db.Model):
    """A URL an admin registered for some lifecycle events, with its signing secret."""

    __tablename__ = "webhooks"

    id: Mapped[int] = mapped_column(primary_key=True)
    url: Mapped[str] = mapped_column(String(2048))
    events: Mapped[str] = mapped_column(Text)  # comma-separated event types
    secret: Mapped[str] = mapped_column(String(128))  # "whsec_" + base64 of the key
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    created_by: Mapped[str] = mapped_column(String(128))


class WebhookDelivery(db.Model):
    """One event for one webhook: the outbox that `portal notify run` drains, with retries."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        UniqueConstraint("webhook_id", "message_id"),
        Index("ix_webhook_deliveries_status_next_attempt_at", "status", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    webhook_id: Mapped[int] = mapped_column(ForeignKey("webhooks.id", ondelete="CASCADE"))
    message_id: Mapped[str] = mapped_column(String(64))  # webhook-id: the same on every retry
    event_type: Mapped[str] = mapped_column(String(64))
    payload: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), default=DELIVERY_PENDING)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class NotifyState(db.Model):
    """What the notification job remembers between runs: its last outcome, cursors, flags."""

    __tablename__ = "notify_state"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    ok: Mapped[bool] = mapped_column(Boolean, default=True)
    detail: Mapped[str] = mapped_column(Text, default="")
    position: Mapped[int] = mapped_column(BigInteger, default=0)  # e.g. the last audit id seen
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
