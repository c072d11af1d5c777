"""instance/client-ca.pem: every CA of the portal, the trust list for client certificates.

It is rewritten whenever a CA is created or imported (and at start, at init and with each
renewal check), so a running `portal serve`, whose TLS context reloads when the file changes,
accepts the new CA's client certificates on its next connection. A revoked or expired CA stays
in it: its leaves then complete the handshake and /ping refuses them with the reason.
"""

import os
import tempfile

from cryptography import x509
from flask import current_app
from sqlalchemy import select

from ..ca.pem import to_pem
from ..extensions import db
from ..models import CertificateAuthority


def write_atomically(path: str, data: bytes, mode: int) -> None:
    """Replace `path` with `data` in one rename, so that a reader never sees half a file."""
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


def client_ca_bundle_path() -> str:
    """Where the bundle lives: instance/client-ca.pem."""
    return os.path.join(current_app.instance_path, "client-ca.pem")


def write_client_ca_bundle() -> str:
    """Write every CA certificate of the portal, the default first; return the path."""
    ders = db.session.scalars(
        select(CertificateAuthority.certificate_der).order_by(
            CertificateAuthority.is_default.desc(), CertificateAuthority.id
        )
    )
    bundle = b"".join(to_pem(x509.load_der_x509_certificate(der)) for der in ders)
    path = client_ca_bundle_path()
    os.makedirs(os.path.dirname(path), exist_ok=True)
    write_atomically(path, bundle, 0o644)
    return path
