"""The metadata database: engine set-up, the schema check/upgrade on open, and the one way to write.

Every write of every package is `Database.transaction(fn)`: fn(tx) runs in one committed transaction (BEGIN
IMMEDIATE on SQLite), retried while another writer holds the lock. A `Tx` runs plain parameterised SQL (`:name`
parameters, see sql.py) and SQLAlchemy Core statements alike, in the same transaction: on a SQLite file already at
the head revision over a plain sqlite3 connection per thread (no SQLAlchemy import for plain SQL: the pipeline-run
path stays fast; a Core statement is compiled for SQLite and run there, without SQLAlchemy's type conversions, so
its values must be ones sqlite3 stores: None, bool, int, float, str, bytes); anywhere else (PostgreSQL,
in-memory SQLite, a database that must first be created or upgraded) over a SQLAlchemy connection, plain SQL as
`text()`. `Tx.upsert` is the one insert-or-update. SQLAlchemy is loaded only when `engine` is first used (or a
Core statement is compiled): migrations, PostgreSQL, and Core reads (`Database.read`).
"""

from __future__ import annotations

import json
import os
import re
import sqlite3
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeAlias, TypeVar

from nbmlops.store import sql as statements
from nbmlops.store.errors import SchemaError, StoreBusyError
from nbmlops.store.migrations import HEAD, LOCATION, REVISIONS, VERSION_TABLE
from nbmlops.user_cache import user_cache_dir, write_cache_json

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection, Engine
    from sqlalchemy.sql.base import Executable

__all__ = [
    "Database",
    "Query",
    "SchemaError",
    "Statement",
    "StoreBusyError",
    "Tx",
    "ensure_schema",
    "make_engine",
    "stamped_revisions",
    "upgrade",
]

T = TypeVar("T")
Statement: TypeAlias = "str | Executable"  # plain SQL with :name parameters, or a SQLAlchemy Core statement
Params: TypeAlias = Mapping[str, Any] | None
# a reader: Database.query outside a write, Tx.all inside one (same signature: statement, params -> rows)
Query: TypeAlias = Callable[[Any, Params], list[dict[str, Any]]]

SQLITE_BUSY_TIMEOUT_S = 30.0
# After the busy timeout, a write is retried for this long before the user hears about it.
WRITE_RETRY_S = 300.0
_LOCKED_MARKERS = ("database is locked", "database is busy", "database table is locked")
# sqlite:///relative/path or sqlite:////absolute/path, nothing after: the URLs the raw fast path understands
# (query strings, URI filenames, in-memory databases and escaped characters go through SQLAlchemy).
_SQLITE_FILE_URL = re.compile(r"^sqlite(?:\+pysqlite)?:///(?P<path>[^?%]+)$")


def _is_locked(exc: BaseException) -> bool:
    return any(marker in str(getattr(exc, "orig", exc)).lower() for marker in _LOCKED_MARKERS)


def dialect_of(url: str) -> str:
    """'sqlite', 'postgresql', ... from a SQLAlchemy URL, without loading SQLAlchemy."""
    return url.partition(":")[0].partition("+")[0].lower()


def sqlite_file(url: str) -> str | None:
    """The absolute path of the SQLite file a plain `sqlite:///path` URL names; None for any other URL."""
    match = _SQLITE_FILE_URL.match(url)
    if not match or match["path"] in (":memory:",) or match["path"].startswith("file:"):
        return None
    return os.path.abspath(match["path"])


def redact(url: str) -> str:
    """The URL with its password hidden, for messages (as SQLAlchemy renders it)."""
    return re.sub(r"^([^:/]+://[^:/@]*):[^@/]*@", r"\1:***@", url)


