"""A throwaway PostgreSQL server in a temporary folder, for the tests and the benchmarks.

Debian's postgresql package keeps initdb and pg_ctl in /usr/lib/postgresql/<version>/bin.
initdb refuses to run as root, so as root the cluster belongs to the `postgres` user (the
package creates it) and every server command runs as that user with `runuser`. The server
listens on a free loopback port and a socket in its own folder; trust authentication, loopback
only. `stop()` ends it and removes the folder.
"""

import atexit
import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import uuid
from pathlib import Path

SUPERUSER = "postgres"
# Fast settings for throwaway test clusters; `durable=True` keeps PostgreSQL's defaults.
FAST = {"fsync": "off", "synchronous_commit": "off", "full_page_writes": "off"}


def find_program(name: str) -> str | None:
    """A PostgreSQL program on PATH, or in the newest /usr/lib/postgresql/*/bin."""
    found = shutil.which(name)
    if found:
        return found
    candidates = glob.glob(f"/usr/lib/postgresql/*/bin/{name}")
    candidates.sort(key=lambda path: int(Path(path).parts[-3]) if Path(path).parts[-3].isdigit()
                    else 0)
    return candidates[-1] if candidates else None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class PostgresServer:
    """One PostgreSQL cluster: initdb, start, databases from a template, stop."""

    def __init__(self, *, durable: bool = False, max_connections: int = 300):
        self.initdb = find_program("initdb")
        self.pg_ctl = find_program("pg_ctl")
        if not self.initdb or not self.pg_ctl:
            raise FileNotFoundError("initdb/pg_ctl not found (apt-get install postgresql)")
        self.bindir = str(Path(self.pg_ctl).resolve().parent)
        self.root = Path(tempfile.mkdtemp(prefix="portal-pg-"))
        self.data = self.root / "data"
        self.port = _free_port()
        self.settings = {} if durable else dict(FAST)
        self.settings["max_connections"] = str(max_connections)
        self._as_postgres = os.geteuid() == 0
        if self._as_postgres:
            entry = pwd.getpwnam(SUPERUSER)
            os.chown(self.root, entry.pw_uid, entry.pw_gid)
        os.chmod(self.root, 0o700)
        self.started = False

    def _run(self, *command: str, timeout: int = 120) -> subprocess.CompletedProcess:
        if self._as_postgres:
            command = ("runuser", "-u", SUPERUSER, "--", *command)
        result = subprocess.run(command, capture_output=True, text=True, timeout=timeout,
                                cwd=self.root)
        if result.returncode != 0:
            raise RuntimeError(f"{' '.join(command)} failed: {result.stdout}{result.stderr}")
        return result

    def start(self) -> "PostgresServer":
        """initdb (UTF-8, C collation: byte order, as the prefix search assumes) and start."""
        self._run(self.initdb, "-D", str(self.data), "-U", SUPERUSER, "--auth=trust",
                  "-E", "UTF8", "--no-locale", "--no-sync")
        options = [f"-p {self.port}", f"-k {self.root}", "-c listen_addresses=127.0.0.1"]
        options += [f"-c {key}={value}" for key, value in self.settings.items()]
        self._run(self.pg_ctl, "-D", str(self.data), "-l", str(self.root / "server.log"),
                  "-w", "-t", "120", "-o", " ".join(options), "start")
        self.started = True
        atexit.register(self.stop)
        return self

    def restart(self) -> None:
        """Restart the server as an administrator would: every open connection is terminated."""
        # -l again: without it the new server writes to our captured stdout, which never ends.
        self._run(self.pg_ctl, "-D", str(self.data), "-l", str(self.root / "server.log"),
                  "-m", "fast", "-w", "-t", "120", "restart")

    def stop(self) -> None:
        """Stop the server at once and delete its folder."""
        if self.started:
            self.started = False
            try:
                self._run(self.pg_ctl, "-D", str(self.data), "-m", "immediate", "-w", "stop")
            except (RuntimeError, subprocess.TimeoutExpired):
                pass
        shutil.rmtree(self.root, ignore_errors=True)

    def url(self, database: str, *, driver: str = "postgresql+psycopg") -> str:
        """The SQLAlchemy URL of a database on this server."""
        return f"{driver}://{SUPERUSER}@127.0.0.1:{self.port}/{database}"

    def program(self, name: str) -> str:
        """A program of the same PostgreSQL version as the server (pg_dump, pg_amcheck...)."""
        return str(Path(self.bindir) / name)

    def execute(self, sql: str, *, database: str = "postgres") -> list[tuple]:
        """Run one statement in autocommit mode (CREATE DATABASE cannot run in a transaction)."""
        import psycopg

        with psycopg.connect(self.url(database, driver="postgresql"), autocommit=True) as conn:
            cursor = conn.execute(sql)
            return cursor.fetchall() if cursor.description else []

    def create_database(self, *, template: str | None = None, prefix: str = "t") -> str:
        """A new database (a copy of `template`, if given); returns its name."""
        name = f"{prefix}_{uuid.uuid4().hex[:16]}"
        suffix = f" TEMPLATE {template}" if template else ""
        self.execute(f"CREATE DATABASE {name}{suffix}")
        return name

    def drop_database(self, name: str) -> None:
        """Drop a database, disconnecting whoever is still connected."""
        self.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def migrated_template(server: PostgresServer) -> str:
    """A database with every migration applied, to copy per test (CREATE DATABASE TEMPLATE)."""
    from portal import create_app, database
    from portal.extensions import db

    name = server.create_database(prefix="template")
    app = create_app({"SQLALCHEMY_DATABASE_URI": server.url(name), "TESTING": True})
    with app.app_context():
        database.upgrade()
        db.session.remove()
        db.engine.dispose()  # a template must have no open connection
    return name
