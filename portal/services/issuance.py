"""Issuing certificates: check the request, record a pending row, sign, store.

Issuance is the hot path. The rule stays: the pending row is committed before anything is
signed, and the signed certificate is committed before it is handed out. Around that rule the
writes (one INSERT for the row, one for its names, one UPDATE and one audit INSERT) are Core
statements compiled once and run on the thread's held driver connection (see driver.py); the
issuing CA's state (revoked or expired, itself or above it) is read on that connection for
every certificate, in the transaction that records the pending row; its signer and URLs come
from the process cache; and what is handed back is
a plain value built from what is already known, neither read back nor attached to the session.
"""

from dataclasses import dataclass
from datetime import UTC, datetime
from hashlib import sha256

from cryptography import x509
from flask import current_app
from sqlalchemy import Engine, bindparam, insert, select, update
from sqlalchemy.exc import IntegrityError

from ..ca.csr import CertificateRequest, load_csr
from ..ca.lint import check_before_signing
from ..ca.names import common_name_of, describe_general_name
from ..ca.pem import to_der
from ..ca.profiles import Profile, PublicationUrls, apply_profile, get_profile, validity_window
from ..ca.serials import random_serial, serial_to_hex
from ..ca.signer import CASigner, build_certificate
from ..ca.spki import check_same_public_key
from ..errors import PortalError
from ..extensions import db
from ..models import (
    STATUS_ISSUED,
    STATUS_PENDING,
    Certificate,
    CertificateName,
)
from ..translatable import N_
from . import audit, ca_state, cache, ocsp_store
from .authorities import get_ca, get_signer, urls_for
from .driver import DriverConnection, thread_connection

SERIAL_ATTEMPTS = 5

_CERTIFICATES = Certificate.__table__
_PENDING_COLUMNS = (
    "ca_id", "serial", "common_name", "subject", "sans", "profile", "key_type", "not_before",
    "not_after", "status", "owner_id", "created_at",
)
_NAME_COLUMNS = ("certificate_id", "kind", "value")
_INSERT_PENDING = insert(_CERTIFICATES)
_INSERT_NAME = insert(CertificateName.__table__)
_SERIAL_TAKEN = select(_CERTIFICATES.c.id).where(
    _CERTIFICATES.c.ca_id == bindparam("ca_id"), _CERTIFICATES.c.serial == bindparam("serial")
)
_STORE_SIGNED = (
    update(_CERTIFICATES)
    .where(_CERTIFICATES.c.id == bindparam("row_id"))
    .values(der=bindparam("der"), fingerprint_sha256=bindparam("fingerprint"), status=STATUS_ISSUED)
)


@dataclass(frozen=True, slots=True)
class IssuedCertificate:
    """A certificate just issued: its committed row's values, and the certificate itself.

    A plain value rather than an ORM object: building and attaching one costs more than the
    INSERT. Load the row (by `id`) when its relationships are needed.
    """

    id: int
    ca_id: int
    serial: str
    common_name: str | None
    subject: str
    sans: str
    profile: str
    key_type: str
    not_before: datetime
    not_after: datetime
    status: str
    owner_id: int | None
    created_at: datetime
    der: bytes
    fingerprint_sha256: str
    certificate: x509.Certificate
    revoked_at: datetime | None = None
    revocation_reason: str | None = None


@dataclass(frozen=True)
class Issuer:
    """What signing needs to know about a CA, cached per process."""

    id: int
    name: str
    signer: CASigner
    urls: PublicationUrls


def validity_days(profile: Profile, days: int | None) -> int:
    """The requested validity, or the profile's default, capped by configuration."""
    config = current_app.config
    default = config[f"PORTAL_{profile.name.upper()}_DAYS"]
    return min(days or default, config["PORTAL_MAX_DAYS"])


