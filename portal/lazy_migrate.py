"""Flask-Migrate, imported only when a migration runs or a `portal db` command is used.

Importing Flask-Migrate imports alembic (and mako, pygments): a tenth of a second of CPU that
every other command would pay at start-up. `LazyMigrate.init_app` records what
`Migrate.init_app` would and registers a `db` group that loads Flask-Migrate's own commands
when it is used. It stands in for Flask-Migrate's `_MigrateConfig` in `app.extensions`:
tests/test_lazy_migrate.py fails if Flask-Migrate changes what that object offers.
"""

import functools

import click
from flask import Flask, g
from flask.cli import with_appcontext


class LazyMigrateConfig:
    """What `app.extensions["migrate"]` holds: the real Migrate is made on first use."""

    def __init__(self, db, directory: str, options: dict):
        self.db = db
        self.directory = str(directory)
        self._options = options

    @functools.cached_property
    def migrate(self):
        """Flask-Migrate's Migrate object, imported and built now."""
        from flask_migrate import Migrate

        return Migrate(db=self.db, directory=self.directory, **self._options)

    @property
    def configure_args(self) -> dict:
        """The keyword arguments for alembic's context.configure (migrations/env.py)."""
        return self.migrate.alembic_ctx_kwargs

    @property
    def metadata(self):
        """The models' metadata (older env.py files read it here)."""
        return self.db.metadata


@with_appcontext
def _remember_options(directory, x_arg) -> None:
    """What Flask-Migrate's own `db` group does with its options (Migrate.get_config reads g)."""
    g.directory = directory
    g.x_arg = x_arg


class LazyDbGroup(click.Group):
    """`portal db ...`: Flask-Migrate's group, its options, its subcommands imported on use."""

    def __init__(self):
        super().__init__(
            "db", help="Perform database migrations.", callback=_remember_options,
            params=[
                click.Option(["-d", "--directory"], default=None,
                             help='Migration script directory (default is "migrations")'),
                click.Option(["-x", "--x-arg"], multiple=True,
                             help="Additional arguments consumed by custom env.py scripts"),
            ],
        )

    @functools.cached_property
    def _real(self) -> click.Group:
        from flask_migrate.cli import db

        return db

    def list_commands(self, ctx: click.Context) -> list[str]:
        """Flask-Migrate's subcommands."""
        return self._real.list_commands(ctx)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        """One of Flask-Migrate's subcommands."""
        return self._real.get_command(ctx, cmd_name)


class LazyMigrate:
    """Like flask_migrate.Migrate (init_app only), without importing it."""

    def init_app(self, app: Flask, db, *, directory: str, **options) -> None:
        """Register the migration settings and the `db` command group."""
        app.extensions["migrate"] = LazyMigrateConfig(db, directory, options)
        app.cli.add_command(LazyDbGroup())
