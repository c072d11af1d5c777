"""Enrollment links: an admin sends someone a single-use link; they download a .p12 from it.

The token is 256 random bits (base64url, 43 characters) shown once, in the link. The database
keeps only its SHA-256, so a copy of the database cannot be used to enroll. Redeeming marks the
link used with one conditional UPDATE (`... WHERE used_at IS NULL`) before the key is made, so
two concurrent uses cannot both get a certificate. The key is generated in memory at download,
as on the admin's generate page, and never stored.
"""

import hashlib
import hmac
import re
import secrets
from datetime import UTC, datetime, timedelta

from flask import current_app
from sqlalchemy import select, update

from ..ca.keys import DEFAULT_KEY_TYPE, KEY_TYPES
from ..ca.names import check_email
from ..ca.pkcs12 import COMPATIBLE, check_bundle_options
from ..ca.profiles import apply_profile, get_profile
from ..errors import Gone, InvalidInput, NotFound, PolicyViolation
from ..extensions import db
from ..models import EnrollmentLink
from ..translatable import N_
from . import audit, keygen

TOKEN_BYTES = 32
DEFAULT_HOURS = 72
MAX_HOURS = 24 * 30
_TOKEN = re.compile(r"[A-Za-z0-9_-]{43}")

INVALID = N_("This enrollment link is not valid. Check that the whole link was copied, or ask "
           "the person who sent it for a new one.")
STATE_ACTIVE, STATE_USED, STATE_EXPIRED, STATE_CANCELLED = "active", "used", "expired", "cancelled"


class LinkRefused(Gone):
    """A real link that can no longer be used: already used, expired or withdrawn."""


def digest(token: str) -> str:
    """The SHA-256 (hex) under which a link's token is stored."""
    return hashlib.sha256(token.encode("ascii")).hexdigest()


def link_url(token: str) -> str:
    """The full link for a token, on the portal's HTTPS address (PORTAL_WEB_URL)."""
    return f"{current_app.config['PORTAL_WEB_URL'].rstrip('/')}/enroll/{token}"


def link_state(row: EnrollmentLink, now: datetime | None = None) -> str:
    """active, used, expired or cancelled."""
    if row.used_at is not None:
        return STATE_USED
    if row.cancelled_at is not None:
        return STATE_CANCELLED
    return STATE_EXPIRED if (now or datetime.now(UTC)) >= row.expires_at else STATE_ACTIVE


def create_link(
    *,
    common_name: str,
    email: str | None = None,
    profile_name: str = "client",
    key_type: str = DEFAULT_KEY_TYPE,
    hours: int = DEFAULT_HOURS,
    days: int | None = None,
    actor: str,
) -> tuple[EnrollmentLink, str]:
    """Create a link for a subject and profile; return its row and the token (shown once)."""
    profile = get_profile(profile_name, leaf_only=True)
    try:
        subject = keygen.build_subject((common_name or "").strip())
    except PolicyViolation as exc:
        raise PolicyViolation(exc.msgid, field="common_name", **exc.params) from None
    email = check_email(email.strip()) if email and email.strip() else None
    apply_profile(profile, subject, keygen.parse_sans([], email))
    if key_type not in KEY_TYPES:
        raise InvalidInput(N_("choose one of %(values)s"), field="key_type",
            values=', '.join(KEY_TYPES))
    if not isinstance(hours, int) or not 1 <= hours <= MAX_HOURS:
        raise InvalidInput(N_("a link is valid for 1 to %(max_hours)s hours"), field="hours",
            max_hours=MAX_HOURS)
    if days is not None and not 1 <= days <= 20000:
        raise InvalidInput(N_("the validity is 1 to 20000 days"), field="days")
    token = secrets.token_urlsafe(TOKEN_BYTES)
    now = datetime.now(UTC).replace(microsecond=0)
    row = EnrollmentLink(
        token_sha256=digest(token), common_name=common_name.strip(), email=email,
        profile=profile.name, key_type=key_type, days=days, created_at=now,
        created_by=actor[:128], expires_at=now + timedelta(hours=hours),
    )
    db.session.add(row)
    db.session.flush()
    audit.record("enroll.create", actor=actor,
                 detail=f"link {row.id} for CN={row.common_name} {email or ''} ({profile.name}, "
                        f"{key_type}), valid until {row.expires_at:%Y-%m-%d %H:%M} UTC")
    db.session.commit()
    return row, token


