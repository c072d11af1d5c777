"""The one fast-SQL path: Core statements run on the database driver's own cursor.

Through SQLAlchemy Core, each of issuance's writes cost 50-80 µs of Python before SQLite spent
20 µs running it: together more than signing the certificate. The same went for the reads
made on every request (an API token, a CRL's state, each CA's state, a client certificate's
record), through the ORM session. Here a statement is still written with Core against the
models, but compiled once per dialect; every value goes through its column type's own bind
processor and every result through its result processor, an INSERT takes the table's
Python-side column defaults (`Column.default`), so rows are stored and read exactly as the ORM
stores and reads them; and driver errors come back as SQLAlchemy's exceptions, so callers
catch what they always caught.

`thread_connection(engine)` gives each thread one driver connection, kept between uses: checking a
connection out of the pool and back in cost ~40 µs, and on SQLite a connection other than the
last writer's starts with an empty page cache. A held connection skips the pool's pre-ping, so
a statement that opens a transaction and finds the connection lost (a PostgreSQL restart) is
run again once on a new connection: nothing of that transaction can have been committed.
"""

import threading
import weakref
from collections.abc import Iterable, Mapping, Sequence
from weakref import WeakKeyDictionary

from sqlalchemy import event, exc
from sqlalchemy.engine import Dialect, Engine
from sqlalchemy.sql.dml import Insert

from . import cache
from .driver_times import bind_processor_for, result_processor_for

_MISSING = object()
NO_VALUES: Mapping = {}


def _defaults_of(table) -> dict:
    """Each column's Python-side default (`Column.default`) as a function of no argument."""
    defaults = {}
    for column in table.columns:
        default = column.default
        if default is None:
            continue
        if default.is_scalar:
            defaults[column.key] = (lambda value: lambda: value)(default.arg)
        elif default.is_callable:
            defaults[column.key] = (lambda make: lambda: make(None))(default.arg)
    return defaults


_TABLE_DEFAULTS: dict = {}


def fill_defaults(table, row: dict) -> dict:
    """`row` with the table's column defaults set where a value is missing or None."""
    defaults = _TABLE_DEFAULTS.get(table)
    if defaults is None:
        defaults = _TABLE_DEFAULTS[table] = _defaults_of(table)
    for key, make in defaults.items():
        if row.get(key) is None:
            row[key] = make()
    return row


def _required(name: str):
    def missing():
        raise KeyError(name)
    return missing


