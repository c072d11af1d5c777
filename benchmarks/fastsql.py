"""The fast-SQL path (services/driver.py) against SQLAlchemy's own ways of running a statement.

On a temporary instance (SQLite, or --database-url), per statement, in one run, interleaved:

- driver: `driver.thread_connection` (the thread's held DBAPI connection, a statement compiled
  once, bind and result processors of the column types);
- exec_driver_sql: the same SQL text and parameters through a SQLAlchemy Connection's
  `exec_driver_sql`, on a Connection checked out of the pool for each use (as the fast path
  would have to without holding one), and on one Connection held for the whole run;
- session: the Core statement through the ORM session (what the views did before).

Each is timed for the CRL-state read served on every CRL request and for the CA-state read
made by every issuance and every /ping. Prints microseconds per statement, and the ratio of
each to the driver path (lower is better). No target: it tells which path to keep.
Usage: python benchmarks/fastsql.py [--count N] [--database-url URL]
"""

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

from common import print_table

from portal import create_app, database  # importable: common puts the project on sys.path
from portal.extensions import db
from portal.services import authorities, ca_state
from portal.services import crl as crl_service
from portal.services.driver import DriverStatement, thread_connection
from portal.services.secrets import ensure_instance_secrets

ROUNDS = 10


def ways(engine, statement, values: dict):
    """name -> a function running `statement` once and returning its rows."""
    compiled = DriverStatement(statement, engine.dialect)
    sql, parameters = compiled.sql, compiled.parameters(values)
    held = engine.connect()

    def driver():
        with thread_connection(engine) as connection:
            return connection.all(statement, values)

    def exec_pooled():
        with engine.connect() as connection:
            return connection.exec_driver_sql(sql, parameters).all()

    def exec_held():
        rows = held.exec_driver_sql(sql, parameters).all()
        held.rollback()
        return rows

    def session():
        rows = db.session.execute(statement, values).all()
        db.session.rollback()
        return rows

    return {"driver": driver, "exec_driver_sql, pooled": exec_pooled,
            "exec_driver_sql, held": exec_held, "session": session}, held


def measure(name: str, engine, statement, values: dict, count: int) -> bool:
    """Time each way of running `statement`, interleaved; print the table."""
    runs, held = ways(engine, statement, values)
    expected = len(runs["driver"]())
    spent = dict.fromkeys(runs, 0.0)
    try:
        for run in runs.values():  # warm-up, and every way returns the same rows
            assert len(run()) == expected
        for _ in range(ROUNDS):
            for way, run in runs.items():
                start = time.perf_counter()
                for _ in range(count // ROUNDS):
                    run()
                spent[way] += time.perf_counter() - start
    finally:
        held.close()
    per = {way: spent[way] / (count // ROUNDS * ROUNDS) * 1e6 for way in runs}
    return print_table(
        f"{name}: µs per statement, {count} each, interleaved in {ROUNDS} rounds",
        [(way, per[way], "µs") for way in runs], baseline="driver", higher_is_better=False,
    )


def main() -> int:
    """Set up an instance with one CA and print the tables."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=5000)
    parser.add_argument("--database-url")
    args = parser.parse_args()
    for name in [name for name in os.environ if name.startswith("PORTAL_")]:
        del os.environ[name]  # never the operator's database or secret
    folder = Path(tempfile.mkdtemp(prefix="portal-bench-fastsql-"))
    instance = folder / "instance"
    instance.mkdir(mode=0o700)
    os.environ["PORTAL_INSTANCE"] = str(instance)
    if args.database_url:
        os.environ["PORTAL_DATABASE_URL"] = args.database_url
    try:
        app = create_app()
        with app.app_context():
            ensure_instance_secrets()
            database.upgrade()
            ca = authorities.create_ca("bench", key_type="ec-p256", actor="bench")
            engine = db.engine
            measure("CRL state (every CRL request)", engine, crl_service.STATE_BY_NAME,
                    {"name": ca.name}, args.count)
            measure("CA states (every issuance and /ping)", engine, ca_state.STATES, {},
                    args.count)
            db.session.remove()
            engine.dispose()
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
