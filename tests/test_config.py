import sqlite3

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from portal import create_app, database
from portal.ca.profiles import get_profile
from portal.config import from_environment
from portal.database import SQLITE_PAGE_SIZE
from portal.extensions import db
from portal.services.authorities import create_ca
from portal.services.issuance import issue_for_key
from portal.services.secrets import ensure_instance_secrets


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


def test_a_new_database_file_gets_the_portals_page_size(app):
    connection = db.engine.raw_connection()
    try:
        assert connection.execute("PRAGMA page_size").fetchone()[0] == SQLITE_PAGE_SIZE == 2048
    finally:
        connection.close()


def test_an_existing_database_keeps_its_page_size_and_works(tmp_path, monkeypatch):
    older = sqlite3.connect(tmp_path / "portal.sqlite3")  # as a portal before this one made it
    older.execute("PRAGMA page_size=4096")
    older.execute("PRAGMA journal_mode=WAL")
    older.execute("CREATE TABLE made_before (id INTEGER PRIMARY KEY)")
    older.commit()
    older.close()
    monkeypatch.setenv("PORTAL_INSTANCE", str(tmp_path))
    app = create_app()
    with app.app_context():
        ensure_instance_secrets()
        database.upgrade()
        ca = create_ca("kept", key_type="ec-p256", actor="test")
        subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "kept.example.com")])
        issued = issue_for_key(
            ec.generate_private_key(ec.SECP256R1()).public_key(), "ec-p256", subject,
            (x509.DNSName("kept.example.com"),), get_profile("server"), ca_name=ca.name,
            days=None, owner_id=None, actor="test",
        )
        assert issued.status == "issued"
        connection = db.engine.raw_connection()
        try:
            assert connection.execute("PRAGMA page_size").fetchone()[0] == 4096
            assert connection.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        finally:
            connection.close()
        db.session.remove()
        db.engine.dispose()


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
