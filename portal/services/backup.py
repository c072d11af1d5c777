"""Consistent backups while the portal serves, and restoring them.

SQLite: the online backup API (`sqlite3.Connection.backup`) copies every page in one step, as
one read transaction, so the copy is a single consistent snapshot however many workers write
meanwhile (WAL lets them go on). The copy is checked (`PRAGMA integrity_check`), switched to a
self-contained rollback journal, fsynced and renamed into place. Restoring goes through the
same API in the other direction, under SQLite's locks, so running servers never read a
half-written file.

PostgreSQL: `pg_dump --format=custom` (one snapshot of the whole database, exported by our own
transaction so that the certificates it holds can be counted), restored with
`pg_restore --clean --single-transaction`.

A restore never un-revokes: revocations the live database has and the backup lacks are carried
forward (services/carry_forward.py), and every CA's CRL is re-signed at once, with a number above
any published before (CRL numbers are at least the signing time, see ca/crl.py).

The CA secret (instance/ca-secret) is not in the database: back it up separately, and keep the
two apart; either alone reveals no key.
"""

import glob
import os
import re
import shutil
import sqlite3
import subprocess
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from flask import current_app
from sqlalchemy import exc as sql_errors
from sqlalchemy.engine import URL

from ..errors import Conflict, InvalidInput, PortalError
from ..extensions import db
from ..translatable import N_
from . import audit, cache, ocsp_cache, sessions
from . import carry_forward as carrying
from . import crl as crl_service
from .client_ca_bundle import write_client_ca_bundle
from .driver import DriverConnection

SQLITE_MAGIC = b"SQLite format 3\x00"
PG_DUMP_MAGIC = b"PGDMP"
BUSY_TIMEOUT_MS = 30_000
LOCK_TIMEOUT_MS = 60_000
PORTAL_TABLES = ("certificates", "users", "certificate_authorities")


@dataclass(frozen=True)
class BackupReport:
    """What a backup or restore did."""

    path: str
    kind: str  # "sqlite" or "pg_dump"
    size: int
    certificates: int | None = None
    carried: carrying.CarryReport = field(default_factory=carrying.CarryReport)
    crls: list = field(default_factory=list)  # crl.RefreshOutcome per CA, after a restore


def _url() -> URL:
    return db.engine.url


def _atomic_target(out: str) -> Path:
    target = Path(out).resolve()
    if target.is_dir():
        raise InvalidInput(N_("%(out)s is a folder: give a file name"), field="out",
            out=out)
    if not target.parent.is_dir():
        raise InvalidInput(N_("the folder %(parent)s does not exist"), field="out",
            parent=target.parent)
    return target


def _fsync_and_rename(partial: Path, target: Path) -> None:
    with open(partial, "rb") as handle:
        os.fsync(handle.fileno())
    os.replace(partial, target)
    directory = os.open(target.parent, os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)


def _sqlite_connect(path: str) -> sqlite3.Connection:
    connection = sqlite3.connect(path, timeout=BUSY_TIMEOUT_MS / 1000)
    connection.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
    return connection


def _check_sqlite_copy(connection: sqlite3.Connection, what: str) -> int:
    """integrity_check, and the portal's tables present; the number of certificates."""
    result = connection.execute("PRAGMA integrity_check").fetchall()
    if result != [("ok",)]:
        raise PortalError(N_("%(what)s fails SQLite's integrity check: %(result)s"),
            what=what, result=result[0][0][:200])
    names = {row[0] for row in connection.execute("SELECT name FROM sqlite_master")}
    if not set(PORTAL_TABLES) <= names:
        raise InvalidInput(N_("%(what)s is a SQLite database but not a portal database"),
            what=what)
    return connection.execute("SELECT count(*) FROM certificates").fetchone()[0]


def backup(out: str, *, actor: str = "cli") -> BackupReport:
    """Write a consistent copy of the portal's database to `out` (atomically), and audit it."""
    url = _url()
    target = _atomic_target(out)
    partial = target.with_name(f".{target.name}.partial-{os.getpid()}")
    try:
        if url.get_backend_name() == "sqlite":
            count = _sqlite_backup(url.database, partial)
            kind = "sqlite"
        elif url.get_backend_name() == "postgresql":
            count = _pg_dump(url, partial)
            kind = "pg_dump"
        else:
            raise PortalError(N_("backups of %(value)s databases are not supported"),
                value=url.get_backend_name())
        _fsync_and_rename(partial, target)
    finally:
        partial.unlink(missing_ok=True)
    report = BackupReport(str(target), kind, target.stat().st_size, count)
    audit.record("backup.create", actor=actor, detail=f"{report.kind} {report.path}")
    db.session.commit()
    return report


