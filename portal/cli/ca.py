"""`portal ca ...`: certificate authorities."""

import click

from ..ca.keys import DEFAULT_KEY_TYPE, ED25519_LIMITS, KEY_TYPES
from ..ca.pem import to_der, to_pem
from ..services import authorities, ca_state
from .common import actor, read_input, reports_errors, write_output


@click.group("ca")
def ca_group():
    """Certificate authorities."""


@ca_group.command("create")
@click.option("--name", required=True, help="Short name, used in URLs.")
@click.option("--key-type", type=click.Choice(KEY_TYPES), default=DEFAULT_KEY_TYPE,
              show_default=True, help=ED25519_LIMITS)
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
    states = ca_state.ca_states()
    for ca in authorities.list_cas():
        usable, why = authorities.key_usable(ca)
        flags = " (default)" if ca.is_default else ""
        key_state = "key ok" if usable else f"KEY UNUSABLE: {why}"
        if not states[ca.id].usable:
            key_state = f"CANNOT SIGN: {states[ca.id].problem}"
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
