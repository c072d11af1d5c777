"""The Alembic chain builds exactly the models' schema, and can be walked down and up again."""

import os
import sqlite3

import pytest
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from flask_migrate import downgrade, upgrade
from sqlalchemy import inspect

import portal.models  # noqa: F401 - every table on db.metadata
from portal import MIGRATIONS_DIR, create_app, database
from portal.extensions import db


@pytest.fixture
def empty_app(tmp_path, monkeypatch):
    """An app on an instance folder with no database at all."""
    folder = tmp_path / "instance"
    folder.mkdir(mode=0o700)
    for name in list(os.environ):
        if name.startswith("PORTAL_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("PORTAL_INSTANCE", str(folder))
    application = create_app({"TESTING": True})
    with application.app_context():
        yield application
        db.session.remove()
        db.engine.dispose()


def schema_differences() -> list:
    """What autogenerate would change to make the database match the models (types too)."""
    with db.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        return compare_metadata(context, db.metadata)


def test_one_migration_chain():
    config = Config(os.path.join(MIGRATIONS_DIR, "alembic.ini"))
    config.set_main_option("script_location", MIGRATIONS_DIR)
    assert len(ScriptDirectory.from_config(config).get_heads()) == 1


def test_upgrade_on_an_empty_database_gives_exactly_the_models_schema(empty_app):
    assert inspect(db.engine).get_table_names() == []
    database.upgrade()
    assert schema_differences() == []
    tables = set(inspect(db.engine).get_table_names())
    assert set(db.metadata.tables) | {"alembic_version"} == tables


def test_downgrade_to_base_and_upgrade_again(empty_app):
    database.upgrade()
    downgrade(revision="base")
    assert set(inspect(db.engine).get_table_names()) <= {"alembic_version"}
    upgrade()
    assert schema_differences() == []


def test_the_audit_log_is_append_only_in_the_database_itself(empty_app):
    database.upgrade()
    path = db.engine.url.database
    connection = sqlite3.connect(path)
    try:
        connection.execute(
            "INSERT INTO audit_events (at, actor, action, outcome, detail) "
            "VALUES ('2026-01-01 00:00:00', 'test', 'test.event', 'ok', '')"
        )
        connection.commit()
        for statement in ("UPDATE audit_events SET outcome = 'forged'", "DELETE FROM audit_events"):
            with pytest.raises(sqlite3.DatabaseError, match="append-only"):
                connection.execute(statement)
    finally:
        connection.close()