def _sqlite_backup(database: str, partial: Path) -> int:
    source = _sqlite_connect(database)
    copy = sqlite3.connect(partial)
    try:
        source.backup(copy)  # pages=-1: all pages in one step, one consistent snapshot
        copy.execute("PRAGMA journal_mode=DELETE")  # one self-contained file, no -wal beside it
        count = _check_sqlite_copy(copy, "the copy")
    finally:
        copy.close()
        source.close()
    return count


def find_pg_program(name: str) -> str:
    """pg_dump or pg_restore: on PATH, or the newest in /usr/lib/postgresql/*/bin (Debian)."""
    candidates = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"),
                        key=lambda path: int(Path(path).parts[-3]) if Path(path).parts[-3]
                        .isdigit() else 0)
    found = candidates[-1] if candidates else shutil.which(name)
    if not found:
        raise PortalError(N_("%(name)s is not installed (Debian: apt-get install "
                             "postgresql-client)"),
            name=name)
    return found


def _libpq(url: URL) -> tuple[str, dict]:
    """A libpq URI without the password, and the environment that carries the password."""
    env = dict(os.environ)
    if url.password:
        env["PGPASSWORD"] = str(url.password)
    plain = url.set(drivername="postgresql", password=None)
    return plain.render_as_string(hide_password=False), env


def _run(command: list[str], env: dict, what: str) -> subprocess.CompletedProcess:
    result = subprocess.run(command, env=env, capture_output=True, text=True)
    if result.returncode != 0:
        detail = (result.stderr or result.stdout).strip().splitlines()
        raise PortalError(N_("%(what)s failed: %(value)s"),
            what=what, value=detail[-1][:300] if detail else result.returncode)
    return result


def _pg_dump(url: URL, partial: Path) -> int:
    """pg_dump into `partial` from a snapshot we export; the number of certificates in it."""
    uri, env = _libpq(url)
    with db.engine.connect().execution_options(isolation_level="REPEATABLE READ") as connection:
        # The snapshot is taken by the first statement and kept until this transaction ends:
        # pg_dump --snapshot dumps exactly what the count sees.
        snapshot = connection.exec_driver_sql("SELECT pg_export_snapshot()").scalar()
        count = connection.exec_driver_sql("SELECT count(*) FROM certificates").scalar()
        _run([find_pg_program("pg_dump"), "--format=custom", "--no-owner", f"--file={partial}",
              f"--snapshot={snapshot}", f"--dbname={uri}"], env, "pg_dump")
        connection.rollback()
    _check_dump(partial, env)
    return count


def _check_dump(partial: Path, env: dict) -> None:
    """Check that pg_restore can read the dump back and that it holds the certificates."""
    listing = _run([find_pg_program("pg_restore"), "--list", str(partial)], env, "pg_restore")
    if "TABLE DATA public certificates" not in listing.stdout:
        raise PortalError(N_("pg_dump wrote a dump without the certificates table"))


def backup_kind(path: str) -> str:
    """"sqlite" or "pg_dump", from the file's first bytes."""
    try:
        with open(path, "rb") as handle:
            head = handle.read(16)
    except OSError as exc:
        raise InvalidInput(N_("cannot read %(path)s: %(strerror)s"), field="file",
            path=path, strerror=exc.strerror) from None
    if head.startswith(SQLITE_MAGIC):
        return "sqlite"
    if head.startswith(PG_DUMP_MAGIC):
        return "pg_dump"
    raise InvalidInput(N_("%(path)s is neither a SQLite backup nor a pg_dump custom archive"),
                       field="file",
        path=path)


