"""Self-service: users request, renew, download and revoke their own certificates.

A request is checked against its profile's policy before it is recorded. It is then issued at
once (when the policy says so) or waits for an admin. A request from a CSR is signed when it is
approved. A request for a server-generated key records only the names: the key is generated
when the requester downloads the .p12, once, so the portal never stores it.

Every state change is one conditional UPDATE (`... WHERE status = <expected>`), so two admins
approving, or two tabs downloading, cannot both succeed.
"""

from datetime import UTC, datetime, timedelta

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from flask import current_app
from sqlalchemy import func, select, update
from sqlalchemy.exc import SQLAlchemyError

from ..ca.csr import load_csr
from ..ca.keys import DEFAULT_KEY_TYPE, KEY_TYPES
from ..ca.names import common_name_of, describe_general_name
from ..ca.pkcs12 import COMPATIBLE, check_bundle_options
from ..ca.profiles import apply_profile, get_profile
from ..ca.revocation import parse_reason
from ..errors import Conflict, InvalidInput, NotFound, PolicyViolation
from ..extensions import db
from ..models import (
    REQUEST_APPROVED,
    REQUEST_CANCELLED,
    REQUEST_ISSUED,
    REQUEST_PENDING,
    REQUEST_REJECTED,
    STATUS_ISSUED,
    STATUS_REVOKED,
    Certificate,
    CertificateRequest,
    User,
)
from ..translatable import N_
from . import audit, certificates, issuance, keygen
from .approval_expiry import download_deadline as download_deadline  # for the pages
from .approval_expiry import expire_overdue, refuse_if_expired
from .policy import check_names, get_policy

METHOD_GENERATE, METHOD_CSR = "generate", "csr"
METHODS = (METHOD_GENERATE, METHOD_CSR)
# Revocation reasons a user may give for their own certificate; the others are an admin's call.
USER_REASONS = ("keyCompromise", "superseded", "cessationOfOperation")
# A certificate may be renewed once it is within 30 days of its end, or within the last third
# of its lifetime when that is shorter (a 20-day certificate: its last 6 days and 16 hours).
RENEWAL_WINDOW = timedelta(days=30)
MAX_OPEN_REQUESTS = 10
OPEN = (REQUEST_PENDING, REQUEST_APPROVED)


def renewal_opens(row: Certificate) -> datetime:
    """When a certificate becomes renewable."""
    lifetime = row.not_after - row.not_before
    return row.not_after - min(RENEWAL_WINDOW, lifetime / 3)


def renewable(row: Certificate, now: datetime | None = None) -> bool:
    """Whether a certificate is issued and close enough to its end to be renewed."""
    now = now or datetime.now(UTC)
    return row.status == STATUS_ISSUED and now >= renewal_opens(row)


def own_certificate(certificate_id: int, user_id: int) -> Certificate:
    """One of the user's certificates; anyone else's is NotFound, as if it did not exist."""
    row = db.session.get(Certificate, certificate_id)
    if row is None or row.owner_id != user_id:
        raise NotFound(N_("no such certificate"), field="certificate")
    return row


def own_request(request_id: int, user_id: int | None = None) -> CertificateRequest:
    """A request by id; with `user_id`, only one of that user's (overdue approvals expired)."""
    if user_id is not None:
        expire_overdue(user_id)
    row = db.session.get(CertificateRequest, request_id)
    if row is None or (user_id is not None and row.requester_id != user_id):
        raise NotFound(N_("no such request"), field="request")
    return row


def user_certificates(user_id: int, limit: int = 200) -> list[Certificate]:
    """A user's certificates, newest first."""
    return list(db.session.scalars(
        select(Certificate).where(Certificate.owner_id == user_id)
        .order_by(Certificate.id.desc()).limit(limit)
    ))


def user_requests(user_id: int, limit: int = 50) -> list[CertificateRequest]:
    """A user's requests, newest first (approvals past their download deadline expired)."""
    expire_overdue(user_id)
    return list(db.session.scalars(
        select(CertificateRequest).where(CertificateRequest.requester_id == user_id)
        .order_by(CertificateRequest.id.desc()).limit(limit)
    ))


