"""Who signs a CA's OCSP responses: its delegated responder (default) or the CA key itself.

The responder is a certificate of the `ocsp` profile issued by the CA like any other (a row
committed before signing, pkilint, audit), with an EC P-256 key sealed under the CA secret
exactly as CA keys are (bound to the responder certificate). It is issued when missing and
again once half of its lifetime (PORTAL_OCSP_DAYS) has passed; the old one stays valid for
the responses it signed. PORTAL_OCSP_SIGNER = "ca" signs with the CA key instead.
"""

from dataclasses import dataclass
from datetime import UTC, datetime

from cryptography import x509
from cryptography.x509.oid import NameOID
from flask import current_app
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from ..ca.keys import generate_private_key
from ..ca.keystore import seal_private_key, unseal_private_key
from ..ca.ocsp import ResponseSigner
from ..ca.profiles import OCSP_PROFILE
from ..errors import CAKeyUnavailable, InvalidInput
from ..extensions import db
from ..models import CertificateAuthority, OCSPResponder
from ..translatable import N_
from . import cache
from .authorities import get_signer
from .secrets import ca_secret

SIGNER_MODES = ("responder", "ca")


@dataclass(frozen=True)
class OCSPSigner:
    """A CA's response signer, and the fingerprint of the certificate that identifies it."""

    ca_id: int
    fingerprint: str
    signer: ResponseSigner
    not_after: datetime


def signer_mode() -> str:
    """PORTAL_OCSP_SIGNER: "responder" (a delegated certificate) or "ca" (the CA key)."""
    mode = str(current_app.config["PORTAL_OCSP_SIGNER"]).strip().lower()
    if mode not in SIGNER_MODES:
        raise InvalidInput(N_("PORTAL_OCSP_SIGNER must be one of %(values)s (got %(mode)r)"),
            values=', '.join(SIGNER_MODES), mode=mode)
    return mode


def _due(row: OCSPResponder, now: datetime) -> bool:
    """Whether a responder certificate is past half of its lifetime (or its end)."""
    return now >= row.not_before + (row.not_after - row.not_before) / 2


def issue_responder(ca: CertificateAuthority, *, actor: str) -> OCSPResponder:
    """Issue the CA a new delegated responder and keep it (replacing the current one)."""
    from .issuance import issue_for_key  # issuance imports this module's callers

    secret = ca_secret()
    if not secret:
        raise CAKeyUnavailable(N_("the CA secret is not configured: no OCSP responder key can "
                                  "be sealed"))
    key = generate_private_key("ec-p256")
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME,
                                            f"{ca.name} OCSP responder"[:64])])
    issued = issue_for_key(
        key.public_key(), "ec-p256", subject, (), OCSP_PROFILE, ca_name=ca.name,
        days=current_app.config["PORTAL_OCSP_DAYS"], owner_id=None, actor=actor,
    )
    values = dict(
        serial=issued.serial, fingerprint_sha256=issued.fingerprint_sha256,
        not_before=issued.not_before, not_after=issued.not_after,
        certificate_der=issued.der,
        key_encrypted=seal_private_key(key, secret, bound_to=issued.der),
        created_at=datetime.now(UTC),
    )
    changed = db.session.execute(
        update(OCSPResponder).where(OCSPResponder.ca_id == ca.id).values(**values)
    ).rowcount
    if not changed:
        db.session.add(OCSPResponder(ca_id=ca.id, **values))
    try:
        db.session.commit()
    except IntegrityError:  # another process stored one first: theirs is as good
        db.session.rollback()
    return db.session.scalar(select(OCSPResponder).filter_by(ca_id=ca.id))


def ensure_responder(ca: CertificateAuthority, *, actor: str,
                     now: datetime | None = None) -> tuple[OCSPResponder, bool]:
    """The CA's responder, issued anew when missing or due; and whether it was issued now."""
    now = now or datetime.now(UTC)
    row = db.session.scalar(select(OCSPResponder).filter_by(ca_id=ca.id))
    if row is not None and not _due(row, now):
        return row, False
    return issue_responder(ca, actor=actor), True


def response_signer(ca: CertificateAuthority, *, actor: str = "ocsp",
                    create: bool = True) -> OCSPSigner | None:
    """The CA's OCSP signer in the configured mode, its key unsealed once per process.

    Without `create`, None when the CA has no responder yet (issuance does not make one: the
    first OCSP answer or `portal ocsp refresh` does).
    """
    if signer_mode() == "ca":
        signer = get_signer(ca)
        return OCSPSigner(ca.id, ca.fingerprint_sha256, ResponseSigner.by_ca(signer),
                          signer.not_after)
    if create:
        row, _issued = ensure_responder(ca, actor=actor)
    else:
        row = db.session.scalar(select(OCSPResponder).filter_by(ca_id=ca.id))
        if row is None or row.not_after <= datetime.now(UTC):
            return None
    signers = cache.table("ocsp.signers")
    found = signers.get((ca.id, row.fingerprint_sha256))
    if found is None:
        certificate = x509.load_der_x509_certificate(row.certificate_der)
        key = unseal_private_key(row.key_encrypted, ca_secret(), bound_to=row.certificate_der)
        found = signers[(ca.id, row.fingerprint_sha256)] = OCSPSigner(
            ca.id, row.fingerprint_sha256, ResponseSigner.delegated(certificate, key),
            certificate.not_valid_after_utc,
        )
    return found