def get_issuer(
    ca_name: str | None, *, connection: DriverConnection | None = None, engine: Engine | None = None
) -> Issuer:
    """The CA named `ca_name` (or the default CA), ready to sign; CAUnusable when it may not.

    Which CA that is, and whether it or any CA above it is revoked or expired, is read from
    the database on every call (on `connection` when given); only what signing
    needs (the decrypted key, the URLs) is kept per process, keyed by CA id and fingerprint.
    """
    if connection is not None:
        states = ca_state.ca_states_on(connection)
    else:
        states = ca_state.ca_states()
    state = states.find(ca_name).check()
    issuers = cache.table("issuance.issuers")
    key = (state.id, state.fingerprint_sha256)
    issuer = issuers.get(key)
    if issuer is None:
        ca = get_ca(state.name)
        issuer = Issuer(id=ca.id, name=ca.name, signer=get_signer(ca), urls=urls_for(ca))
        issuers[key] = issuer
    return issuer


def owner_for(owner_id: int | None, requested_by: int | None) -> int | None:
    """Who owns a new certificate: the user named, else the person who asked for it.

    The one rule for every path: an admin issuing on a page or with an API token owns what
    they issue unless they name someone else; the command line has no signed-in person, so
    its certificates have an owner only with --owner.
    """
    return owner_id if owner_id is not None else requested_by


@dataclass(frozen=True)
class CheckedCSR:
    """A CSR parsed, its signature and key verified, its names put through the profile.

    What `preview` shows and `issue_checked` signs: the CSR is parsed and verified once.
    """

    request: CertificateRequest
    profile: Profile
    subject: x509.Name
    sans: tuple[x509.GeneralName, ...]
    default_days: int  # the validity when none is asked for


def preview(csr_data: bytes, profile_name: str) -> CheckedCSR:
    """Check a CSR for a leaf profile: what the certificate will hold, before anything is signed."""
    config = current_app.config
    request = load_csr(
        csr_data, max_bytes=config["PORTAL_MAX_CSR_BYTES"], max_sans=config["PORTAL_MAX_SANS"]
    )
    profile = get_profile(profile_name, leaf_only=True)
    subject, sans = apply_profile(profile, request.subject, request.sans)
    return CheckedCSR(request, profile, subject, sans, validity_days(profile, None))


def issue_checked(
    checked: CheckedCSR,
    *,
    ca_name: str | None = None,
    days: int | None = None,
    owner_id: int | None = None,
    requested_by: int | None = None,
    actor: str,
) -> IssuedCertificate:
    """Issue the certificate a `preview` showed; return what its committed row holds (issued).

    `requested_by`: the signed-in user asking (see `owner_for`).
    """
    request = checked.request
    return issue_for_key(
        request.public_key, request.key_type, checked.subject, checked.sans, checked.profile,
        ca_name=ca_name, days=days, owner_id=owner_for(owner_id, requested_by), actor=actor,
        spki=request.spki,
    )


def issue_from_csr(csr_data: bytes, profile_name: str, **options) -> IssuedCertificate:
    """Issue a leaf certificate for a CSR (options: those of `issue_checked`), in one step."""
    return issue_checked(preview(csr_data, profile_name), **options)


