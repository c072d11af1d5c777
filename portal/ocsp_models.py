"""The OCSP responder's tables (issue 16); every name stays importable from portal.models."""

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Index, LargeBinary, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from .extensions import db
from .model_types import UTCDateTime, utcnow


# OCSP (issue 16): each CA's delegated responder, and the pre-signed answers served from here.
class OCSPResponder(db.Model):
    """A CA's current delegated OCSP responder: its certificate and key (sealed like CA keys)."""

    __tablename__ = "ocsp_responders"

    id: Mapped[int] = mapped_column(primary_key=True)
    ca_id: Mapped[int] = mapped_column(ForeignKey("certificate_authorities.id"), unique=True)
    serial: Mapped[str] = mapped_column(String(42))
    fingerprint_sha256: Mapped[str] = mapped_column(String(64))
    not_before: Mapped[datetime] = mapped_column(UTCDateTime())
    not_after: Mapped[datetime] = mapped_column(UTCDateTime())
    certificate_der: Mapped[bytes] = mapped_column(LargeBinary)
    key_encrypted: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class OCSPResponse(db.Model):
    """The signed answer for one certificate and CertID hash, served as stored (RFC 5019)."""

    __tablename__ = "ocsp_responses"
    __table_args__ = (
        UniqueConstraint("ca_id", "serial", "hash_algorithm"),
        Index("ix_ocsp_responses_this_update", "this_update"),  # the refresh finds the oldest
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    ca_id: Mapped[int] = mapped_column(ForeignKey("certificate_authorities.id"))
    serial: Mapped[str] = mapped_column(String(42))
    hash_algorithm: Mapped[str] = mapped_column(String(8))
    status: Mapped[str] = mapped_column(String(8))
    this_update: Mapped[datetime] = mapped_column(UTCDateTime())
    next_update: Mapped[datetime] = mapped_column(UTCDateTime())
    signed_by: Mapped[str] = mapped_column(String(64))  # the signing certificate's fingerprint
    der: Mapped[bytes] = mapped_column(LargeBinary)


class OCSPCounter(db.Model):
    """Responses served and signed, added up from every process (flushed every few seconds)."""

    __tablename__ = "ocsp_counters"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    value: Mapped[int] = mapped_column(BigInteger, default=0)
