"""The `portal` command: Flask's command group for this app plus the CA's own commands."""

import functools
import getpass
import json
import os
import sys

import click
from flask import Flask, current_app
from flask.cli import FlaskGroup

from .ca.keys import DEFAULT_KEY_TYPE, KEY_TYPES
from .ca.pem import to_der, to_pem
from .ca.revocation import REASONS
from .errors import PortalError
from .services import authorities, certificates, issuance, setup, users

MAX_INPUT_FILE_BYTES = 1024 * 1024


def actor() -> str:
    """Who runs this command, for the audit log."""
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):
        return f"cli:uid-{os.getuid()}"


def reports_errors(command):
    """Turn a PortalError into one line on stderr and exit status 1, never a traceback."""

    @functools.wraps(command)
    def wrapper(*args, **kwargs):
        try:
            return command(*args, **kwargs)
        except PortalError as exc:
            raise click.ClickException(exc.message) from None

    return wrapper


def read_input(path: str, what: str, limit: int = MAX_INPUT_FILE_BYTES) -> bytes:
    """Read a file given on the command line ('-' for stdin), refusing huge ones."""
    try:
        if path == "-":
            data = sys.stdin.buffer.read(limit + 1)
        else:
            with open(path, "rb") as handle:
                data = handle.read(limit + 1)
    except OSError as exc:
        raise click.ClickException(f"cannot read the {what} {path!r}: {exc.strerror}") from None
    if len(data) > limit:
        raise click.ClickException(f"the {what} {path!r} is larger than {limit} bytes")
    return data


def write_output(path: str | None, data: bytes) -> None:
    """Write to a file, or to stdout when no path (or '-') is given."""
    if not path or path == "-":
        sys.stdout.buffer.write(data)
        sys.stdout.flush()
        return
    try:
        with open(path, "wb") as handle:
            handle.write(data)
    except OSError as exc:
        raise click.ClickException(f"cannot write {path!r}: {exc.strerror}") from None


@click.command("init")
@click.option("--ca-name", default="root", show_default=True, help="Name of the first CA.")
@click.option("--key-type", type=click.Choice(KEY_TYPES), default=DEFAULT_KEY_TYPE,
              show_default=True)
@click.option("--admin", "admin_username", default="admin", show_default=True,
              help="User name of the first admin.")
@reports_errors
def init_command(ca_name, key_type, admin_username):
    """Set up the instance: secrets, database, a CA and a first admin (safe to run again)."""
    report = setup.initialize(
        ca_name=ca_name, key_type=key_type, admin_username=admin_username, actor=actor()
    )
    for path in report.files_created:
        click.echo(f"created {path}")
    if report.ca_created:
        click.echo(f"created CA {report.ca_created!r}")
    if report.admin_created:
        click.echo(f"created admin {report.admin_created!r} with password: "
                   f"{report.admin_password}")
        click.echo("  (shown once: store it now)")
    click.echo(f"portal is set up in {current_app.instance_path}")


@click.group("ca")
def ca_group():
    """Certificate authorities."""


@ca_group.command("create")
@click.option("--name", required=True, help="Short name, used in URLs.")
@click.option("--key-type", type=click.Choice(KEY_TYPES), default=DEFAULT_KEY_TYPE,
              show_default=True)
@click.option("--days", type=click.IntRange(min=1), help="Validity in days.")
@click.option("--parent", help="Create an intermediate under this CA.")
@click.option("--cn", "common_name", help="Subject common name (default: the name).")
@click.option("--org", "organization", help="Subject organization.")
@reports_errors
def ca_create(name, key_type, days, parent, common_name, organization):
    """Create a root CA, or an intermediate with --parent."""
    ca = authorities.create_ca(
        name, key_type=key_type, days=days, parent=parent, common_name=common_name,
        organization=organization, actor=actor(),
    )
    click.echo(f"created CA {ca.name!r}: {ca.subject} (valid until {ca.not_after:%Y-%m-%d})")


@ca_group.command("import")
@click.option("--cert", "cert_path", required=True, help="CA certificate, PEM or DER.")
@click.option("--key", "key_path", required=True, help="CA private key, PEM or DER.")
@click.option("--key-password-file", help="File holding the key's password.")
@click.option("--name", help="Short name (default: from the certificate's CN).")
@reports_errors
def ca_import(cert_path, key_path, key_password_file, name):
    """Import an existing CA certificate and its private key."""
    password = None
    if key_password_file:
        password = read_input(key_password_file, "password file").rstrip(b"\r\n")
    ca = authorities.import_ca(
        read_input(cert_path, "certificate"), read_input(key_path, "key"),
        name=name, key_password=password, actor=actor(),
    )
    click.echo(f"imported CA {ca.name!r}: {ca.subject}")


