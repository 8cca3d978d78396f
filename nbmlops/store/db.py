"""The metadata database: engine set-up, the schema check/upgrade on open, and the retrying write helper."""

from __future__ import annotations

import os
import random
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine

from nbmlops.errors import NbmlopsError
from nbmlops.store.migrations import HEAD, LOCATION, REVISIONS, VERSION_TABLE

T = TypeVar("T")

SQLITE_BUSY_TIMEOUT_S = 30.0
# After the busy timeout, a write is retried for this long before the user hears about it.
WRITE_RETRY_S = 300.0
_LOCKED_MARKERS = ("database is locked", "database is busy", "database table is locked")


class SchemaError(NbmlopsError):
    """A database whose schema this version of nbmlops can't use (newer, or not nbmlops's)."""


class StoreBusyError(NbmlopsError):
    """The database stayed locked by other writers for longer than nbmlops is willing to wait."""


def _is_locked(exc: BaseException) -> bool:
    return any(marker in str(getattr(exc, "orig", exc)).lower() for marker in _LOCKED_MARKERS)


def _sqlite_connect(dbapi_connection: Any, _record: Any) -> None:
    # Transactions are begun by us (see _sqlite_begin), not by the sqlite3 module, so writes can BEGIN IMMEDIATE.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute(f"PRAGMA busy_timeout = {int(SQLITE_BUSY_TIMEOUT_S * 1000)}")
        mode = cursor.execute("PRAGMA journal_mode").fetchone()[0]
        if str(mode).lower() not in ("wal", "memory"):
            _retry_locked(lambda: cursor.execute("PRAGMA journal_mode = WAL"), "switching to WAL mode")
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
    parsed = sa.engine.make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return sa.create_engine(url, pool_pre_ping=True)
    if parsed.database and parsed.database != ":memory:" and not parsed.database.startswith("file:"):
        Path(parsed.database).expanduser().parent.mkdir(parents=True, exist_ok=True)
    engine = sa.create_engine(url, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_S, "check_same_thread": False})
    event.listen(engine, "connect", _sqlite_connect)
    event.listen(engine, "begin", _sqlite_begin)
    return engine


def _retry_locked(action: Callable[[], T], what: str, deadline_s: float = WRITE_RETRY_S) -> T:
    """Run `action`, retrying while SQLite says it is locked, with jittered backoff, up to a deadline."""
    give_up = time.monotonic() + deadline_s
    delay = 0.005
    while True:
        try:
            return action()
        except Exception as exc:  # SQLAlchemy's OperationalError, or sqlite3's own during connect
            if not _is_locked(exc) or time.monotonic() > give_up:
                if _is_locked(exc):
                    raise StoreBusyError(f"{what}: the database stayed locked for over {deadline_s:.0f} s "
                                         "(another process holds a long write transaction)") from exc
                raise
        time.sleep(delay * (0.5 + random.random()))
        delay = min(delay * 2, 0.5)


class Database:
    """One metadata database. `write` runs a function in a committed transaction, retrying on lock contention."""

    def __init__(self, url: str, *, upgrade: bool = True) -> None:
        self.url = url
        self.engine = make_engine(url)
        self.dialect = self.engine.dialect.name
        self._raw = threading.local()
        database = self.engine.url.database or ""
        # the raw fast path needs a file every connection sees (an in-memory DB is private to one connection)
        self._fast = self.dialect == "sqlite" and database not in ("", ":memory:") and "mode=memory" not in database
        if upgrade:
            ensure_schema(self.engine)

    def insert_rows(self, table: sa.Table, rows: list[dict[str, Any]]) -> None:
        """Insert rows in one committed transaction. On SQLite this bypasses SQLAlchemy (a plain sqlite3
        connection per thread, a cached INSERT): the log_metric hot path, ~5x cheaper than a Core execute."""
        if not self._fast or not rows:
            self.write(lambda conn: conn.execute(table.insert(), rows))
            return
        columns = list(rows[0])
        sql = f"INSERT INTO {table.name} ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})"
        params = [tuple(row[c] for c in columns) for row in rows]
        conn = self._sqlite_raw()

        def attempt() -> None:
            if len(params) == 1:
                conn.execute(sql, params[0])  # autocommit: one statement is one transaction
                return
            conn.execute("BEGIN IMMEDIATE")
            try:
                conn.executemany(sql, params)
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise

        _retry_locked(attempt, f"writing to {self.engine.url.render_as_string(hide_password=True)}")

    def _sqlite_raw(self) -> Any:
        # per thread and per process: sqlite3 connections must not cross a fork
        conn = getattr(self._raw, "conn", None)
        if conn is None or self._raw.pid != os.getpid():
            args, kwargs = self.engine.dialect.create_connect_args(self.engine.url)
            conn = self.engine.dialect.loaded_dbapi.connect(*args, **kwargs)
            _sqlite_connect(conn, None)
            self._raw.conn, self._raw.pid = conn, os.getpid()
        return conn

    def write(self, fn: Callable[[Connection], T]) -> T:
        def attempt() -> T:
            with self.engine.connect().execution_options(nbmlops_write=True) as conn, conn.begin():
                return fn(conn)

        return _retry_locked(attempt, f"writing to {self.engine.url.render_as_string(hide_password=True)}")

    def read(self, fn: Callable[[Connection], T]) -> T:
        def attempt() -> T:
            with self.engine.connect() as conn:
                return fn(conn)

        return _retry_locked(attempt, f"reading {self.engine.url.render_as_string(hide_password=True)}")

    def dispose(self) -> None:
        conn = getattr(self._raw, "conn", None)
        if conn is not None and self._raw.pid == os.getpid():
            conn.close()
            self._raw.conn = None
        self.engine.dispose()


# -- schema version -------------------------------------------------------------------------------------
def stamped_revisions(conn: Connection) -> set[str] | None:
    """The revisions stamped in the version table; None when the database has never been set up."""
    if not sa.inspect(conn).has_table(VERSION_TABLE):
        return None
    return {row[0] for row in conn.exec_driver_sql(f"SELECT version_num FROM {VERSION_TABLE}")}


def _check_known(revisions: set[str], url: Any) -> None:
    unknown = revisions - set(REVISIONS)
    if unknown:
        raise SchemaError(
            f"the database {url} has schema revision {', '.join(sorted(unknown))}, which this version of nbmlops "
            f"does not know (newest known: {HEAD}); it was written by a newer nbmlops: upgrade nbmlops "
            "(pip install -U nbmlops) to use it")


def ensure_schema(engine: Engine) -> None:
    """Cheap when already at head (one query); upgrades an older database; refuses a newer one."""
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
            raise SchemaError(f"the database {url} already has tables {', '.join(sorted(leftovers))} but no "
                              f"{VERSION_TABLE} table: it is not an nbmlops store (point NBMLOPS_DB_URL elsewhere)")
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
            if revision in current or (current and REVISIONS.index(max(current, key=REVISIONS.index))
                                       >= REVISIONS.index(revision)):
                return
            config.attributes["connection"] = conn
            command.upgrade(config, revision)

    _retry_locked(migrate, "upgrading the database schema")