class DriverStatement:
    """One Core statement compiled once for a dialect, then run on a driver cursor."""

    def __init__(self, statement, dialect: Dialect, column_keys: Sequence[str] | None = None):
        self._dialect = dialect
        # SQLite reports the new row's id on the cursor; PostgreSQL needs RETURNING (for a
        # table that has an id column at all).
        inserts = isinstance(statement, Insert)
        self._returns_id = (inserts and not dialect.postfetch_lastrowid
                            and "id" in statement.table.c)
        self._reads_lastrowid = inserts and dialect.postfetch_lastrowid
        defaults = {}
        if inserts and column_keys is not None:
            # The columns the caller leaves out that have a Python-side default get it, as
            # they would through the ORM (a SQL expression default is not used here).
            defaults = {key: make for key, make in _defaults_of(statement.table).items()
                        if key not in column_keys}
            column_keys = (*column_keys, *defaults)
        if self._returns_id:
            statement = statement.returning(statement.table.c.id)
        compiled = statement.compile(dialect=dialect, column_keys=column_keys)
        self.sql = compiled.string
        self._names = tuple(compiled.positiontup if dialect.positional else compiled.binds)
        self._positional = dialect.positional
        # Values written into the statement itself (`.values(status="issued")`).
        constants = {
            name: (lambda value: lambda: value)(bind.effective_value)
            for name, bind in compiled.binds.items() if not bind.required
        }
        plan = []
        for name in self._names:
            bind = compiled.binds[name]
            processor = bind_processor_for(bind.type, dialect)
            missing = defaults.get(name) or constants.get(name) or _required(name)
            plan.append((name, missing, processor))
        self._plan = tuple(plan)
        self._results = None
        if not self._returns_id:
            processors = [
                result_processor_for(column.type, dialect) for column in statement.exported_columns
            ]
            if any(processors):
                self._results = tuple(processors)

    def parameters(self, values: Mapping):
        """The driver's parameters for one row: processed, in the dialect's paramstyle."""
        get = values.get
        processed = []
        for name, missing, processor in self._plan:
            value = get(name, _MISSING)
            if value is _MISSING:
                value = missing()
            processed.append(value if processor is None else processor(value))
        if self._positional:
            return tuple(processed)
        return dict(zip(self._names, processed, strict=True))

    def _row(self, row):
        processors = self._results
        if processors is None or row is None:
            return row
        return tuple(value if processor is None else processor(value)
                     for processor, value in zip(processors, row, strict=True))

    def execute(self, cursor, values: Mapping = NO_VALUES):
        """Run the statement for one row; for an INSERT, return the new row's id."""
        self._run(cursor.execute, self.parameters(values))
        return self._inserted_id(cursor)

    def _inserted_id(self, cursor):
        if self._returns_id:
            return cursor.fetchone()[0]
        return cursor.lastrowid if self._reads_lastrowid else None

    def execute_many(self, cursor, rows: Iterable[Mapping]) -> None:
        """Run the statement once per row, in one driver call."""
        self._run(cursor.executemany, [self.parameters(values) for values in rows])

    def first(self, cursor, values: Mapping = NO_VALUES):
        """Run a SELECT for one row of values; return its first row (None when there is none)."""
        self._run(cursor.execute, self.parameters(values))
        # Read to the end: on SQLite a statement not run to its end keeps its read snapshot
        # open on the (held) connection, and no checkpoint could pass it.
        rows = cursor.fetchall()
        return self._row(rows[0]) if rows else None

    def all(self, cursor, values: Mapping = NO_VALUES) -> list:
        """Run a statement that returns rows (a SELECT, or RETURNING); return every row."""
        self._run(cursor.execute, self.parameters(values))
        rows = cursor.fetchall()
        return rows if self._results is None else [self._row(row) for row in rows]

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
    by_statement = _PREPARED.get(engine.dialect)
    if by_statement is None:
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
    driver reports as lost is invalidated, so that the pool opens a new one. Statements run
    through `execute`, `first`, `all` and `execute_many`; the first one of a transaction that
    finds the connection lost is run again on a new one.
    """

    def __init__(self, engine: Engine, holder: "_HeldConnections | None" = None):
        self._engine = engine
        self._dialect = engine.dialect
        self._holder = holder
        self._statements: dict = _PREPARED.setdefault(engine.dialect, {})
        self._raw = engine.raw_connection()
        self.cursor = self._raw.cursor()
        self._idle = True  # no statement since the last commit or rollback
        self._released = False
        self.busy = False

    def _prepared(self, statement, column_keys) -> DriverStatement:
        found = self._statements.get((statement, column_keys))
        return found if found is not None else prepared(statement, self._engine, column_keys)

    def _run(self, run):
        idle, self._idle = self._idle, False
        try:
            return run(self.cursor)
        except exc.DBAPIError as error:
            if not (idle and self._lost(error)):
                raise
        self._reconnect()  # nothing of this transaction was done: do it on a new connection
        self._idle = False
        return run(self.cursor)

    def execute(self, statement, values: Mapping = NO_VALUES, column_keys=None):
        """Run a statement for one row; for an INSERT, return the new row's id."""
        found = self._prepared(statement, column_keys)
        return self._run(lambda cursor: found.execute(cursor, values))

    def execute_many(self, statement, rows: list, column_keys=None) -> None:
        """Run a statement once per row, in one driver call."""
        found = self._prepared(statement, column_keys)
        self._run(lambda cursor: found.execute_many(cursor, rows))

    def first(self, statement, values: Mapping = NO_VALUES):
        """The first row of a statement's result (None when there is none)."""
        found = self._prepared(statement, None)
        return self._run(lambda cursor: found.first(cursor, values))

    def all(self, statement, values: Mapping = NO_VALUES) -> list:
        """Every row of a statement's result (a SELECT, or RETURNING)."""
        found = self._prepared(statement, None)
        return self._run(lambda cursor: found.all(cursor, values))

    def commit(self) -> None:
        """Commit the driver's transaction."""
        self._idle = True
        try:
            self._raw.commit()
        except self._dialect.loaded_dbapi.Error as error:
            raise wrapped(error, self._dialect, None, None) from error

    def rollback(self) -> None:
        """Roll back the driver's transaction."""
        self._idle = True
        self._raw.rollback()

    def _lost(self, error: BaseException | None) -> bool:
        original = getattr(error, "orig", None)
        return original is not None and self._dialect.is_disconnect(
            original, self._raw.dbapi_connection, self.cursor
        )

    def _reconnect(self) -> None:
        self._raw.invalidate()
        self._release()
        self._raw = self._engine.raw_connection()
        self.cursor = self._raw.cursor()
        self._released = False
        self._idle = True

    def _release(self) -> None:
        if self._released:
            return
        self._released = True
        try:
            self.cursor.close()
        except self._dialect.loaded_dbapi.Error:
            pass  # a lost connection's cursor: the pool discards both
        finally:
            self._raw.close()

    def close(self, error: BaseException | None = None) -> None:
        """Give the connection back to the pool (invalidated when `error` says it was lost)."""
        if self._lost(error):
            self._raw.invalidate()
        self._release()

    def __enter__(self) -> "DriverConnection":
        return self

    def __exit__(self, kind, error, traceback) -> None:
        holder = self._holder
        if holder is None:
            self.close(error)
        else:
            holder.give_back(self, error)