def _sqlite_connect(dbapi_connection: Any, _record: Any = None) -> None:
    # Transactions are begun by us (see _sqlite_begin, Database.transaction), not by the sqlite3 module, so
    # writes can BEGIN IMMEDIATE.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute(f"PRAGMA busy_timeout = {int(SQLITE_BUSY_TIMEOUT_S * 1000)}")
        mode = cursor.execute("PRAGMA journal_mode").fetchone()[0]
        if str(mode).lower() not in ("wal", "memory"):
            retry_locked(lambda: cursor.execute("PRAGMA journal_mode = WAL"), "switching to WAL mode")
        # NORMAL in WAL: a commit is in the WAL file when it returns, so it survives the process dying;
        # only an OS crash or power loss can drop the last commits (the WAL is fsynced at checkpoints).
        cursor.execute("PRAGMA synchronous = NORMAL")
        cursor.execute("PRAGMA foreign_keys = ON")
    finally:
        cursor.close()


def _sqlite_begin(conn: Connection) -> None:
    # A write takes the write lock up front: a deferred transaction that reads first and then writes can
    # fail at once with SQLITE_BUSY (no busy wait) when another writer committed in between.
    conn.exec_driver_sql("BEGIN IMMEDIATE" if conn.get_execution_options().get("nbmlops_write") else "BEGIN")


def make_engine(url: str) -> Engine:
    import sqlalchemy as sa
    from sqlalchemy import event

    parsed = sa.engine.make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return sa.create_engine(url, pool_pre_ping=True)
    if parsed.database and parsed.database != ":memory:" and not parsed.database.startswith("file:"):
        Path(parsed.database).expanduser().parent.mkdir(parents=True, exist_ok=True)
    engine = sa.create_engine(url, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_S, "check_same_thread": False})
    event.listen(engine, "connect", _sqlite_connect)
    event.listen(engine, "begin", _sqlite_begin)
    return engine


def retry_locked(action: Callable[[], T], what: str, deadline_s: float = WRITE_RETRY_S) -> T:
    """Run `action`, retrying while SQLite says it is locked, with jittered backoff, up to a deadline."""
    give_up = time.monotonic() + deadline_s
    delay = 0.005
    while True:
        try:
            return action()
        except Exception as exc:  # SQLAlchemy's OperationalError, or sqlite3's own
            if not _is_locked(exc) or time.monotonic() > give_up:
                if _is_locked(exc):
                    raise StoreBusyError(
                        f"{what}: the database stayed locked for over {deadline_s:.0f} s "
                        "(another process holds a long write transaction)"
                    ) from exc
                raise
        import random  # only under contention

        time.sleep(delay * (0.5 + random.random()))
        delay = min(delay * 2, 0.5)


# -- one transaction, two drivers ------------------------------------------------------------------------------
class Tx(ABC):
    """What a write sees: statements (plain SQL or Core) inside one transaction."""

    dialect: str

    @abstractmethod
    def execute(self, sql: Statement, params: Params = None) -> int:
        """Run one statement; returns the number of rows it changed."""

    @abstractmethod
    def executemany(self, sql: Statement, rows: Sequence[Mapping[str, Any]]) -> None:
        """Run one statement once per row of parameters."""

    @abstractmethod
    def first(self, sql: Statement, params: Params = None) -> tuple[Any, ...] | None:
        """The first row of a query, or None."""

    @abstractmethod
    def all(self, sql: Statement, params: Params = None) -> list[dict[str, Any]]:
        """Every row of a query, as dicts."""

    def upsert(
        self, table: str, rows: Sequence[Mapping[str, Any]], keys: Sequence[str], *, update: bool = True
    ) -> None:
        """Insert each row, or where a row with the same keys exists overwrite its other columns (update) or keep
        it as it is (not update). Every row has the same columns. Never deletes: a row other tables reference with
        ON DELETE CASCADE keeps its dependents."""
        if not rows:
            return
        columns, key_columns = tuple(rows[0]), tuple(keys)
        statement = statements.upsert(table, columns, key_columns, self.dialect, update)
        if statement is not None:
            self.executemany(statement, rows)
            return
        for row in rows:  # no ON CONFLICT here: look each row up first (inside this transaction)
            if self.first(statements.select_keys(table, key_columns), row) is None:
                self.execute(statements.insert(table, columns), row)
            elif update and set(columns) - set(key_columns):
                self.execute(statements.update_row(table, columns, key_columns), row)