def find_link(token: str) -> EnrollmentLink:
    """The link a token belongs to; NotFound (saying nothing about any link) otherwise."""
    if not token or not _TOKEN.fullmatch(token):
        raise NotFound(INVALID, field="token")
    wanted = digest(token)
    row = db.session.scalar(select(EnrollmentLink).filter_by(token_sha256=wanted))
    if row is None or not hmac.compare_digest(row.token_sha256, wanted):
        raise NotFound(INVALID, field="token")
    return row


def _refusal(row: EnrollmentLink, state: str) -> LinkRefused:
    if state == STATE_USED:
        return LinkRefused(f"This enrollment link was already used, on "
                           f"{row.used_at:%Y-%m-%d at %H:%M} UTC. A link works once: ask for "
                           "a new one if you need another certificate.")
    if state == STATE_CANCELLED:
        return LinkRefused("This enrollment link was withdrawn. Ask for a new one.")
    return LinkRefused(f"This enrollment link expired on {row.expires_at:%Y-%m-%d at %H:%M} "
                       "UTC. Ask for a new one.")


def open_link(token: str, *, attempt: bool = False) -> EnrollmentLink:
    """The link for a token if it can still be used; LinkRefused or NotFound otherwise.

    `attempt`: someone tries to use it; a refusal (used, expired, withdrawn) is audited.
    """
    row = find_link(token)
    state = link_state(row)
    if state != STATE_ACTIVE:
        refusal = _refusal(row, state)
        if attempt:
            audit.record_now("enroll.use", actor=f"enroll:link-{row.id}", outcome="denied",
                             detail=f"link {row.id} is {state}")
        raise refusal
    return row


def redeem(token: str, *, password: str, compatibility: str = COMPATIBLE) -> keygen.GeneratedBundle:
    """Use a link: mark it used (once, atomically), generate the key, return the .p12."""
    row = open_link(token, attempt=True)
    check_bundle_options(password, compatibility, row.key_type)  # before using the link
    actor = f"enroll:link-{row.id}"
    now = datetime.now(UTC).replace(microsecond=0)
    claimed = db.session.execute(
        update(EnrollmentLink)
        .where(EnrollmentLink.id == row.id, EnrollmentLink.used_at.is_(None),
               EnrollmentLink.cancelled_at.is_(None), EnrollmentLink.expires_at > now)
        .values(used_at=now)
    ).rowcount
    if claimed != 1:
        db.session.rollback()
        db.session.refresh(row)
        refusal = _refusal(row, link_state(row))
        audit.record_now("enroll.use", actor=actor, outcome="denied", detail=refusal.message)
        raise refusal
    db.session.commit()
    try:
        bundle = keygen.generate_bundle(
            common_name=row.common_name, email=row.email, profile_name=row.profile,
            key_type=row.key_type, password=password, compatibility=compatibility,
            days=row.days, actor=actor,
        )
    except Exception:
        db.session.rollback()  # nothing was handed over: the link works again
        db.session.execute(update(EnrollmentLink).where(EnrollmentLink.id == row.id)
                           .values(used_at=None))
        db.session.commit()
        raise
    db.session.execute(update(EnrollmentLink).where(EnrollmentLink.id == row.id)
                       .values(certificate_id=bundle.certificate.id))
    audit.record("enroll.use", actor=actor, serial=bundle.certificate.serial,
                 detail=f"link {row.id}: CN={row.common_name} downloaded ({compatibility})")
    db.session.commit()
    return bundle


def list_links(limit: int = 100) -> list[EnrollmentLink]:
    """The latest links, newest first."""
    return list(db.session.scalars(
        select(EnrollmentLink).order_by(EnrollmentLink.id.desc()).limit(limit)
    ))


def cancel_link(link_id: int, *, actor: str) -> EnrollmentLink:
    """Withdraw a link that has not been used yet."""
    row = db.session.get(EnrollmentLink, link_id)
    if row is None:
        raise NotFound(N_("no such enrollment link"), field="link")
    changed = db.session.execute(
        update(EnrollmentLink)
        .where(EnrollmentLink.id == link_id, EnrollmentLink.used_at.is_(None),
               EnrollmentLink.cancelled_at.is_(None))
        .values(cancelled_at=datetime.now(UTC).replace(microsecond=0))
    ).rowcount
    if not changed:
        db.session.rollback()
        raise PolicyViolation(N_("link %(link_id)s is already %(value)s"), field="link",
            link_id=link_id, value=link_state(row))
    audit.record("enroll.cancel", actor=actor, detail=f"link {row.id} for CN={row.common_name}")
    db.session.commit()
    db.session.refresh(row)
    return row
