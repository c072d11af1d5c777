"""Statements run on the database driver's own cursor, for the API's hot path.

Through SQLAlchemy Core, each of issuance's four writes cost 50-80 µs of Python before SQLite
spent 20 µs running it: together more than signing the certificate. The same went for the token
lookup on every API request, through the ORM session. Here a statement is still
written with Core against the models, but compiled once per dialect; every value goes through
its column type's own bind processor, so rows are stored exactly as the ORM stores them; and
driver errors come back as SQLAlchemy's exceptions, so callers catch what they always caught.
"""

from collections.abc import Iterable, Mapping, Sequence
from weakref import WeakKeyDictionary

from sqlalchemy import exc
from sqlalchemy.engine import Dialect, Engine
from sqlalchemy.sql.dml import Insert


class DriverStatement:
    """One Core statement compiled once for a dialect, then run on a driver cursor."""

    def __init__(self, statement, dialect: Dialect, column_keys: Sequence[str] | None = None):
        self._dialect = dialect
        # SQLite reports the new row's id on the cursor; PostgreSQL needs RETURNING.
        inserts = isinstance(statement, Insert)
        self._returns_id = inserts and not dialect.postfetch_lastrowid
        self._reads_lastrowid = inserts and dialect.postfetch_lastrowid
        if self._returns_id:
            statement = statement.returning(statement.table.c.id)
        compiled = statement.compile(dialect=dialect, column_keys=column_keys)
        self.sql = compiled.string
        self._names = tuple(compiled.positiontup if dialect.positional else compiled.binds)
        self._positional = dialect.positional
        # Values written into the statement itself (`.values(status="issued")`).
        self._constants = {
            name: bind.effective_value for name, bind in compiled.binds.items() if not bind.required
        }
        self._processors = {}
        for name, bind in compiled.binds.items():
            processor = bind.type.dialect_impl(dialect).bind_processor(dialect)
            if processor is not None:
                self._processors[name] = processor

    def parameters(self, values: Mapping):
        """The driver's parameters for one row: processed, in the dialect's paramstyle."""
        processors, constants = self._processors, self._constants
        processed = []
        for name in self._names:
            value = values[name] if name in values or name not in constants else constants[name]
            processed.append(processors[name](value) if name in processors else value)
        if self._positional:
            return tuple(processed)
        return dict(zip(self._names, processed, strict=True))

    def execute(self, cursor, values: Mapping):
        """Run the statement for one row; for an INSERT, return the new row's id."""
        self._run(cursor.execute, self.parameters(values))
        if self._returns_id:
            return cursor.fetchone()[0]
        return cursor.lastrowid if self._reads_lastrowid else None

    def execute_many(self, cursor, rows: Iterable[Mapping]) -> None:
        """Run the statement once per row, in one driver call."""
        self._run(cursor.executemany, [self.parameters(values) for values in rows])

    def first(self, cursor, values: Mapping):
        """Run a SELECT for one row of values; return its first row (None when there is none)."""
        self._run(cursor.execute, self.parameters(values))
        return cursor.fetchone()

    def all(self, cursor, values: Mapping) -> list:
        """Run a statement that returns rows (a SELECT, or RETURNING); return every row."""
        self._run(cursor.execute, self.parameters(values))
        return cursor.fetchall()

    def _run(self, method, parameters) -> None:
        try:
            method(self.sql, parameters)
        except self._dialect.loaded_dbapi.Error as error:
            raise wrapped(error, self._dialect, self.sql, parameters) from error


_PREPARED: "WeakKeyDictionary[Dialect, dict]" = WeakKeyDictionary()


def prepared(
    statement, engine: Engine, column_keys: tuple[str, ...] | None = None
) -> DriverStatement:
    """`statement` compiled for the engine's dialect: the first time, then from a cache."""
    by_statement = _PREPARED.setdefault(engine.dialect, {})
    found = by_statement.get((statement, column_keys))
    if found is None:
        found = by_statement[statement, column_keys] = DriverStatement(
            statement, engine.dialect, column_keys
        )
    return found


def wrapped(error: Exception, dialect: Dialect, sql: str | None, parameters) -> exc.DBAPIError:
    """The SQLAlchemy exception (IntegrityError, OperationalError, ...) for a driver error."""
    return exc.DBAPIError.instance(
        sql, parameters, error, dialect.loaded_dbapi.Error, dialect=dialect
    )


class DriverConnection:
    """A pooled connection used at the driver level: commit, roll back, give back to the pool.

    Anything not committed when it is closed is rolled back by the pool. A connection the
    driver reports as lost is invalidated, so that the pool opens a new one.
    """

    def __init__(self, engine: Engine):
        self._dialect = engine.dialect
        self._raw = engine.raw_connection()
        self.cursor = self._raw.cursor()

    def commit(self) -> None:
        """Commit the driver's transaction."""
        try:
            self._raw.commit()
        except self._dialect.loaded_dbapi.Error as error:
            raise wrapped(error, self._dialect, None, None) from error

    def rollback(self) -> None:
        """Roll back the driver's transaction."""
        self._raw.rollback()

    def close(self, error: BaseException | None = None) -> None:
        """Give the connection back to the pool (invalidated when `error` says it was lost)."""
        original = getattr(error, "orig", None)
        if original is not None and self._dialect.is_disconnect(
            original, self._raw.dbapi_connection, self.cursor
        ):
            self._raw.invalidate()
        try:
            self.cursor.close()
        except self._dialect.loaded_dbapi.Error:
            pass  # a lost connection's cursor: the pool discards both
        finally:
            self._raw.close()

    def __enter__(self) -> "DriverConnection":
        return self

    def __exit__(self, kind, error, traceback) -> None:
        self.close(error)
