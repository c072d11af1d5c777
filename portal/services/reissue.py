"""Issue similar (renew) for admins: a new certificate with an old one's names and profile.

The new key comes from a CSR (only its public key is used: the names are the old
certificate's, put through the profile again) or is generated here and handed over once, as
the generate page does. The old certificate stays valid unless the admin asks for it to be
revoked as superseded in the same step; it is revoked only once the new one is issued.
"""

from dataclasses import dataclass

from cryptography import x509
from flask import current_app

from ..ca.csr import load_csr
from ..ca.names import common_name_of
from ..ca.profiles import Profile, apply_profile, get_profile
from ..errors import InvalidInput, NotFound
from ..extensions import db
from ..models import STATUS_ISSUED, STATUS_REVOKED, Certificate
from ..translatable import N_
from . import audit, certificates, keygen
from .issuance import IssuedCertificate, issue_for_key, owner_for

SUPERSEDED = "superseded"


@dataclass(frozen=True)
class Template:
    """What the new certificate copies from the old one, checked against its profile again."""

    row: Certificate
    subject: x509.Name
    names: tuple[x509.GeneralName, ...]
    profile: Profile


def template_of(certificate_id: int) -> Template:
    """The names and profile of a signed certificate, for a similar one."""
    row = db.session.get(Certificate, certificate_id)
    if row is None:
        raise NotFound(N_("no such certificate"))
    certificate = certificates.load_x509(row)
    if certificate is None:
        raise InvalidInput(N_("this certificate was never signed: there is nothing to copy"),
                           field="method")
    try:
        sans = tuple(certificate.extensions.get_extension_for_class(
            x509.SubjectAlternativeName).value)
    except x509.ExtensionNotFound:
        sans = ()
    profile = get_profile(row.profile, leaf_only=True)
    subject, names = apply_profile(profile, certificate.subject, sans)
    return Template(row, subject, names, profile)


def _after_issue(template: Template, new_serial: str, *, revoke_old: bool, actor: str) -> bool:
    """Record the renewal on both certificates, then revoke the old one if asked."""
    old = template.row
    audit.record("certificate.renewal", actor=actor, serial=new_serial,
                 detail=f"renews {old.serial}")
    audit.record("certificate.renew", actor=actor, serial=old.serial,
                 detail=f"renewed by {new_serial}" + (", old one revoked" if revoke_old else ""))
    db.session.commit()
    if not revoke_old or old.status == STATUS_REVOKED:
        return False
    certificates.revoke_certificate(old.serial, reason=SUPERSEDED, ca_name=old.ca.name,
                                    actor=actor)
    return True


def _owner(template: Template, requested_by: int | None) -> int | None:
    """The old certificate's owner keeps the new one; without one, the admin asking."""
    return owner_for(template.row.owner_id, requested_by)


def reissue_from_csr(
    certificate_id: int, csr_data: bytes, *, days: int | None = None, revoke_old: bool = False,
    requested_by: int | None = None, actor: str,
) -> IssuedCertificate:
    """A new certificate with the old one's names and profile, for the key of a CSR."""
    template = template_of(certificate_id)
    if template.row.status not in (STATUS_ISSUED, STATUS_REVOKED):
        raise InvalidInput(N_("only a signed certificate can be issued again"), field="method")
    config = current_app.config
    if not csr_data.strip():
        raise InvalidInput(N_("paste a CSR or choose a file"), field="csr")
    request = load_csr(csr_data, max_bytes=config["PORTAL_MAX_CSR_BYTES"],
                       max_sans=config["PORTAL_MAX_SANS"])
    new = issue_for_key(
        request.public_key, request.key_type, template.subject, template.names,
        template.profile, ca_name=template.row.ca.name, days=days,
        owner_id=_owner(template, requested_by), actor=actor, spki=request.spki,
    )
    _after_issue(template, new.serial, revoke_old=revoke_old, actor=actor)
    return new


def reissue_with_new_key(
    certificate_id: int, *, key_type: str, password: str, compatibility: str, output: str,
    days: int | None = None, revoke_old: bool = False, requested_by: int | None = None,
    actor: str,
) -> keygen.GeneratedBundle:
    """A new certificate with the old one's names and profile, and a key made here (once)."""
    template = template_of(certificate_id)
    bundle = keygen.generate_bundle_for(
        template.subject, template.names, template.profile, key_type=key_type,
        password=password, compatibility=compatibility, output=output,
        ca_name=template.row.ca.name, days=days, owner_id=_owner(template, requested_by),
        actor=actor, friendly_name=common_name_of(template.subject) or "certificate",
    )
    _after_issue(template, bundle.certificate.serial, revoke_old=revoke_old, actor=actor)
    return bundle
