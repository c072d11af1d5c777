"""`portal cert generate`: a key and certificate for someone, as a password-protected .p12."""

import os
import stat

import click

from ..ca.keys import DEFAULT_KEY_TYPE, ED25519_LIMITS, KEY_TYPES
from ..ca.pkcs12 import COMPATIBLE, MODERN
from ..services import keygen, users, validity
from .cert import cert_group
from .common import actor, read_input, reports_errors


@cert_group.command("generate")
@click.option("--cn", "common_name", required=True, help="Subject common name.")
@click.option("--email", help="E-mail address (a subjectAltName).")
@click.option("--san", "sans", multiple=True,
              help="Another name: DNS:x, IP:x or email:x (repeatable).")
@click.option("--profile", type=click.Choice(["server", "client"]), required=True)
@click.option("--key-type", type=click.Choice(KEY_TYPES), default=DEFAULT_KEY_TYPE,
              show_default=True, help=ED25519_LIMITS)
@click.option("--ca", "ca_name", help="Issuing CA (default: the default CA).")
@click.option("--days", type=click.IntRange(min=1), help="Validity in days.")
@click.option("--out", "out_path", required=True, help="Where to write the .p12 file.")
@click.option("--password-file", required=True,
              help="File holding the .p12 password (its first line).")
@click.option("--compatible", "compatibility", flag_value=COMPATIBLE, default=True,
              help="3DES with a SHA-1 MAC: imports everywhere (default).")
@click.option("--modern", "compatibility", flag_value=MODERN,
              help="AES-256 with PBKDF2/SHA-256.")
@click.option("--owner", help="User who owns it (sees it, gets its expiry warnings).")
@reports_errors
def cert_generate(common_name, email, sans, profile, key_type, ca_name, days, out_path,
                  password_file, compatibility, owner):
    """Generate a key, issue its certificate and write both as a .p12."""
    raw = read_input(password_file, "password file")
    try:
        password = raw.decode("utf-8").splitlines()[0] if raw.strip() else ""
    except UnicodeDecodeError:
        raise click.ClickException(
            f"the password file {password_file!r} is not UTF-8 text") from None
    owner_id = users.user_by_name(owner).id if owner else None
    # Open the output before anything is signed: a path that cannot be written costs nothing.
    created = not os.path.exists(out_path)
    try:
        descriptor = os.open(out_path, os.O_WRONLY | os.O_CREAT, 0o600)
    except OSError as exc:
        raise click.ClickException(f"cannot write {out_path!r}: {exc.strerror}") from None
    try:
        try:
            bundle = keygen.generate_bundle(
                common_name=common_name, email=email, sans=list(sans), profile_name=profile,
                key_type=key_type, password=password, compatibility=compatibility,
                ca_name=ca_name, days=days, owner_id=owner_id, actor=actor(),
            )
        except BaseException:
            if created:
                os.unlink(out_path)
            raise
        try:
            _write_all(descriptor, bundle.data)
        except OSError as exc:
            keygen.revoke_undelivered(bundle, actor=actor())
            raise click.ClickException(
                f"cannot write {out_path!r}: {exc.strerror}; certificate "
                f"{bundle.certificate.serial} was revoked (cessationOfOperation), as its key is "
                "lost"
            ) from None
    finally:
        os.close(descriptor)
    planned = validity.plan_validity(profile, days, ca_name=ca_name)  # read once it is signed
    if planned.capped:
        click.echo(f"note: {planned.reason}", err=True)
    click.echo(f"generated {bundle.certificate.serial} {bundle.certificate.subject} "
               f"({compatibility}) -> {out_path}", err=True)


def _write_all(descriptor: int, data: bytes) -> None:
    """Replace the file's content with `data` and make sure it reached the disk."""
    regular = stat.S_ISREG(os.fstat(descriptor).st_mode)
    if regular:
        os.ftruncate(descriptor, 0)
    view = memoryview(data)
    while view:
        view = view[os.write(descriptor, view):]
    if regular:
        os.fsync(descriptor)