def pending_requests(limit: int = 200) -> list[CertificateRequest]:
    """Requests waiting for an admin, oldest first."""
    return list(db.session.scalars(
        select(CertificateRequest).where(CertificateRequest.status == REQUEST_PENDING)
        .order_by(CertificateRequest.id).limit(limit)
    ))


def decided_requests(limit: int = 30) -> list[CertificateRequest]:
    """The latest requests that no longer wait for an admin, newest first."""
    return list(db.session.scalars(
        select(CertificateRequest).where(CertificateRequest.status != REQUEST_PENDING)
        .order_by(CertificateRequest.id.desc()).limit(limit)
    ))


def pending_count() -> int:
    """How many requests wait for an admin."""
    return db.session.scalar(
        select(func.count()).select_from(CertificateRequest)
        .where(CertificateRequest.status == REQUEST_PENDING)
    )


def pending_badge() -> int:
    """`pending_count` for the navigation: 0 when the database fails (its error page renders)."""
    try:
        return pending_count()
    except SQLAlchemyError:
        db.session.rollback()
        return 0


def _csr_der(data: bytes) -> bytes:
    begin = data.find(b"-----BEGIN")
    if begin < 0:
        return data
    csr = x509.load_pem_x509_csr(data[begin:].strip() + b"\n")
    return csr.public_bytes(serialization.Encoding.DER)


def _names(method, *, common_name, email, sans, csr_data, key_type):
    """The requested subject, SANs, key type and CSR DER, from the form or the CSR."""
    if method == METHOD_CSR:
        if not csr_data or not csr_data.strip():
            raise InvalidInput(N_("paste a CSR or choose a file"), field="csr")
        config = current_app.config
        request = load_csr(csr_data, max_bytes=config["PORTAL_MAX_CSR_BYTES"],
                           max_sans=config["PORTAL_MAX_SANS"])
        return request.subject, request.sans, request.key_type, _csr_der(csr_data)
    if method != METHOD_GENERATE:
        raise InvalidInput(N_("choose how the key is made"), field="method")
    if key_type not in KEY_TYPES:
        raise InvalidInput(N_("choose one of %(values)s"), field="key_type",
            values=', '.join(KEY_TYPES))
    try:
        subject = keygen.build_subject(common_name or "")
    except PolicyViolation as exc:
        raise PolicyViolation(exc.msgid, field="common_name", **exc.params) from None
    return subject, keygen.parse_sans(list(sans), email), key_type, None


def create_request(
    user: User,
    *,
    profile_name: str,
    method: str,
    common_name: str | None = None,
    email: str | None = None,
    sans: list[str] = (),
    key_type: str = DEFAULT_KEY_TYPE,
    csr_data: bytes | None = None,
    days: int | None = None,
    renews: Certificate | None = None,
    actor: str,
) -> CertificateRequest:
    """Check a request against the policy and record it; issue it at once if the policy says so.

    A CSR request is then issued; a server-generated key waits (approved) for its download.
    """
    profile = get_profile(profile_name, leaf_only=True)
    policy = get_policy(profile.name)
    subject, names, key_type, csr_der = _names(
        method, common_name=common_name, email=email, sans=sans, csr_data=csr_data,
        key_type=key_type,
    )
    subject, names = apply_profile(profile, subject, names)
    check_names(policy, user, subject, names, days=days)
    if renews is not None:
        _check_renewable(renews, user.id)
    expire_overdue(user.id)
    open_count = db.session.scalar(
        select(func.count()).select_from(CertificateRequest).where(
            CertificateRequest.requester_id == user.id, CertificateRequest.status.in_(OPEN)
        )
    )
    if open_count >= MAX_OPEN_REQUESTS:
        raise Conflict(N_("you have %(open_count)s open requests: wait for them or cancel one"),
                       field="profile",
            open_count=open_count)
    row = CertificateRequest(
        requester_id=user.id, profile=profile.name, method=method,
        common_name=common_name_of(subject), subject=subject.rfc4514_string(),
        sans=", ".join(describe_general_name(name) for name in names), key_type=key_type,
        days=days, csr_der=csr_der, status=REQUEST_PENDING, comment="",
        renews_id=renews.id if renews is not None else None,
    )
    db.session.add(row)
    db.session.flush()
    renewal = f", renewing {renews.serial}" if renews is not None else ""
    audit.record("request.create", actor=actor, serial=renews.serial if renews else None,
                 detail=f"request {row.id}: {profile.name} {row.subject} {row.sans} "
                        f"({method}, {key_type}{renewal})")
    db.session.commit()
    if policy.auto_issue:
        _approve(row, comment="approved at once by the profile's policy",
                 actor=f"policy:{profile.name}")
    return row