def restore(path: str, *, force: bool = False, actor: str = "cli") -> BackupReport:
    """Put a backup back in place of the database, revocations made since carried forward.

    Refuses to clobber data unforced. Every CA's CRL is re-signed afterwards.
    """
    url = _url()
    kind = backup_kind(path)
    backend = url.get_backend_name()
    if (kind, backend) not in (("sqlite", "sqlite"), ("pg_dump", "postgresql")):
        raise InvalidInput(N_("a %(kind)s backup cannot be restored into a %(backend)s database"),
            kind=kind, backend=backend)
    revocations = _live_revocations(backup_time(path, kind))
    db.session.remove()
    db.engine.dispose()  # no connection of ours holds a lock or a stale snapshot
    count = _sqlite_restore(path, url.database, force) if kind == "sqlite" else \
        _pg_restore(path, url, force)
    # What this process derived from the old database goes; other processes key everything
    # they cache by content (fingerprints, digests) and read CA state per request.
    cache.clear()
    try:
        write_client_ca_bundle()  # the restored CAs are the ones trusted for client certificates
    except OSError as exc:
        current_app.logger.warning("portal: could not rewrite the client CA bundle: %s", exc)
    # Everyone signs in again: a session ended since the backup (sign-out, disable, reset)
    # would otherwise be valid again.
    sessions.end_everyone()
    db.session.commit()
    carried = carrying.carry_forward(revocations, actor=actor)
    # Other processes' kept OCSP answers were read from the database before: they drop them.
    with DriverConnection(db.engine) as connection:
        ocsp_cache.raise_epoch(connection, db.engine)
    crls = crl_service.refresh(force=True, actor=actor)
    report = BackupReport(path, kind, os.path.getsize(path), count, carried, crls)
    audit.record("backup.restore", actor=actor, detail=f"{report.kind} {report.path}; "
                 f"{len(carried.carried)} revocations carried forward, "
                 f"{len(carried.missing_ca)} not")
    db.session.commit()
    return report


def _live_revocations(since: datetime | None) -> list:
    """The live database's recent revocations; none when it holds no portal yet."""
    try:
        return carrying.live_revocations(since)
    except (sql_errors.OperationalError, sql_errors.ProgrammingError):
        db.session.rollback()  # no tables yet (a restore into a new database)
        return []


def backup_time(path: str, kind: str) -> datetime | None:
    """About when a backup was taken (its newest event, or pg_dump's stamp); None if unknown."""
    if kind == "sqlite":
        source = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            stamps = [source.execute(f"SELECT max({column}) FROM {table}").fetchone()[0]
                      for table, column in (("audit_events", "at"), ("certificates", "created_at"))]
        except sqlite3.Error:
            return None
        finally:
            source.close()
        known = [datetime.fromisoformat(stamp) for stamp in stamps if stamp]
        return max(known).replace(tzinfo=UTC) if known else None
    env = {**os.environ, "TZ": "UTC"}
    listing = _run([find_pg_program("pg_restore"), "--list", path], env, "pg_restore")
    found = re.search(r"Archive created at (\d{4}-\d\d-\d\d \d\d:\d\d:\d\d)", listing.stdout)
    return datetime.fromisoformat(found[1]).replace(tzinfo=UTC) if found else None


def _holds_data(has_table, count_rows) -> bool:
    return any(has_table(name) and count_rows(name) for name in PORTAL_TABLES)


def _sqlite_restore(path: str, database: str, force: bool) -> int:
    source = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        count = _check_sqlite_copy(source, path)
        target = _sqlite_connect(database)
        try:
            names = {row[0] for row in target.execute("SELECT name FROM sqlite_master")}
            occupied = _holds_data(
                lambda name: name in names,
                lambda name: target.execute(f"SELECT count(*) FROM {name}").fetchone()[0])
            if occupied and not force:
                raise Conflict(N_("%(database)s already holds a portal's data: add --force to "
                                  "replace it with the backup"),
                    database=database)
            source.backup(target)  # under SQLite's locks: readers see the old or the new
        finally:
            target.close()
    finally:
        source.close()
    return count


def _pg_restore(path: str, url: URL, force: bool) -> int:
    uri, env = _libpq(url)
    with db.engine.connect() as connection:
        present = {row[0] for row in connection.exec_driver_sql(
            "SELECT tablename FROM pg_tables WHERE schemaname = current_schema()")}
        occupied = _holds_data(
            lambda name: name in present,
            lambda name: connection.exec_driver_sql(f"SELECT count(*) FROM {name}").scalar())
    if occupied and not force:
        raise Conflict(N_("the database %(database)s already holds a portal's data: add "
                          "--force to replace it with the backup"),
            database=url.database)
    # Dropping a table waits for every transaction that read it: give up after a minute with
    # a clear error rather than hang behind a stuck session.
    env["PGOPTIONS"] = f"{env.get('PGOPTIONS', '')} -c lock_timeout={LOCK_TIMEOUT_MS}".strip()
    _run([find_pg_program("pg_restore"), "--clean", "--if-exists", "--no-owner",
          "--single-transaction", "--exit-on-error", f"--dbname={uri}", path], env, "pg_restore")
    with db.engine.connect() as connection:
        count = connection.exec_driver_sql("SELECT count(*) FROM certificates").scalar()
    db.engine.dispose()
    return count