@lru_cache(maxsize=1)
def _sqlite_dialect() -> Any:
    from sqlalchemy.dialects import sqlite

    return sqlite.dialect(paramstyle="named")


def _compile_for_sqlite(statement: Executable, columns: Sequence[str] | None) -> Any:
    # render_postcompile: `column.in_([...])` becomes one :name parameter per value, as sqlite3 needs
    return statement.compile(
        dialect=_sqlite_dialect(),
        column_keys=list(columns) if columns else None,
        compile_kwargs={"render_postcompile": True},
    )


class _SqliteTx(Tx):
    dialect = "sqlite"

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    @staticmethod
    def _plain(sql: Statement, params: Params) -> tuple[str, Mapping[str, Any]]:
        if isinstance(sql, str):
            return sql, params or {}
        compiled = _compile_for_sqlite(sql, list(params) if params else None)
        return str(compiled), compiled.construct_params(params)

    def execute(self, sql: Statement, params: Params = None) -> int:
        return self.conn.execute(*self._plain(sql, params)).rowcount

    def executemany(self, sql: Statement, rows: Sequence[Mapping[str, Any]]) -> None:
        if isinstance(sql, str):
            self.conn.executemany(sql, rows)
        elif rows:  # compiled once, for the columns every row has
            compiled = _compile_for_sqlite(sql, list(rows[0]))
            self.conn.executemany(str(compiled), [compiled.construct_params(row) for row in rows])

    def first(self, sql: Statement, params: Params = None) -> tuple[Any, ...] | None:
        return self.conn.execute(*self._plain(sql, params)).fetchone()

    def all(self, sql: Statement, params: Params = None) -> list[dict[str, Any]]:
        cursor = self.conn.execute(*self._plain(sql, params))
        names = [d[0] for d in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in cursor]


@lru_cache(maxsize=256)
def _text(sql: str) -> Any:
    import sqlalchemy as sa

    return sa.text(sql)


class _SqlAlchemyTx(Tx):
    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self.dialect = conn.dialect.name

    def execute(self, sql: Statement, params: Params = None) -> int:
        return self.conn.execute(_as_executable(sql), dict(params or {})).rowcount

    def executemany(self, sql: Statement, rows: Sequence[Mapping[str, Any]]) -> None:
        if rows:
            self.conn.execute(_as_executable(sql), [dict(r) for r in rows])

    def first(self, sql: Statement, params: Params = None) -> tuple[Any, ...] | None:
        row = self.conn.execute(_as_executable(sql), dict(params or {})).first()
        return None if row is None else tuple(row)

    def all(self, sql: Statement, params: Params = None) -> list[dict[str, Any]]:
        return [dict(row._mapping) for row in self.conn.execute(_as_executable(sql), dict(params or {}))]


def _as_executable(sql: Statement) -> Any:
    return _text(sql) if isinstance(sql, str) else sql


