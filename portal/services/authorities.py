"""Use cases for certificate authorities: create, import, look up, and the signer of each."""

import re
from datetime import UTC, datetime

from cryptography import x509
from flask import current_app
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from ..ca.authority import (
    ca_subject,
    check_ca_pair,
    check_may_have_intermediates,
    create_intermediate_ca,
    create_root_ca,
    load_certificate_file,
)
from ..ca.clientcert import find_issuer
from ..ca.keys import key_type_of
from ..ca.keystore import load_private_key_file, seal_private_key, unseal_private_key
from ..ca.names import common_name_of
from ..ca.pem import to_der
from ..ca.profiles import PublicationUrls, validity_window
from ..ca.serials import random_serial, serial_to_hex
from ..ca.signer import CASigner, fingerprint_sha256
from ..ca.urls import publication_urls
from ..errors import CAKeyUnavailable, Conflict, InvalidInput, NotFound
from ..extensions import db
from ..models import STATUS_ISSUED, STATUS_PENDING, Certificate, CertificateAuthority
from ..translatable import N_, Message
from . import audit, ca_state, cache
from .client_ca_bundle import write_client_ca_bundle
from .secrets import ca_secret

_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")


def check_ca_name(name: str) -> str:
    """CA names appear in URLs (/ca/<name>/crl.der): letters, digits, dot, dash, underscore."""
    if not name or not _NAME.fullmatch(name):
        raise InvalidInput(
            N_("a CA name is 1-64 letters, digits, '.', '-' or '_', starting with a letter or "
               "digit"),
            field="name",
        )
    return name


def list_cas() -> list[CertificateAuthority]:
    """Every CA, the default first."""
    return list(
        db.session.scalars(
            select(CertificateAuthority).order_by(
                CertificateAuthority.is_default.desc(), CertificateAuthority.id
            )
        )
    )


def get_ca(name: str | None = None) -> CertificateAuthority:
    """A CA by name, or the default CA when no name is given."""
    if name:
        ca = db.session.scalar(select(CertificateAuthority).filter_by(name=name))
        if ca is None:
            raise NotFound(N_("no CA named %(name)r"), field="ca",
                name=name)
        return ca
    ca = db.session.scalar(select(CertificateAuthority).filter_by(is_default=True))
    if ca is None:
        raise NotFound(N_("there is no CA yet: run `portal init` or `portal ca create`"),
                       field="ca")
    return ca


def ca_certificate(ca: CertificateAuthority) -> x509.Certificate:
    """The CA's certificate, parsed."""
    return x509.load_der_x509_certificate(ca.certificate_der)


def chain_of(ca: CertificateAuthority) -> list[x509.Certificate]:
    """The CA's certificate followed by its parents up to the root."""
    chain = []
    node: CertificateAuthority | None = ca
    while node is not None:
        chain.append(ca_certificate(node))
        node = node.parent
    return chain


def urls_for(ca: CertificateAuthority) -> PublicationUrls:
    """Where certificates issued by `ca` say its CRL, certificate and OCSP responder are."""
    path = "" if ca.is_default else f"ca/{ca.name}"
    config = current_app.config
    return publication_urls(config["PORTAL_PUBLIC_URL"], path,
                            ocsp=bool(config["PORTAL_OCSP_URL_IN_CERTS"]))


def get_signer(ca: CertificateAuthority) -> CASigner:
    """The CA's signer, decrypting its key once per process (an RSA key costs ~30 ms to load)."""
    signers = cache.table("authorities.signers")
    key = (ca.id, ca.fingerprint_sha256)
    signer = signers.get(key)
    if signer is None:
        certificate = ca_certificate(ca)
        private_key = unseal_private_key(
            ca.key_encrypted, ca_secret(), bound_to=ca.certificate_der
        )
        signer = signers[key] = CASigner(certificate, private_key)
    return signer


def key_usable(ca: CertificateAuthority) -> tuple[bool, str]:
    """Whether the CA's key can be decrypted, and why not."""
    try:
        get_signer(ca)
    except CAKeyUnavailable as exc:
        return False, Message(exc.msgid, **exc.params)
    return True, "ok"


def _store(
    name: str, certificate: x509.Certificate, private_key, *, parent_id: int | None, actor: str,
    action: str, issued_row: Certificate | None = None,
) -> CertificateAuthority:
    secret = ca_secret()
    if not secret:
        raise CAKeyUnavailable(
            N_("the CA secret is not configured (instance/ca-secret or PORTAL_CA_SECRET): run "
               "`portal init` first")
        )
    der = to_der(certificate)
    has_default = db.session.scalar(
        select(func.count()).select_from(CertificateAuthority).filter_by(is_default=True)
    )
    ca = CertificateAuthority(
        name=name,
        parent_id=parent_id,
        is_default=not has_default,
        subject=certificate.subject.rfc4514_string(),
        serial=serial_to_hex(certificate.serial_number),
        key_type=key_type_of(certificate.public_key()),
        fingerprint_sha256=fingerprint_sha256(certificate),
        not_before=certificate.not_valid_before_utc,
        not_after=certificate.not_valid_after_utc,
        certificate_der=der,
        key_encrypted=seal_private_key(private_key, secret, bound_to=der),
    )
    db.session.add(ca)
    if issued_row is not None:  # the intermediate's own record under its parent
        issued_row.der = der
        issued_row.fingerprint_sha256 = ca.fingerprint_sha256
        issued_row.status = STATUS_ISSUED
    audit.record(action, actor=actor, serial=ca.serial, detail=f"CA {name}: {ca.subject}")
    try:
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        raise Conflict(N_("a CA named %(name)r or with this certificate already exists"),
            name=name) from None
    try:
        write_client_ca_bundle()  # a running server trusts the new CA's client certificates now
    except OSError as exc:  # the CA stands; the next start or renewal check writes the bundle
        current_app.logger.warning("portal: could not rewrite the client CA bundle: %s", exc)
    return ca


