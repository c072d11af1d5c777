"""The portal's own TLS server certificate, issued by its default CA and renewed in time."""

import ipaddress
import os
from dataclasses import dataclass
from datetime import UTC, datetime

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.x509.oid import NameOID
from flask import current_app
from sqlalchemy import select

from ..ca.keys import generate_private_key
from ..ca.names import check_dns_name
from ..ca.pem import to_pem
from ..ca.profiles import PROFILES
from ..ca.serials import serial_to_hex
from ..errors import CAUnusable, InvalidInput
from ..extensions import db
from ..models import STATUS_REVOKED, Certificate
from ..translatable import N_
from .authorities import chain_of, get_ca, list_cas
from .ca_state import CAState, ca_states
from .certificates import load_x509
from .client_ca_bundle import write_atomically, write_client_ca_bundle
from .issuance import issue_for_key

SYSTEM_ACTOR = "system:serve"


@dataclass(frozen=True)
class ServerFiles:
    """Where `portal serve` keeps its TLS material (in the instance folder)."""

    certificate: str
    key: str
    client_ca_bundle: str


def server_files() -> ServerFiles:
    """The paths of the server certificate, its key and the client CA bundle."""
    folder = current_app.instance_path
    return ServerFiles(
        certificate=os.path.join(folder, "server.crt"),
        key=os.path.join(folder, "server.key"),
        client_ca_bundle=os.path.join(folder, "client-ca.pem"),
    )


def server_names() -> tuple[x509.GeneralName, ...]:
    """The configured host names and addresses, as SANs.

    `localhost` is allowed here, and only here: browsers need it for https://localhost, although
    pkilint (stricter than RFC 1034) flags single-label names. Other names must be qualified.
    """
    names: list[x509.GeneralName] = []
    for entry in current_app.config["PORTAL_SERVER_NAMES"].replace(",", " ").split():
        try:
            names.append(x509.IPAddress(ipaddress.ip_address(entry)))
        except ValueError:
            host = entry.lower()
            names.append(x509.DNSName(host if host == "localhost" else check_dns_name(host)))
    if not names:
        raise InvalidInput(N_("PORTAL_SERVER_NAMES names no host"))
    return tuple(names)


def _current(path: str) -> x509.Certificate | None:
    try:
        with open(path, "rb") as handle:
            return x509.load_pem_x509_certificate(handle.read())
    except (OSError, ValueError):
        return None


def current_server_certificate() -> x509.Certificate | None:
    """The certificate in instance/server.crt, or None when there is none."""
    return _current(server_files().certificate)


def _record_of(certificate: x509.Certificate) -> tuple[CAState | None, str | None]:
    """The state of the CA that issued `certificate`, and the certificate's recorded status."""
    states = ca_states()
    issuer = certificate.issuer.rfc4514_string()
    for ca in list_cas():
        if ca.subject == issuer:
            status = db.session.scalar(select(Certificate.status).filter_by(
                ca_id=ca.id, serial=serial_to_hex(certificate.serial_number)))
            return states[ca.id], status
    return None, None


def server_certificate_problem(
    certificate: x509.Certificate | None, *, now: datetime | None = None
) -> str | None:
    """Why the server certificate must not be served (revoked, expired, its CA unusable)."""
    if certificate is None:
        return "there is no server certificate"
    now = now or datetime.now(UTC)
    state, status = _record_of(certificate)
    serial = serial_to_hex(certificate.serial_number)
    if state is None:
        return f"server certificate {serial} was issued by a CA this portal does not have"
    if status == STATUS_REVOKED:
        return f"server certificate {serial} is revoked"
    if not state.usable:
        return (f"server certificate {serial} is from CA {state.name}, which signs nothing: "
                f"{state.problem}")
    if now >= certificate.not_valid_after_utc:
        return f"server certificate {serial} has expired"
    return None


def renewal_due(certificate: x509.Certificate | None, *, now: datetime | None = None) -> bool:
    """Due when missing, for other names, revoked, from a CA that cannot sign, or 2/3 used."""
    if certificate is None:
        return True
    now = now or datetime.now(UTC)
    try:
        sans = certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return True
    if set(sans) != set(server_names()):
        return True
    if server_certificate_problem(certificate, now=now) is not None:
        return True
    lifetime = certificate.not_valid_after_utc - certificate.not_valid_before_utc
    return now >= certificate.not_valid_after_utc - lifetime / 3


def issuing_ca_name() -> str:
    """The default CA when it may sign, else the first CA that may (the default's error if none)."""
    states = sorted(ca_states().values(), key=lambda state: (not state.is_default, state.id))
    for state in states:
        if state.usable:
            return state.name
    return ca_states().find(None).check().name


def ensure_server_certificate(*, force: bool = False) -> bool:
    """Issue (or renew) the server certificate when due; return True when a new one was made.

    When it is due but no CA may sign, the current certificate (if any) is kept and the reason
    logged: /healthz reports it; without any certificate the error is raised.
    """
    files = server_files()
    write_client_ca_bundle()
    current = _current(files.certificate)
    if not force and not renewal_due(current):
        return False
    try:
        ca_name = issuing_ca_name()
    except CAUnusable as exc:
        if current is None:
            raise
        current_app.logger.warning("portal: the server certificate cannot be renewed: %s",
                                   exc.message)
        return False
    names = server_names()
    first = names[0].value
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, str(first))])
    key = generate_private_key("ec-p256")
    row = issue_for_key(
        key.public_key(), "ec-p256", subject, names, PROFILES["server"],
        ca_name=ca_name, days=current_app.config["PORTAL_SERVER_CERT_DAYS"], owner_id=None,
        actor=SYSTEM_ACTOR, allow_localhost=True,
    )
    chain = [load_x509(row), *chain_of(get_ca(ca_name))[:-1]]
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    write_atomically(files.key, key_pem, 0o600)
    write_atomically(files.certificate, b"".join(to_pem(c) for c in chain), 0o644)
    return True
