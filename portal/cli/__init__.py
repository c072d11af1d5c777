"""The `portal` command: Flask's command group for this app plus the CA's own commands.

Each area has its own module; `register` attaches them all to the app's command group.
"""

import copy

import click
from flask import Flask
from flask.cli import FlaskGroup, ScriptInfo, routes_command, run_command, shell_command


def register(app: Flask) -> None:
    """Attach the portal's commands to the app's command group."""
    from . import generate  # noqa: F401  (adds `portal cert generate` to cert_group)
    from .ca import ca_group
    from .cert import cert_group
    from .crl import crl_group
    from .serve import serve_command
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
    from .notify import notify_group
    from .webhook import webhook_group

    for command in (notify_group, webhook_group, audit_group):
        app.cli.add_command(command)

    from .acme import acme_group  # the ACME server (issue 15)

    app.cli.add_command(acme_group)

    from .ocsp import ocsp_group  # the OCSP responder (issue 16)

    app.cli.add_command(ocsp_group)


def _create_app() -> Flask:
    """The app, or one error line when a setting cannot work (a host name as a proxy, say)."""
    from .. import create_app
    from ..errors import ConfigurationError

    try:
        return create_app()
    except ConfigurationError as exc:
        raise click.ClickException(exc.message) from None


class PortalGroup(FlaskGroup):
    """Flask's command group, saying in one line why the app cannot load, even for --help."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        """The commands; Flask would print a traceback when the app does not load."""
        try:
            ctx.ensure_object(ScriptInfo).load_app()
        except click.ClickException as exc:
            exc.show()
            ctx.exit(exc.exit_code)
        return super().list_commands(ctx)


def _print_version(ctx: click.Context, _param: click.Parameter, value: bool) -> None:
    """`portal --version`: the portal's version, then the versions it runs on."""
    if not value or ctx.resilient_parsing:
        return
    import platform
    from importlib.metadata import version

    click.echo(f"portal {version('portal')}\n"
               f"Python {platform.python_version()}, Flask {version('flask')}, "
               f"cryptography {version('cryptography')}")
    ctx.exit()


VERSION_OPTION = click.Option(
    ["--version"], is_flag=True, expose_value=False, is_eager=True, callback=_print_version,
    help="Show the portal's version (and Python's, Flask's and cryptography's).",
)


def _hidden(command: click.Command) -> click.Command:
    """A copy of one of Flask's commands that works but is not listed in --help."""
    hidden = copy.copy(command)
    hidden.hidden = True
    return hidden


def main() -> None:
    """Entry point of the `portal` console script."""
    group = PortalGroup(
        name="portal", create_app=_create_app, load_dotenv=False, set_debug_flag=False,
        help="portal: a self-hosted certificate authority.",
        add_default_commands=False, add_version_option=False, params=[VERSION_OPTION],
    )
    # Flask's development server and shell still work, unlisted: `portal serve` is the server.
    group.add_command(routes_command)
    group.add_command(_hidden(run_command))
    group.add_command(_hidden(shell_command))
    group.main(prog_name="portal")