class Database:
    """One metadata database. `transaction` runs a function in a committed transaction, retrying on lock
    contention (`execute`/`executemany`: one statement's worth, autocommitted on SQLite); `query` and `read`
    read; `engine` (SQLAlchemy) is made on first use."""

    def __init__(self, url: str, *, upgrade: bool = True) -> None:
        self.url = url
        self.dialect = dialect_of(url)
        self.where = redact(url)
        self._engine: Engine | None = None
        self._empty = False  # a SQLite file that did not exist or held no table when opened
        self._raw = threading.local()
        # the raw path needs a file every connection sees (an in-memory DB is private to one connection)
        self._file = sqlite_file(url) if self.dialect == "sqlite" else None
        self._fast = self._file is not None
        if upgrade and not (self._fast and (self._at_head() or self._create_from_saved_schema())):
            ensure_schema(self.engine)
            if self._fast and self._empty:  # made from scratch by Alembic: the DDL of a pristine store
                self._save_schema()

    def file_removed(self) -> bool:
        """True when this SQLite store's file was deleted after it was opened (a connection would make an
        empty one)."""
        return self._file is not None and not os.path.exists(self._file)

    @property
    def engine(self) -> Engine:
        if self._engine is None:
            self._engine = make_engine(self.url)
        return self._engine

    def _at_head(self) -> bool:
        """True when the SQLite file exists and is stamped with HEAD, checked with sqlite3 alone. Anything
        else (no file, no version table, an older or unknown revision) is left to ensure_schema."""
        self._empty = True
        if not os.path.isfile(self._file or ""):
            return False

        def stamped() -> set[str] | None:
            conn = self._sqlite_raw()
            try:
                rows = conn.execute(f"SELECT version_num FROM {VERSION_TABLE}").fetchall()
            except sqlite3.OperationalError as exc:
                if "no such table" in str(exc):
                    self._empty = not conn.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]
                    return None
                raise
            self._empty = False
            return {row[0] for row in rows}

        return retry_locked(stamped, f"reading {self.where}") == {HEAD}

    def _create_from_saved_schema(self) -> bool:
        """Make a new SQLite store from the schema Alembic produced last time for these same migrations (see
        _save_schema), with sqlite3 alone: a fresh project home costs milliseconds, not an Alembic run.
        False (leave it to Alembic) when no schema is saved or the file already holds tables."""
        path = schema_cache_path()
        try:
            saved = json.loads(path.read_text())
            statements, stamped = list(saved["statements"]), list(saved["revisions"])
        except FileNotFoundError:
            return False
        except (OSError, ValueError, KeyError, TypeError):  # damaged: Alembic remakes it
            return False
        if stamped != [HEAD]:
            return False
        Path(self._file or "").parent.mkdir(parents=True, exist_ok=True)
        fresh = self._file is not None and not os.path.exists(self._file)
        if fresh and _copy_template(path, statements, self._file or "") and self._at_head():
            return True

        def create() -> bool:
            conn = self._sqlite_raw()
            conn.execute("BEGIN IMMEDIATE")
            try:
                if conn.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]:
                    conn.execute("ROLLBACK")  # someone else made it meanwhile (or it is not empty): let them be
                    return False
                _make_schema(conn, statements)
                conn.execute("COMMIT")
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise
            return True

        return retry_locked(create, f"creating {self.where}") or self._at_head()

    def _save_schema(self) -> None:
        """After Alembic made or upgraded this SQLite store to head, keep its DDL for the next new store."""
        path = schema_cache_path()
        if path.is_file():
            return
        conn = self._sqlite_raw()
        stamped = sorted(row[0] for row in conn.execute(f"SELECT version_num FROM {VERSION_TABLE}"))
        if stamped != [HEAD]:
            return
        statements = [
            row[0]
            for row in conn.execute(
                "SELECT sql FROM sqlite_master WHERE sql IS NOT NULL AND name NOT LIKE 'sqlite_%' ORDER BY rowid"
            )
        ]
        # no writable cache folder: every new store runs Alembic, which is only slower
        write_cache_json(path, json.dumps({"revisions": stamped, "statements": statements}))

    def _sqlite_raw(self) -> sqlite3.Connection:
        # per thread and per process: sqlite3 connections must not cross a fork
        conn = getattr(self._raw, "conn", None)
        if conn is None or self._raw.pid != os.getpid():
            conn = sqlite3.connect(self._file or "", timeout=SQLITE_BUSY_TIMEOUT_S, check_same_thread=False)
            _sqlite_connect(conn)
            self._raw.conn, self._raw.pid = conn, os.getpid()
        return conn

    # -- writes and reads, either driver -------------------------------------------------------------------
    def transaction(self, fn: Callable[[Tx], T]) -> T:
        """Run fn(tx) in one committed write transaction (BEGIN IMMEDIATE on SQLite), retrying when locked: the
        whole of fn runs again, so it must only write through tx. An exception rolls everything back."""

        def attempt() -> T:
            if not self._fast:
                with self.engine.connect().execution_options(nbmlops_write=True) as engine_conn, engine_conn.begin():
                    return fn(_SqlAlchemyTx(engine_conn))
            conn = self._sqlite_raw()
            conn.execute("BEGIN IMMEDIATE")
            try:
                result = fn(_SqliteTx(conn))
                conn.execute("COMMIT")
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise
            return result

        return retry_locked(attempt, f"writing to {self.where}")

    def execute(self, sql: Statement, params: Params = None) -> int:
        """One statement in its own committed transaction; returns the number of rows it changed."""
        if not self._fast:
            return self.transaction(lambda tx: tx.execute(sql, params))
        # autocommit: one statement is one transaction, no BEGIN/COMMIT round trips
        return retry_locked(lambda: _SqliteTx(self._sqlite_raw()).execute(sql, params), f"writing to {self.where}")

    def executemany(self, sql: Statement, rows: Sequence[Mapping[str, Any]]) -> None:
        """Many rows in one committed transaction (log_metric's hot path: no reads, a cached INSERT)."""
        if len(rows) == 1:
            self.execute(sql, rows[0])
        elif rows:
            self.transaction(lambda tx: tx.executemany(sql, rows))

    def query(self, sql: Statement, params: Params = None) -> list[dict[str, Any]]:
        """Rows of a read-only statement, as dicts (on the raw SQLite path, as sqlite3 returns them)."""
        if not self._fast:
            return self.read(lambda conn: _SqlAlchemyTx(conn).all(sql, params))
        return retry_locked(lambda: _SqliteTx(self._sqlite_raw()).all(sql, params), f"reading {self.where}")

    def read(self, fn: Callable[[Connection], T]) -> T:
        """fn(conn) over a SQLAlchemy connection, for Core reads that want SQLAlchemy's result types (bools,
        Row objects). Never for writes: those go through `transaction`."""

        def attempt() -> T:
            with self.engine.connect() as conn:
                return fn(conn)

        return retry_locked(attempt, f"reading {self.where}")

    def dispose(self) -> None:
        conn = getattr(self._raw, "conn", None)
        if conn is not None and self._raw.pid == os.getpid():
            conn.close()
            self._raw.conn = None
        if self._engine is not None:
            self._engine.dispose()