def _check_renewable(row: Certificate, user_id: int) -> None:
    if row.owner_id != user_id:
        raise NotFound(N_("no such certificate"), field="certificate")
    if not renewable(row):
        raise PolicyViolation(
            N_("this certificate can be renewed from %(when)s UTC"),
            field="certificate", when=f"{renewal_opens(row):%Y-%m-%d %H:%M}",
        )
    taken = db.session.scalar(select(CertificateRequest.id).where(
        CertificateRequest.renews_id == row.id,
        CertificateRequest.status.in_((*OPEN, REQUEST_ISSUED)),
    ).limit(1))
    if taken is not None:
        raise Conflict(N_("this certificate is already renewed (request %(taken)s)"),
                       field="certificate",
            taken=taken)


def renew(user: User, certificate_id: int, *, method: str, key_type: str = DEFAULT_KEY_TYPE,
          csr_data: bytes | None = None, actor: str) -> CertificateRequest:
    """Request the successor of a certificate close to expiry: same profile, same names.

    With a server-generated key the names are the old certificate's and a new key is made at
    download; with a CSR the names come from the new CSR. Either way the policy is checked
    again. The old certificate is not revoked: it runs out by itself, so the person has until
    then to put the new one in place (they may revoke it as superseded sooner).
    """
    row = own_certificate(certificate_id, user.id)
    expire_overdue(user.id)
    _check_renewable(row, user.id)
    texts = [text for text in row.sans.split(", ") if text]
    return create_request(
        user, profile_name=row.profile, method=method, common_name=row.common_name,
        sans=texts, key_type=key_type, csr_data=csr_data, renews=row, actor=actor,
    )


def _claim(row: CertificateRequest, old: str, new: str, **values) -> None:
    """Move a request from `old` to `new` status, or fail if someone else moved it first."""
    changed = db.session.execute(
        update(CertificateRequest)
        .where(CertificateRequest.id == row.id, CertificateRequest.status == old)
        .values(status=new, **values)
    ).rowcount
    if not changed:
        db.session.rollback()
        db.session.refresh(row)
        raise Conflict(N_("request %(id)s is already %(status)s"), field="request",
            id=row.id, status=row.status)
    db.session.commit()
    db.session.refresh(row)


def _approve(row: CertificateRequest, *, comment: str, actor: str) -> CertificateRequest:
    now = datetime.now(UTC)
    _claim(row, REQUEST_PENDING, REQUEST_APPROVED, decided_at=now, decided_by=actor[:128],
           comment=comment[:2000])
    if row.method == METHOD_GENERATE:
        audit.record("request.approve", actor=actor, detail=f"request {row.id} of "
                     f"{row.requester.username}: key to be generated at download; {comment}")
        db.session.commit()
        return row
    try:
        request = load_csr(row.csr_der)
        profile = get_profile(row.profile, leaf_only=True)
        subject, names = apply_profile(profile, request.subject, request.sans)
        certificate = issuance.issue_for_key(
            request.public_key, request.key_type, subject, names, profile, ca_name=None,
            days=row.days, owner_id=row.requester_id, actor=actor, spki=request.spki,
        )
    except Exception:
        db.session.rollback()
        db.session.execute(update(CertificateRequest).where(CertificateRequest.id == row.id)
                           .values(status=REQUEST_PENDING, decided_at=None, decided_by=None))
        db.session.commit()
        raise
    _claim(row, REQUEST_APPROVED, REQUEST_ISSUED, certificate_id=certificate.id)
    audit.record("request.approve", actor=actor, serial=certificate.serial,
                 detail=f"request {row.id} of {row.requester.username} issued; {comment}")
    db.session.commit()
    return row