class _HeldConnections:
    """One DriverConnection per thread of one engine, kept between uses until it ends.

    It lives in the process cache, which starts afresh after a fork.
    """

    def __init__(self, engine: Engine):
        self._engine = engine
        self._local = threading.local()
        self._lock = threading.Lock()
        self._all: weakref.WeakSet = weakref.WeakSet()
        self._generation = 0

    def take(self) -> DriverConnection:
        """The calling thread's connection (a pooled one when it is already in use)."""
        local = self._local
        connection = getattr(local, "connection", None)
        if connection is not None and local.generation == self._generation:
            if connection.busy:
                return DriverConnection(self._engine)  # a nested use: closed after it
            connection.busy = True
            return connection
        connection = _ThreadConnection(self._engine, self)
        local.connection, local.generation = connection, self._generation
        with self._lock:
            self._all.add(connection)
        connection.busy = True
        return connection

    def give_back(self, connection: DriverConnection, error: BaseException | None) -> None:
        """End the use: roll back what was not committed; drop a lost connection."""
        connection.busy = False
        try:
            if error is None:
                connection.rollback()
                return
            lost = connection._lost(error)
            if not lost:
                connection.rollback()
        except Exception:
            lost = True
        if lost:
            self._local.connection = None
            with self._lock:
                self._all.discard(connection)
            connection.close(error)

    def close(self, *_) -> None:
        """Give every held connection back (the engine is being disposed, or the cache cleared)."""
        with self._lock:
            held, self._all = list(self._all), weakref.WeakSet()
            self._generation += 1
        for connection in held:
            try:
                connection._raw.invalidate()
                connection._release()
            except Exception:  # already closed or broken: nothing more to release
                pass


class _ThreadConnection(DriverConnection):
    """A held connection: given back to the pool when its thread ends (and its reference)."""

    def __del__(self):
        try:
            self._release()
        except Exception:  # the engine or the interpreter is going away
            pass


_HOLDERS_LOCK = threading.Lock()


def thread_connection(engine: Engine) -> DriverConnection:
    """The calling thread's driver connection of `engine`, for a `with` block.

    At the end of the block anything not committed is rolled back and the connection stays
    with the thread; a nested use gets a pooled connection of its own.
    """
    holders = cache.table("driver.connections")  # cleared (and closed) with the process cache
    holder = holders.get(engine)
    if holder is None:
        with _HOLDERS_LOCK:
            holder = holders.get(engine)
            if holder is None:
                holder = holders[engine] = _HeldConnections(engine)
                event.listen(engine, "engine_disposed", holder.close)
    return holder.take()
