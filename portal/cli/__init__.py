"""The `portal` command: Flask's command group for this app plus the CA's own commands.

Each area has its own module; `register` attaches them all to the app's command group.
"""

import copy
import importlib

import click
from flask import Flask, current_app
from flask.cli import (
    AppGroup,
    FlaskGroup,
    ScriptInfo,
    routes_command,
    run_command,
    shell_command,
)

# Each command's module, imported when the command is used (or listed by --help): a command
# pays only for what it needs, not for gunicorn, ACME or OCSP. The modules after the first
# add subcommands to the group the first one defines.
COMMANDS = {
    "init": ("setup.init_command",),
    "ca": ("ca.ca_group",),
    "cert": ("cert.cert_group", "generate"),
    "crl": ("crl.crl_group",),
    "user": ("user.user_group",),
    "serve": ("serve.serve_command",),
    "webserver-config": ("webserver.webserver_config_command",),
    "token": ("token.token_group",),
    "backup": ("backup.backup_command",),
    "restore": ("backup.restore_command",),
    "enroll": ("enroll.enroll_group",),
    "notify": ("notify.notify_group",),
    "webhook": ("webhook.webhook_group",),
    "audit": ("audit.audit_group",),
    "acme": ("acme.acme_group",),  # the ACME server (issue 15)
    "ocsp": ("ocsp.ocsp_group",),  # the OCSP responder (issue 16)
}
# Flask's own commands that need the web part of the app (its routes, its request handling).
WEB_COMMANDS = {"routes", "run", "shell", "limiter"}  # Flask-Limiter's plugin commands


class PortalCommands(AppGroup):
    """`app.cli`: the commands already added, and the portal's, each imported on first use."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        """Every command's name, without importing any of them."""
        return sorted(set(super().list_commands(ctx)) | set(COMMANDS))

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        """The command, its module imported now if it was not yet."""
        if cmd_name not in self.commands and cmd_name in COMMANDS:
            first, *more = COMMANDS[cmd_name]
            module_name, attribute = first.rsplit(".", 1)
            command = getattr(importlib.import_module(f"{__name__}.{module_name}"), attribute)
            for extra in more:
                importlib.import_module(f"{__name__}.{extra}")
            self.add_command(command, cmd_name)
        return super().get_command(ctx, cmd_name)


def register(app: Flask) -> None:
    """Give the app the portal's commands (with those already added, such as `db`)."""
    commands = PortalCommands(app.cli.name)
    for name, command in app.cli.commands.items():
        commands.add_command(command, name)
    app.cli = commands


def _create_app() -> Flask:
    """The app, or one error line when a setting cannot work (a host name as a proxy, say)."""
    from .. import create_app
    from ..errors import ConfigurationError

    context = click.get_current_context(silent=True)
    info = context.find_object(ScriptInfo) if context else None
    try:
        return create_app(web=bool(info and info.data.get("portal.web")))
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

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        """The command; Flask's routes, run and shell get the app with its web part."""
        if name in WEB_COMMANDS:
            ctx.ensure_object(ScriptInfo).data["portal.web"] = True
        if name not in COMMANDS and name != "db":
            return super().get_command(ctx, name)
        # One of the portal's own: what Flask's get_command does for an app's command, without
        # first importing every installed Flask extension's plugin commands (Flask-Limiter's
        # `limiter` costs a third of `portal ca list`); `portal limiter ...` still finds them.
        app = ctx.ensure_object(ScriptInfo).load_app()
        if not current_app or current_app._get_current_object() is not app:
            ctx.with_resource(app.app_context())
        return app.cli.get_command(ctx, name)


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
