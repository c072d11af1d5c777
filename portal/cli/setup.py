"""`portal init`: the idempotent set-up."""

import click
from flask import current_app

from ..ca.keys import DEFAULT_KEY_TYPE, ED25519_LIMITS, KEY_TYPES
from ..services import setup
from .common import actor, reports_errors


@click.command("init")
@click.option("--ca-name", default="root", show_default=True, help="Name of the first CA.")
@click.option("--key-type", type=click.Choice(KEY_TYPES), default=DEFAULT_KEY_TYPE,
              show_default=True, help=ED25519_LIMITS)
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
    if report.server_certificate:
        click.echo(f"created the server certificate {report.server_certificate}")
    click.echo(f"portal is set up in {current_app.instance_path}")
