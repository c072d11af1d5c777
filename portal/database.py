"""Database set-up: SQLite pragmas for the embedded default, and schema upgrades."""

from flask import Flask
from sqlalchemy import event
from sqlalchemy.engine import Engine

from .extensions import db

SQLITE_BUSY_TIMEOUT_MS = 30_000
# SQLite checkpoints the WAL into the database once it holds this many pages (default 1,000).
# An issuance writes ~25 pages, so the default checkpointed every ~40 certificates, each time
# with two fsyncs and a copy of pages that the next certificates rewrite anyway: measured at
# ~0.2 ms per certificate. 10,000 pages (~40 MB of WAL) checkpoints ten times less often.
SQLITE_WAL_AUTOCHECKPOINT_PAGES = 10_000
# The page size of a new database file (SQLite's default is 4,096). A commit writes each page
# it changed whole into the WAL, and nearly every page an issuance changes is an index leaf
# that gains one short entry. Most of a commit's time is the kernel's buffered write of those
# ~30 frames, paid per 4 KB dirtied: 2,048-byte pages halve it (measured: ~5 % of an
# issuance's time; 1,024-byte pages gain no more). A table row still fits in one page (a
# certificate row is ~1 KB; larger ones spill into overflow pages, as they always could). It
# takes effect only when the file is created: an existing database keeps its page size.
SQLITE_PAGE_SIZE = 2048


def _sqlite_pragmas(dbapi_connection, connection_record) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute(f"PRAGMA page_size={SQLITE_PAGE_SIZE}")  # before WAL: a no-op once it exists
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute(f"PRAGMA wal_autocheckpoint={SQLITE_WAL_AUTOCHECKPOINT_PAGES}")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    cursor.close()


def init_app(app: Flask) -> None:
    """Set SQLite's pragmas (WAL, checkpoints, foreign keys, busy timeout) on each connection."""
    if not app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):
        return
    with app.app_context():
        engine: Engine = db.engine
        event.listen(engine, "connect", _sqlite_pragmas)


def upgrade() -> None:
    """Apply every migration (inside an app context)."""
    from flask_migrate import upgrade as alembic_upgrade

    alembic_upgrade()
