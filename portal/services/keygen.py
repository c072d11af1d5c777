"""Generating a key for someone: new key, certificate, then a password-protected bundle.

The private key lives only in this call's memory: it is never written to the database, the
session, a temporary file or a log. Callers hand the returned bytes straight to the person.
"""

import re
from dataclasses import dataclass

from cryptography import x509
from cryptography.x509.oid import NameOID

from ..ca.keys import DEFAULT_KEY_TYPE, generate_private_key
from ..ca.names import check_email, check_text, parse_san
from ..ca.pkcs12 import (
    COMPATIBLE,
    build_encrypted_pem,
    build_pkcs12,
    check_bundle_options,
    check_bundle_password,
)
from ..ca.profiles import apply_profile, get_profile
from ..errors import InvalidInput
from ..extensions import db
from ..models import CertificateAuthority
from ..translatable import N_
from . import audit
from .authorities import chain_of
from .certificates import revoke_certificate
from .issuance import IssuedCertificate, issue_for_key, owner_for

FORMAT_PKCS12 = "p12"
FORMAT_PEM = "pem"
FORMATS = (FORMAT_PKCS12, FORMAT_PEM)


@dataclass(frozen=True)
class GeneratedBundle:
    """A freshly issued certificate and the bytes of its key bundle, ready to download."""

    certificate: IssuedCertificate
    data: bytes
    filename: str
    mimetype: str


def build_subject(common_name: str) -> x509.Name:
    """The subject of a generated certificate: its common name only."""
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, check_text(common_name, "CN", 64))])


def parse_sans(texts: list[str], email: str | None) -> tuple[x509.GeneralName, ...]:
    """SANs typed one per entry (DNS:, IP:, email: or bare), plus the e-mail address."""
    names: list[x509.GeneralName] = []
    for text in texts:
        if text.strip():
            names.append(parse_san(text))
    if email and email.strip():
        mailbox = x509.RFC822Name(check_email(email.strip()))
        if mailbox not in names:
            names.append(mailbox)
    return tuple(dict.fromkeys(names))


def bundle_filename(common_name: str, serial: str, extension: str) -> str:
    """A safe download name: the CN's letters and digits, then the start of the serial."""
    stem = re.sub(r"[^A-Za-z0-9._-]+", "_", common_name).strip("._-")[:48] or "certificate"
    return f"{stem}-{serial[:8].lower()}.{extension}"


def generate_bundle(
    *,
    common_name: str,
    email: str | None = None,
    sans: list[str] = (),
    profile_name: str,
    key_type: str = DEFAULT_KEY_TYPE,
    password: str,
    compatibility: str = COMPATIBLE,
    output: str = FORMAT_PKCS12,
    ca_name: str | None = None,
    days: int | None = None,
    owner_id: int | None = None,
    requested_by: int | None = None,
    actor: str,
) -> GeneratedBundle:
    """Generate a key, issue its certificate and return it as a .p12 (or encrypted PEM).

    `requested_by`: the signed-in user asking, the owner unless `owner_id` names another.
    """
    profile = get_profile(profile_name, leaf_only=True)
    subject, names = apply_profile(profile, build_subject(common_name), parse_sans(sans, email))
    return generate_bundle_for(
        subject, names, profile, key_type=key_type, password=password,
        compatibility=compatibility, output=output, ca_name=ca_name, days=days,
        owner_id=owner_for(owner_id, requested_by), actor=actor, friendly_name=common_name,
    )


def generate_bundle_for(
    subject: x509.Name, names: tuple[x509.GeneralName, ...], profile, *, key_type: str,
    password: str, compatibility: str, output: str, ca_name: str | None, days: int | None,
    owner_id: int | None, actor: str, friendly_name: str,
) -> GeneratedBundle:
    """generate_bundle() for a subject and names already put through the profile."""
    if output not in FORMATS:
        raise InvalidInput(N_("unknown format %(output)r"), field="output",
            output=output)
    if output == FORMAT_PKCS12:
        # Fail on a bad password, compatibility choice or key type before anything is signed.
        secret = check_bundle_options(password, compatibility, key_type)
    else:
        secret = check_bundle_password(password)
    common_name = friendly_name
    private_key = generate_private_key(key_type)
    row = issue_for_key(
        private_key.public_key(), key_type, subject, names, profile,
        ca_name=ca_name, days=days, owner_id=owner_id, actor=actor,
    )
    certificate = row.certificate
    chain = chain_of(db.session.get(CertificateAuthority, row.ca_id))
    if output == FORMAT_PKCS12:
        data = build_pkcs12(
            private_key, certificate, chain, password=secret, compatibility=compatibility,
            friendly_name=common_name,
        )
        mimetype, detail = "application/x-pkcs12", f"PKCS#12 ({compatibility})"
    else:
        data = build_encrypted_pem(private_key, certificate, chain, password=secret)
        mimetype, detail = "application/x-pem-file", "PEM, key encrypted"
    del private_key
    audit.record("key.generate", actor=actor, serial=row.serial, detail=f"{key_type}, {detail}")
    db.session.commit()
    return GeneratedBundle(
        certificate=row, data=data, filename=bundle_filename(common_name, row.serial, output),
        mimetype=mimetype,
    )


def revoke_undelivered(bundle: GeneratedBundle, *, actor: str) -> None:
    """Revoke a generated certificate whose bundle could not be handed over (its key is lost)."""
    ca = db.session.get(CertificateAuthority, bundle.certificate.ca_id)
    revoke_certificate(bundle.certificate.serial, reason="cessationOfOperation",
                       ca_name=ca.name, actor=actor)
