from portal import create_app
from portal.config import from_environment


def test_portal_variables_reach_their_settings():
    settings = from_environment({
        "PORTAL_DATABASE_URL": "sqlite:////tmp/x.sqlite3",
        "PORTAL_SESSION_COOKIE_SECURE": "false",
        "PORTAL_CRL_DAYS": "3",
        "PORTAL_PUBLIC_URL": "http://pki.example.org",
        "PORTAL_INSTANCE": "/ignored/here",
        "HOME": "/root",
    })
    assert settings == {
        "SQLALCHEMY_DATABASE_URI": "sqlite:////tmp/x.sqlite3",
        "SESSION_COOKIE_SECURE": False,
        "PORTAL_CRL_DAYS": 3,
        "PORTAL_PUBLIC_URL": "http://pki.example.org",
    }


def test_instance_config_then_environment(tmp_path, monkeypatch):
    from portal import create_app

    (tmp_path / "config.py").write_text("PORTAL_CRL_DAYS = 5\nPORTAL_MAX_DAYS = 30\n")
    monkeypatch.setenv("PORTAL_INSTANCE", str(tmp_path))
    monkeypatch.setenv("PORTAL_MAX_DAYS", "10")
    app = create_app()
    assert app.config["PORTAL_CRL_DAYS"] == 5
    assert app.config["PORTAL_MAX_DAYS"] == 10
    assert app.config["SQLALCHEMY_DATABASE_URI"] == f"sqlite:///{tmp_path}/portal.sqlite3"


def test_every_sqlite_connection_gets_the_portals_pragmas(app):
    from portal.database import SQLITE_BUSY_TIMEOUT_MS, SQLITE_WAL_AUTOCHECKPOINT_PAGES
    from portal.extensions import db

    for connection in (db.engine.raw_connection(), db.engine.raw_connection()):  # two, pooled
        pragmas = {name: connection.execute(f"PRAGMA {name}").fetchone()[0] for name in (
            "journal_mode", "synchronous", "wal_autocheckpoint", "foreign_keys", "busy_timeout")}
        connection.close()
        assert pragmas == {"journal_mode": "wal", "synchronous": 1,
                           "wal_autocheckpoint": SQLITE_WAL_AUTOCHECKPOINT_PAGES,
                           "foreign_keys": 1, "busy_timeout": SQLITE_BUSY_TIMEOUT_MS}


def test_server_databases_check_pooled_connections_before_use(instance, tmp_path):
    postgres = create_app({"SQLALCHEMY_DATABASE_URI": "postgresql+psycopg://u@127.0.0.1/p"})
    assert postgres.config["SQLALCHEMY_ENGINE_OPTIONS"] == {"pool_pre_ping": True}
    chosen = create_app({"SQLALCHEMY_DATABASE_URI": "postgresql+psycopg://u@127.0.0.1/p",
                         "SQLALCHEMY_ENGINE_OPTIONS": {"pool_pre_ping": False}})
    assert chosen.config["SQLALCHEMY_ENGINE_OPTIONS"] == {"pool_pre_ping": False}
    sqlite = create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'p.sqlite3'}"})
    assert "pool_pre_ping" not in sqlite.config["SQLALCHEMY_ENGINE_OPTIONS"]


def test_every_setting_the_code_reads_has_a_default():
    """A setting read as config["PORTAL_X"] or config.get("PORTAL_X", ...) is in DEFAULTS."""
    import re
    from pathlib import Path

    import portal
    from portal.config import DEFAULTS

    pattern = re.compile(r"""config(?:\[|\.get\()\s*["'](PORTAL_[A-Z0-9_]+)["']""")
    read = {
        name for path in Path(portal.__file__).parent.rglob("*.py")
        for name in pattern.findall(path.read_text())
    }
    assert "PORTAL_MAX_DAYS" in read  # the pattern finds what it is for
    assert sorted(read - set(DEFAULTS)) == []
