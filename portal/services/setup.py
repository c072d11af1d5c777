"""`portal init`: the idempotent set-up that `make run` performs."""

from dataclasses import dataclass, field

from sqlalchemy import select

from .. import database
from ..extensions import db
from ..models import ROLE_ADMIN, CertificateAuthority, User
from .authorities import create_ca
from .secrets import ensure_instance_secrets
from .server_tls import ensure_server_certificate, server_files
from .users import create_user


@dataclass
class SetupReport:
    """What `initialize` did, for the command to print."""

    files_created: list[str] = field(default_factory=list)
    ca_created: str | None = None
    admin_created: str | None = None
    admin_password: str | None = None
    server_certificate: str | None = None


def initialize(
    *, ca_name: str, key_type: str, admin_username: str, actor: str
) -> SetupReport:
    """Create secrets, apply migrations, a CA, a first admin and a server certificate if missing."""
    report = SetupReport(files_created=ensure_instance_secrets())
    database.upgrade()
    if db.session.scalar(select(CertificateAuthority.id).limit(1)) is None:
        report.ca_created = create_ca(ca_name, key_type=key_type, actor=actor).name
    if db.session.scalar(select(User.id).filter_by(role=ROLE_ADMIN).limit(1)) is None:
        user, password = create_user(admin_username, role=ROLE_ADMIN, actor=actor)
        report.admin_created, report.admin_password = user.username, password
    if ensure_server_certificate():
        report.server_certificate = server_files().certificate
    return report