def _make_schema(conn: sqlite3.Connection, statements: list[str]) -> None:
    """The saved DDL of a store at HEAD, and its stamp, inside the caller's transaction."""
    for statement in statements:
        conn.execute(statement)
    conn.execute(f"INSERT INTO {VERSION_TABLE} (version_num) VALUES (?)", (HEAD,))


def _copy_template(schema: Path, statements: list[str], target: str) -> bool:
    """Make a new SQLite store by copying an empty database made once from `statements` (kept beside the
    saved schema, same fingerprint): ~0.3 ms instead of ~9 ms of DDL. The copy appears under its name at
    once (a hard link of a finished file), so a store made meanwhile by another process is never overwritten
    and nobody opens half a file. False when it could not be done (the DDL path then runs)."""
    template = schema.with_suffix(".db")
    try:
        if not template.is_file():
            building = template.with_name(f".{template.name}.{os.urandom(4).hex()}.tmp")
            conn = sqlite3.connect(building)
            try:
                conn.execute("PRAGMA journal_mode = WAL")  # stored in the file: new stores start in WAL
                with conn:
                    _make_schema(conn, statements)
            finally:
                conn.close()  # checkpoints: the template is one self-contained file
            os.replace(building, template)
        copy = f"{target}.{os.urandom(4).hex()}.tmp"
        with open(copy, "wb") as handle:
            handle.write(template.read_bytes())
        try:
            if not _stamped_head(copy):  # a damaged template (derived data): drop it, make a new one next time
                template.unlink(missing_ok=True)
                return False
            os.link(copy, target)
        except FileExistsError:
            pass  # another process made the store first: use theirs
        finally:
            os.unlink(copy)
    except (OSError, sqlite3.Error):
        return False
    return True