def approve(request_id: int, *, comment: str = "", actor: str) -> CertificateRequest:
    """Approve a pending request: a CSR is signed now, a generated key waits for its download."""
    return _approve(own_request(request_id), comment=(comment or "").strip(), actor=actor)


def reject(request_id: int, *, comment: str, actor: str) -> CertificateRequest:
    """Reject a pending request, saying why (the requester sees the comment)."""
    comment = (comment or "").strip()
    if not comment:
        raise InvalidInput(N_("say why, so that the requester knows what to change"),
                           field="comment")
    row = own_request(request_id)
    _claim(row, REQUEST_PENDING, REQUEST_REJECTED, decided_at=datetime.now(UTC),
           decided_by=actor[:128], comment=comment[:2000])
    audit.record("request.reject", actor=actor,
                 detail=f"request {row.id} of {row.requester.username}: {comment}")
    db.session.commit()
    return row


def cancel(request_id: int, user_id: int, *, actor: str) -> CertificateRequest:
    """Withdraw one's own request while it waits for approval or for its download."""
    row = own_request(request_id, user_id)
    if row.status not in OPEN:
        raise Conflict(N_("request %(id)s is already %(status)s"), field="request",
            id=row.id, status=row.status)
    _claim(row, row.status, REQUEST_CANCELLED)
    audit.record("request.cancel", actor=actor, detail=f"request {row.id}")
    db.session.commit()
    return row


def download(request_id: int, user_id: int, *, password: str, compatibility: str = COMPATIBLE,
             actor: str) -> keygen.GeneratedBundle:
    """Generate the key of an approved request, issue its certificate, return the .p12: once."""
    row = own_request(request_id, user_id)
    if row.method != METHOD_GENERATE:
        raise NotFound(N_("this request has no key to download"), field="request")
    refuse_if_expired(row, actor=actor)
    check_bundle_options(password, compatibility, row.key_type)  # before anything changes
    _claim(row, REQUEST_APPROVED, REQUEST_ISSUED)
    try:
        bundle = keygen.generate_bundle(
            common_name=row.common_name or "", sans=row.sans.split(", ") if row.sans else [],
            profile_name=row.profile, key_type=row.key_type, password=password,
            compatibility=compatibility, days=row.days, owner_id=row.requester_id, actor=actor,
        )
    except Exception:
        db.session.rollback()
        db.session.execute(update(CertificateRequest).where(CertificateRequest.id == row.id)
                           .values(status=REQUEST_APPROVED))
        db.session.commit()
        raise
    row.certificate_id = bundle.certificate.id
    audit.record("request.download", actor=actor, serial=bundle.certificate.serial,
                 detail=f"request {row.id}: key generated and handed over ({compatibility})")
    db.session.commit()
    return bundle


def revoke_own(certificate_id: int, user_id: int, *, reason: str, actor: str) -> Certificate:
    """Revoke one of the user's certificates, for one of the reasons a user may give.

    The pages and a user's API token both come here: the other reasons (cACompromise...) are
    an admin's call.
    """
    row = own_certificate(certificate_id, user_id)
    name = parse_reason(reason) if reason else None  # "key_compromise" as the API accepts
    if row.status == STATUS_REVOKED:
        raise Conflict(N_("certificate %(serial)s is already revoked"), field="serial",
            serial=row.serial)
    if name not in USER_REASONS:
        raise InvalidInput(N_("choose one of %(values)s"), field="reason",
            values=', '.join(USER_REASONS))
    return certificates.revoke_certificate(row.serial, reason=name, ca_name=row.ca.name,
                                           actor=actor)
