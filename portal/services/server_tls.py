"""The portal's own TLS server certificate, issued by its default CA and renewed in time."""

import ipaddress
import os
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.x509.oid import NameOID
from flask import current_app

from ..ca.keys import generate_private_key
from ..ca.names import check_dns_name
from ..ca.pem import to_pem
from ..ca.profiles import PROFILES
from ..errors import InvalidInput
from .authorities import ca_certificate, chain_of, get_ca, list_cas
from .certificates import load_x509
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
        raise InvalidInput("PORTAL_SERVER_NAMES names no host")
    return tuple(names)


def _write_atomically(path: str, data: bytes, mode: int) -> None:
    folder = os.path.dirname(path)
    descriptor, temporary = tempfile.mkstemp(dir=folder, prefix=".tmp-")
    try:
        os.fchmod(descriptor, mode)
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(data)
        os.replace(temporary, path)
    except BaseException:
        if os.path.exists(temporary):
            os.unlink(temporary)
        raise


def _current(path: str) -> x509.Certificate | None:
    try:
        with open(path, "rb") as handle:
            return x509.load_pem_x509_certificate(handle.read())
    except (OSError, ValueError):
        return None


def renewal_due(certificate: x509.Certificate | None, *, now: datetime | None = None) -> bool:
    """Due when missing, for other names, from a CA the portal no longer has, or 2/3 used."""
    if certificate is None:
        return True
    now = now or datetime.now(UTC)
    try:
        sans = certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return True
    if set(sans) != set(server_names()):
        return True
    issuers = {ca.subject for ca in list_cas()}
    if certificate.issuer.rfc4514_string() not in issuers:
        return True
    lifetime = certificate.not_valid_after_utc - certificate.not_valid_before_utc
    return now >= certificate.not_valid_after_utc - lifetime / 3


def write_client_ca_bundle() -> str:
    """Write every CA certificate of the portal (the trust list for client certificates)."""
    files = server_files()
    bundle = b"".join(to_pem(ca_certificate(ca)) for ca in list_cas())
    _write_atomically(files.client_ca_bundle, bundle, 0o644)
    return files.client_ca_bundle


def ensure_server_certificate(*, force: bool = False) -> bool:
    """Issue (or renew) the server certificate when due; return True when a new one was made."""
    files = server_files()
    write_client_ca_bundle()
    if not force and not renewal_due(_current(files.certificate)):
        return False
    names = server_names()
    first = names[0].value
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, str(first))])
    key = generate_private_key("ec-p256")
    row = issue_for_key(
        key.public_key(), "ec-p256", subject, names, PROFILES["server"],
        ca_name=None, days=current_app.config["PORTAL_SERVER_CERT_DAYS"], owner_id=None,
        actor=SYSTEM_ACTOR, allow_localhost=True,
    )
    chain = [load_x509(row), *chain_of(get_ca())[:-1]]
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    _write_atomically(files.key, key_pem, 0o600)
    _write_atomically(files.certificate, b"".join(to_pem(c) for c in chain), 0o644)
    return True
