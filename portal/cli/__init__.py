"""The `portal` command: Flask's command group for this app plus the CA's own commands.

Each area has its own module; `register` attaches them all to the app's command group.
"""

from flask import Flask
from flask.cli import FlaskGroup


def register(app: Flask) -> None:
    """Attach the portal's commands to the app's command group."""
    from ..server import serve_command
    from . import generate  # noqa: F401  (adds `portal cert generate` to cert_group)
    from .ca import ca_group
    from .cert import cert_group
    from .crl import crl_group
    from .setup import init_command
    from .user import user_group
    from .webserver import webserver_config_command

    for command in (init_command, ca_group, cert_group, crl_group, user_group, serve_command):
        app.cli.add_command(command)
    app.cli.add_command(webserver_config_command)

    from .backup import backup_command, restore_command
    from .token import token_group

    for command in (token_group, backup_command, restore_command):
        app.cli.add_command(command)

    from .enroll import enroll_group

    app.cli.add_command(enroll_group)

    from .audit import audit_group

    app.cli.add_command(audit_group)


def main() -> None:
    """Entry point of the `portal` console script."""
    from .. import create_app

    group = FlaskGroup(
        name="portal", create_app=create_app, load_dotenv=False, set_debug_flag=False,
        help="portal: a self-hosted certificate authority.",
    )
    group.main(prog_name="portal")
