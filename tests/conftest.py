"""Fixtures: an app per test on its own instance folder, with a database migrated once."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from portal import create_app
from portal.extensions import db

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def require_program(name: str) -> str:
    """Path of a system program a test drives; skip without it locally, fail in CI."""
    path = shutil.which(name) or (str(BIN / name) if (BIN / name).exists() else None)
    if path is None:
        message = f"{name} is not installed (.ci/run installs it)"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)
    return path


@pytest.fixture(scope="session")
def migrated_db(tmp_path_factory) -> Path:
    """A SQLite database with every migration applied, made once and copied for each test."""
    instance = tmp_path_factory.mktemp("template")
    app = create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{instance / 'portal.sqlite3'}"})
    from portal import database

    with app.app_context():
        database.upgrade()
        db.engine.dispose()
    return instance / "portal.sqlite3"


@pytest.fixture
def instance(tmp_path, monkeypatch, migrated_db) -> Path:
    """An instance folder with a migrated database and a CA secret."""
    folder = tmp_path / "instance"
    folder.mkdir(mode=0o700)
    shutil.copy(migrated_db, folder / "portal.sqlite3")
    (folder / "ca-secret").write_text("test-ca-secret-" + "x" * 32 + "\n")
    monkeypatch.setenv("PORTAL_INSTANCE", str(folder))
    for name in list(os.environ):
        if name.startswith("PORTAL_") and name != "PORTAL_INSTANCE":
            monkeypatch.delenv(name)
    return folder


# Test folders whose tests use the web part of the app (its routes, sign-in, CSRF) throughout.
WEB_TEST_FOLDERS = {"web", "acme"}


@pytest.fixture
def app(instance, request):
    """The app on the test's instance folder, with an app context pushed.

    Elsewhere a test that asks for no `client` (and is not marked `web`) gets the app without
    its web part, as the `portal` commands do: building ~90 routes costs ~80 ms a test.
    """
    web = ("client" in request.fixturenames or request.path.parent.name in WEB_TEST_FOLDERS
           or request.node.get_closest_marker("web") is not None)
    application = create_app({"TESTING": True}, web=web)
    with application.app_context():
        yield application
        db.session.remove()
        db.engine.dispose()


@pytest.fixture
def client(app):
    """A test client for the app."""
    return app.test_client()


@pytest.fixture
def runner(app):
    """Flask's CLI runner for the app's commands."""
    return app.test_cli_runner()


@pytest.fixture
def root_ca(app):
    """A default root CA with an EC P-256 key."""
    from portal.services.authorities import create_ca

    return create_ca("root", key_type="ec-p256", actor="test")


def run_portal(*args: str, env: dict | None = None, input: bytes | None = None, check=False):
    """Run the real `portal` console script, as a user would."""
    result = subprocess.run(
        [str(BIN / "portal"), *args],
        input=input,
        capture_output=True,
        env={**os.environ, **(env or {})},
        timeout=120,
    )
    if check and result.returncode != 0:
        raise AssertionError(f"portal {' '.join(args)} failed: {result.stderr.decode()}")
    return result
