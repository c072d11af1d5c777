"""Commands import only what they need: Flask-Migrate (alembic), pkilint, prometheus_client.

portal/lazy_migrate.py stands in for Flask-Migrate's `_MigrateConfig` and its `db` group;
these tests fail when Flask-Migrate changes what those offer.
"""

import subprocess
import sys

import click
import flask_migrate
from flask_migrate.cli import db as migrate_group

from portal import MIGRATIONS_DIR
from portal.extensions import db
from portal.lazy_migrate import LazyDbGroup, LazyMigrateConfig
from tests.conftest import ROOT

HEAVY = ("alembic", "flask_migrate", "pkilint", "pyasn1_alt_modules", "prometheus_client")


def test_the_stand_in_offers_what_flask_migrates_config_offers(app):
    options = {"render_as_batch": True}
    lazy = LazyMigrateConfig(db, MIGRATIONS_DIR, dict(options))
    migrate = flask_migrate.Migrate(db=db, directory=MIGRATIONS_DIR, **options)
    real = flask_migrate._MigrateConfig(migrate, db, **migrate.alembic_ctx_kwargs)
    public = {name for name in dir(real) if not name.startswith("_")}
    assert public <= {name for name in dir(lazy) if not name.startswith("_")}
    assert lazy.directory == real.directory and lazy.db is real.db
    assert lazy.configure_args == real.configure_args
    assert lazy.metadata is real.metadata
    assert isinstance(app.extensions["migrate"], LazyMigrateConfig)


def test_the_db_group_has_flask_migrates_options_and_commands(app):
    lazy = LazyDbGroup()
    assert [param.opts for param in lazy.params] == [param.opts for param in migrate_group.params]
    context = click.Context(lazy)
    assert lazy.list_commands(context) == migrate_group.list_commands(context)


def test_a_command_imports_no_migration_lint_or_metrics_library(instance):
    script = f"""
import atexit, sys
atexit.register(lambda: print("LOADED", *[m for m in {HEAVY!r} if m in sys.modules]))
sys.argv = ["portal", "ca", "list"]
from portal.cli import main
main()
"""
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                            timeout=120, cwd=ROOT)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[-1] == "LOADED", result.stdout