@ca_group.command("list")
@reports_errors
def ca_list():
    """List the CAs."""
    for ca in authorities.list_cas():
        usable, why = authorities.key_usable(ca)
        flags = " (default)" if ca.is_default else ""
        key_state = "key ok" if usable else f"KEY UNUSABLE: {why}"
        click.echo(f"{ca.name}{flags}\t{ca.subject}\t{ca.key_type}\tuntil "
                   f"{ca.not_after:%Y-%m-%d}\t{key_state}")


@ca_group.command("export")
@click.option("--name", help="CA name (default: the default CA).")
@click.option("--der", is_flag=True, help="DER instead of PEM.")
@reports_errors
def ca_export(name, der):
    """Print the CA certificate on stdout."""
    certificate = authorities.ca_certificate(authorities.get_ca(name))
    write_output(None, to_der(certificate) if der else to_pem(certificate))


@click.group("cert")
def cert_group():
    """Certificates."""


@cert_group.command("issue")
@click.option("--csr", "csr_path", required=True, help="CSR file, PEM or DER ('-' for stdin).")
@click.option("--profile", type=click.Choice(["server", "client"]), required=True)
@click.option("--ca", "ca_name", help="Issuing CA (default: the default CA).")
@click.option("--days", type=click.IntRange(min=1), help="Validity in days.")
@click.option("--out", "out_path", help="Write the certificate here (default: stdout).")
@reports_errors
def cert_issue(csr_path, profile, ca_name, days, out_path):
    """Issue a certificate from a CSR."""
    limit = current_app.config["PORTAL_MAX_CSR_BYTES"]
    row = issuance.issue_from_csr(
        read_input(csr_path, "CSR", limit), profile, ca_name=ca_name, days=days, actor=actor()
    )
    write_output(out_path, to_pem(certificates.load_x509(row)))
    click.echo(f"issued {row.serial} {row.subject} until {row.not_after:%Y-%m-%dT%H:%M:%SZ}",
               err=True)


@cert_group.command("list")
@click.option("--json", "as_json", is_flag=True, help="A JSON list of objects.")
@click.option("--status", type=click.Choice(["pending", "issued", "revoked"]))
@click.option("--limit", type=click.IntRange(min=1), default=1000, show_default=True)
@reports_errors
def cert_list(as_json, status, limit):
    """List certificates, newest first."""
    rows = certificates.list_certificates(status=status, limit=limit)
    if as_json:
        click.echo(json.dumps([certificates.summary(row) for row in rows], indent=2))
        return
    for row in rows:
        click.echo(f"{row.serial}\t{row.status}\t{row.profile}\t"
                   f"{row.not_after:%Y-%m-%d}\t{row.subject}")


@cert_group.command("show")
@click.argument("serial")
@click.option("--ca", "ca_name", help="CA, when a serial exists under several.")
@click.option("--pem", is_flag=True, help="Print the certificate as PEM.")
@reports_errors
def cert_show(serial, ca_name, pem):
    """Show one certificate."""
    row = certificates.get_certificate(serial, ca_name=ca_name)
    if pem:
        if row.der is None:
            raise click.ClickException(f"certificate {row.serial} is pending: nothing signed")
        write_output(None, to_pem(certificates.load_x509(row)))
        return
    for key, value in certificates.summary(row).items():
        if isinstance(value, list):
            value = ", ".join(value)
        click.echo(f"{key:20} {'' if value is None else value}")


@cert_group.command("revoke")
@click.argument("serial")
@click.option("--reason", type=click.Choice(list(REASONS), case_sensitive=False),
              default="unspecified", show_default=True)
@click.option("--ca", "ca_name", help="CA, when a serial exists under several.")
@reports_errors
def cert_revoke(serial, reason, ca_name):
    """Revoke a certificate."""
    row = certificates.revoke_certificate(serial, reason=reason, ca_name=ca_name, actor=actor())
    click.echo(f"revoked {row.serial} ({row.revocation_reason})")


@click.group("user")
def user_group():
    """Accounts."""


@user_group.command("create")
@click.argument("username")
@click.option("--role", type=click.Choice(["admin", "user"]), required=True)
@click.option("--password-file", help="File holding the password (default: generate one).")
@click.option("--email", help="E-mail address.")
@reports_errors
def user_create(username, role, password_file, email):
    """Create a user."""
    password = None
    if password_file:
        password = read_input(password_file, "password file").decode("utf-8", "replace")
        password = password.rstrip("\r\n")
    user, generated = users.create_user(
        username, role=role, password=password, email=email, actor=actor()
    )
    click.echo(f"created {user.role} {user.username!r}")
    if generated:
        click.echo(f"password (shown once): {generated}")


def register(app: Flask) -> None:
    """Attach the portal's commands to the app's command group."""
    for command in (init_command, ca_group, cert_group, user_group):
        app.cli.add_command(command)
    from .server import serve_command

    app.cli.add_command(serve_command)


def main() -> None:
    """Entry point of the `portal` console script."""
    from . import create_app

    group = FlaskGroup(
        name="portal", create_app=create_app, load_dotenv=False, set_debug_flag=False,
        help="portal: a self-hosted certificate authority.",
    )
    group.main(prog_name="portal")