def _check_subject_fits(certificate: x509.Certificate) -> None:
    """Refuse a subject longer than its column (PostgreSQL would refuse it with a 500)."""
    limit = CertificateAuthority.__table__.c.subject.type.length
    length = len(certificate.subject.rfc4514_string())
    if length > limit:
        raise InvalidInput(N_("the CA certificate's subject is %(length)s characters long as "
                              "text; at most %(limit)s can be stored"), field="cert",
            length=length, limit=limit)


def _refuse_existing_name(name: str) -> None:
    if db.session.scalar(select(CertificateAuthority.id).filter_by(name=name)) is not None:
        raise Conflict(N_("a CA named %(name)r already exists"), field="name",
            name=name)


def _record_pending_intermediate(
    parent_ca: CertificateAuthority, subject: x509.Name, key_type: str, days: int,
    now: datetime, signer: CASigner,
) -> Certificate:
    """Commit the intermediate's certificate row under its parent before signing it.

    Like every certificate, an intermediate has a row in its issuer's list: it is searchable
    and can be revoked, which puts it on the parent's CRL.
    """
    not_before, not_after = validity_window(now, days, ca_not_after=signer.not_after)
    for _attempt in range(5):
        row = Certificate(
            ca_id=parent_ca.id, serial=serial_to_hex(random_serial()),
            common_name=common_name_of(subject), subject=subject.rfc4514_string(), sans="",
            profile="ca", key_type=key_type, not_before=not_before, not_after=not_after,
            status=STATUS_PENDING,
        )
        db.session.add(row)
        try:
            db.session.commit()
        except IntegrityError:  # a serial collision: astronomically rare, so just try again
            db.session.rollback()
            continue
        return row
    raise Conflict(N_("could not allocate a unique serial number; try again"))


def create_ca(
    name: str,
    *,
    key_type: str,
    days: int | None = None,
    parent: str | None = None,
    common_name: str | None = None,
    organization: str | None = None,
    actor: str,
) -> CertificateAuthority:
    """Create a root CA, or an intermediate under the CA named `parent`."""
    check_ca_name(name)
    _refuse_existing_name(name)
    subject = ca_subject(common_name or name, organization)
    config = current_app.config
    if parent:
        parent_ca = get_ca(parent)
        ca_state.check_may_sign(parent_ca.id)  # a revoked or expired parent signs nothing
        signer = get_signer(parent_ca)
        check_may_have_intermediates(signer)  # before anything is written
        days = min(days or config["PORTAL_CA_DAYS"], config["PORTAL_MAX_CA_DAYS"])
        now = datetime.now(UTC).replace(microsecond=0)
        row = _record_pending_intermediate(parent_ca, subject, key_type, days, now, signer)
        certificate, key = create_intermediate_ca(
            signer, subject, key_type=key_type, days=days, urls=urls_for(parent_ca), now=now,
            serial=int(row.serial, 16),
        )
        return _store(name, certificate, key, parent_id=parent_ca.id, actor=actor,
                      action="ca.create_intermediate", issued_row=row)
    days = min(days or config["PORTAL_ROOT_DAYS"], config["PORTAL_MAX_CA_DAYS"])
    certificate, key = create_root_ca(subject, key_type=key_type, days=days)
    return _store(name, certificate, key, parent_id=None, actor=actor, action="ca.create_root")


def import_ca(
    certificate_data: bytes,
    key_data: bytes,
    *,
    name: str | None = None,
    key_password: bytes | None = None,
    actor: str,
) -> CertificateAuthority:
    """Import an existing CA from its certificate and private key (optionally encrypted)."""
    certificate = load_certificate_file(certificate_data)
    private_key = load_private_key_file(key_data, key_password)
    check_ca_pair(certificate, private_key)
    _check_subject_fits(certificate)
    if name is None:
        common = certificate.subject.get_attributes_for_oid(x509.oid.NameOID.COMMON_NAME)
        name = re.sub(r"[^A-Za-z0-9._-]+", "-", str(common[0].value) if common else "imported")
        name = name.strip("-._")[:64] or "imported"
    check_ca_name(name)
    _refuse_existing_name(name)
    fingerprint = fingerprint_sha256(certificate)
    if db.session.scalar(
        select(CertificateAuthority.id).filter_by(fingerprint_sha256=fingerprint)
    ):
        raise Conflict(N_("this CA certificate is already imported"), field="cert")
    parent_id = None
    if certificate.issuer != certificate.subject:
        authorities = {ca_certificate(ca): ca.id for ca in list_cas()}
        # The parent is the CA whose key signed it, not merely one with the issuer's name.
        parent_id = authorities.get(find_issuer(certificate, list(authorities)))
    return _store(name, certificate, private_key, parent_id=parent_id, actor=actor,
                  action="ca.import")


def ca_by_id(ca_id: int) -> CertificateAuthority:
    """A CA by id (NotFound when there is none)."""
    ca = db.session.get(CertificateAuthority, ca_id)
    if ca is None:
        raise NotFound(N_("no CA with id %(ca_id)s"), field="ca",
            ca_id=ca_id)
    return ca