def _stamped_head(path: str) -> bool:
    conn = sqlite3.connect(path)
    try:
        return {row[0] for row in conn.execute(f"SELECT version_num FROM {VERSION_TABLE}")} == {HEAD}
    except sqlite3.DatabaseError:
        return False
    finally:
        conn.close()


# -- schema version -------------------------------------------------------------------------------------
def schema_cache_path() -> Path:
    """Where the DDL of a new SQLite store at head is kept (per user), named by a fingerprint of the migration
    scripts themselves: editing or adding a migration names a new file, so a stale schema is never used."""
    from nbmlops.digest import sha256_hex

    folder = LOCATION / "versions"
    parts = ["\n".join(REVISIONS).encode()]
    for name in sorted(n for n in os.listdir(folder) if n.endswith(".py")):  # (glob would compile a regex)
        parts.append(name.encode() + b"\0" + (folder / name).read_bytes())
    return user_cache_dir() / f"sqlite-schema-{HEAD}-{sha256_hex(b''.join(parts))[:16]}.json"


def stamped_revisions(conn: Connection) -> set[str] | None:
    """The revisions stamped in the version table; None when the database has never been set up."""
    import sqlalchemy as sa

    if not sa.inspect(conn).has_table(VERSION_TABLE):
        return None
    return {row[0] for row in conn.exec_driver_sql(f"SELECT version_num FROM {VERSION_TABLE}")}


def _check_known(revisions: set[str], url: Any) -> None:
    unknown = revisions - set(REVISIONS)
    if unknown:
        raise SchemaError(
            f"the database {url} has schema revision {', '.join(sorted(unknown))}, which this version of nbmlops "
            f"does not know (newest known: {HEAD}); it was written by a newer nbmlops: upgrade nbmlops "
            "(pip install -U nbmlops) to use it"
        )


def ensure_schema(engine: Engine) -> None:
    """Cheap when already at head (one query); upgrades an older database; refuses a newer one."""
    import sqlalchemy as sa

    url = engine.url.render_as_string(hide_password=True)
    with engine.connect() as conn:
        revisions = stamped_revisions(conn)
    if revisions == {HEAD}:
        return
    _check_known(revisions or set(), url)
    if revisions is None:
        with engine.connect() as conn:
            leftovers = set(sa.inspect(conn).get_table_names()) & {"runs", "metrics", "steps"}
        if leftovers:
            raise SchemaError(
                f"the database {url} already has tables {', '.join(sorted(leftovers))} but no "
                f"{VERSION_TABLE} table: it is not an nbmlops store (point NBMLOPS_DB_URL elsewhere)"
            )
    upgrade(engine, HEAD)


def upgrade(engine: Engine, revision: str = HEAD) -> None:
    """Run the Alembic migrations up to `revision`, one process at a time."""
    from alembic import command
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(LOCATION))

    def migrate() -> None:
        # The write transaction is the lock: SQLite's BEGIN IMMEDIATE, PostgreSQL's advisory lock. Whoever
        # gets it second finds the work done.
        with engine.connect().execution_options(nbmlops_write=True) as conn, conn.begin():
            if conn.dialect.name == "postgresql":
                conn.exec_driver_sql("SELECT pg_advisory_xact_lock(7310562209)")
            current = stamped_revisions(conn) or set()
            _check_known(current, engine.url.render_as_string(hide_password=True))
            if revision in current or (
                current and REVISIONS.index(max(current, key=REVISIONS.index)) >= REVISIONS.index(revision)
            ):
                return
            config.attributes["connection"] = conn
            command.upgrade(config, revision)

    retry_locked(migrate, "upgrading the database schema")
