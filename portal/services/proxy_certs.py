"""The client certificate nginx or Apache presents to the portal, so its header can be believed.

A forwarded client certificate is only a public document: anyone can send one. The portal
believes `X-SSL-Client-Cert` only on a connection whose own TLS peer certificate is one of
these (profile `proxy`, recorded in the database, unrevoked), so forging the header takes the
proxy's private key. `portal webserver-config` issues one and writes it to the instance folder.
"""

import os
import socket
from dataclasses import dataclass
from datetime import UTC, datetime

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.x509.oid import NameOID
from flask import current_app
from sqlalchemy import select

from ..ca.keys import generate_private_key
from ..ca.pem import to_pem
from ..ca.profiles import PROXY_PROFILE
from ..ca.serials import serial_to_hex
from ..ca.signer import fingerprint_sha256
from ..extensions import db
from ..models import STATUS_ISSUED, Certificate
from .authorities import chain_of, get_ca
from .certificates import load_x509
from .client_ca_bundle import write_atomically
from .issuance import issue_for_key


@dataclass(frozen=True)
class ProxyFiles:
    """Where the proxy's certificate and key are kept (in the instance folder)."""

    certificate: str  # the certificate and its chain (nginx: proxy_ssl_certificate)
    key: str  # its private key, 0600 (nginx: proxy_ssl_certificate_key)
    bundle: str  # certificate and key in one file, 0600 (SSLProxyMachineCertificateFile)


@dataclass(frozen=True)
class ProxyCertificate:
    """The proxy certificate in use: its files, serial and whether it was just issued."""

    files: ProxyFiles
    serial: str
    not_after: datetime
    issued_now: bool


def proxy_files() -> ProxyFiles:
    """The paths of the proxy's certificate, key and combined file."""
    folder = current_app.instance_path
    return ProxyFiles(
        certificate=os.path.join(folder, "proxy-client.crt"),
        key=os.path.join(folder, "proxy-client.key"),
        bundle=os.path.join(folder, "proxy-client.pem"),
    )


def _usable(certificate: x509.Certificate, now: datetime) -> bool:
    """Recorded as an issued proxy certificate, and less than two thirds of its life used."""
    row = db.session.execute(
        select(Certificate.status, Certificate.profile, Certificate.fingerprint_sha256)
        .filter_by(serial=serial_to_hex(certificate.serial_number))
    ).first()
    if row is None or row.status != STATUS_ISSUED or row.profile != PROXY_PROFILE.name:
        return False
    if row.fingerprint_sha256 != fingerprint_sha256(certificate):
        return False
    lifetime = certificate.not_valid_after_utc - certificate.not_valid_before_utc
    return now < certificate.not_valid_after_utc - lifetime / 3


def _current(files: ProxyFiles) -> x509.Certificate | None:
    try:
        with open(files.certificate, "rb") as handle:
            certificate = x509.load_pem_x509_certificates(handle.read())[0]
        with open(files.key, "rb") as handle:
            key = serialization.load_pem_private_key(handle.read(), password=None)
    except (OSError, ValueError, TypeError):
        return None
    if key.public_key() != certificate.public_key():
        return None
    return certificate


def ensure_proxy_certificate(*, force: bool = False, actor: str) -> ProxyCertificate:
    """The proxy certificate in the instance folder, issued anew when missing, revoked or due."""
    files = proxy_files()
    now = datetime.now(UTC)
    current = None if force else _current(files)
    if current is not None and _usable(current, now):
        return ProxyCertificate(files, serial_to_hex(current.serial_number),
                                current.not_valid_after_utc, issued_now=False)
    key = generate_private_key("ec-p256")
    name = f"portal proxy {socket.gethostname()}"[:64]
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    row = issue_for_key(
        key.public_key(), "ec-p256", subject, (), PROXY_PROFILE, ca_name=None,
        days=current_app.config["PORTAL_PROXY_DAYS"], owner_id=None, actor=actor,
    )
    leaf = to_pem(load_x509(row))
    chain = leaf + b"".join(to_pem(c) for c in chain_of(get_ca())[:-1])
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    write_atomically(files.key, key_pem, 0o600)
    # Apache wants each certificate of this file followed by its key, so no chain here (the
    # portal has every CA of its own in its trust list and builds the chain itself).
    write_atomically(files.bundle, leaf + key_pem, 0o600)
    write_atomically(files.certificate, chain, 0o644)
    return ProxyCertificate(files, row.serial, row.not_after, issued_now=True)