def issue_for_key(
    public_key,
    key_type: str,
    subject: x509.Name,
    sans: tuple[x509.GeneralName, ...],
    profile: Profile,
    *,
    ca_name: str | None,
    days: int | None,
    owner_id: int | None,
    actor: str,
    spki: bytes | None = None,
    allow_localhost: bool = False,
) -> IssuedCertificate:
    """Sign a checked subject, SANs and public key; the row is committed before signing.

    `spki`: the key as the CSR encoded it, which the certificate must carry unchanged (keys
    made here have no encoding but cryptography's own: None). `allow_localhost` is for the
    portal's own HTTPS certificate only (see ca/lint.py).
    """
    with thread_connection(db.engine) as connection:
        # Fails before anything is written when the CA is revoked or expired (it, or one above
        # it, read now, in the transaction that records the pending row) or its key is
        # unusable.
        issuer = get_issuer(ca_name, connection=connection)
        if db.session.registry.has() and db.session().in_transaction():
            # Whatever the caller's session holds is committed first, as the pending row's
            # commit always did: on SQLite a second connection would otherwise wait on its
            # write lock. (Without a session yet, none is made just to ask: the API's requests
            # never use one.)
            db.session.commit()
        now = datetime.now(UTC)
        not_before, not_after = validity_window(
            now, validity_days(profile, days), ca_not_after=issuer.signer.not_after
        )
        values = {
            "ca_id": issuer.id,
            "common_name": common_name_of(subject),
            "subject": subject.rfc4514_string(),
            "profile": profile.name,
            "key_type": key_type,
            "not_before": not_before,
            "not_after": not_after,
            "status": STATUS_PENDING,
            "owner_id": owner_id,
            "created_at": now,
        }
        serial = random_serial()  # linted with it, recorded under it (unless it is taken)
        # Boulder's safety net: pkilint on what is about to be signed, before anything is
        # written.
        check_before_signing(
            issuer.signer, public_key=public_key, key_type=key_type, subject=subject, sans=sans,
            profile=profile, serial=serial, not_before=not_before, not_after=not_after,
            urls=issuer.urls, allow_localhost=allow_localhost,
        )
        values["id"], serial = _record_pending(connection, values, sans, serial)
        try:
            certificate = build_certificate(
                issuer.signer, public_key=public_key, subject=subject, sans=sans,
                profile=profile, serial=serial, not_before=not_before, not_after=not_after,
                urls=issuer.urls,
            )
            der = to_der(certificate)
            if spki is not None:  # a CSR's key: the certificate must carry its very bytes
                check_same_public_key(der, spki)
        except Exception as exc:
            audit.record_now(
                "certificate.issue", actor=actor, serial=values["serial"], outcome="error",
                detail=f"signing failed, row left pending: {exc}",
            )
            raise
        # Its OCSP "good", signed before this transaction writes (a responder's own status is
        # never asked: ocsp-nocheck).
        presigned = None if profile.name == "ocsp" else ocsp_store.presign_good(
            issuer.id, values["serial"])
        # fingerprint_sha256(certificate), without serialising the certificate a second time
        values.update(der=der, fingerprint_sha256=sha256(der).hexdigest(), status=STATUS_ISSUED)
        connection.execute(_STORE_SIGNED, {
            "row_id": values["id"], "der": values["der"],
            "fingerprint": values["fingerprint_sha256"],
        })
        audit.insert_on_driver(connection, None, audit.event_row(
            "certificate.issue", actor=actor, serial=values["serial"],
            detail=f"{profile.name} {values['subject']} by {issuer.name}",
        ))
        ocsp_store.insert_presigned(connection, db.engine, presigned)  # same commit
        connection.commit()
    return IssuedCertificate(certificate=certificate, **values)


def _record_pending(
    connection: DriverConnection, values: dict, sans: tuple[x509.GeneralName, ...], serial: int
) -> tuple[int, int]:
    """Insert and commit the pending row and its names under the random `serial`.

    Retries under a fresh random serial on a (rare) collision; returns the row id and the
    serial.
    """
    described = [describe_general_name(name) for name in sans]
    values["sans"] = ", ".join(described)
    names = [text.split(":", 1) for text in described]
    for attempt in range(SERIAL_ATTEMPTS):
        if attempt:
            serial = random_serial()
        values["serial"] = serial_to_hex(serial)
        try:
            row_id = connection.execute(_INSERT_PENDING, values, _PENDING_COLUMNS)
            if names:
                connection.execute_many(_INSERT_NAME, [
                    {"certificate_id": row_id, "kind": kind, "value": value.lower()}
                    for kind, value in names
                ], _NAME_COLUMNS)
            connection.commit()
        except IntegrityError:
            connection.rollback()
            if _serial_taken(connection, values["ca_id"], values["serial"]):
                continue
            raise  # another constraint (an unknown owner, say): a bug, not bad luck
        return row_id, serial
    raise PortalError(N_("could not allocate a unique serial number; try again"))


def _serial_taken(connection: DriverConnection, ca_id: int, serial: str) -> bool:
    """Whether the CA already has a certificate with this serial."""
    found = connection.first(_SERIAL_TAKEN, {"ca_id": ca_id, "serial": serial})
    connection.rollback()
    return found is not None
