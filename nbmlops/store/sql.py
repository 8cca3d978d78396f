"""The store's SQL, reads and writes, as plain parameterised statements written once, and the helpers other
packages build theirs with (insert, upsert, IN lists, lineage rows).

`:name` parameters read the same to sqlite3 (the raw SQLite path) and to SQLAlchemy's `text()` (PostgreSQL and
everything else), so both paths run these very strings. `ON CONFLICT` is SQLite (>= 3.24) and PostgreSQL syntax;
on other databases Tx.upsert looks each row up first. Table and column names come from fixed tuples in code,
never from user input. Must match models.py (the Alembic head).
"""

from __future__ import annotations

import time
from functools import cache
from typing import Any

from nbmlops.status import RUN_STATUSES, StepStatus

# the statuses a step row in the database may hold (a cached step is a succeeded row with its source)
STEP_STATUSES = (StepStatus.PENDING, *RUN_STATUSES, StepStatus.SKIPPED)
RUN_COLUMNS = (
    "id",
    "name",
    "kind",
    "pipeline",
    "status",
    "notebook_path",
    "notebook_sha256",
    "git_commit",
    "git_dirty",
    "backend",
    "started_at",
    "ended_at",
    "duration",
    "heartbeat_at",
    "pid",
    "host",
    "python_version",
    "nbmlops_version",
    "packages",
    "parent_run_id",
    "resumed_from",
    "error",
    "trigger",
)
STEP_COLUMNS = (
    "run_id",
    "name",
    "status",
    "started_at",
    "ended_at",
    "duration",
    "cache_hit",
    "cache_key",
    "attempts",
    "inputs",
    "outputs",
    "stdout_path",
    "stderr_path",
    "error",
    "reused_from_run",
    "reused_from_step",
)
METRIC_COLUMNS = ("run_id", "step_name", "key", "value", "step", "timestamp")
LINEAGE_COLUMNS = ("from_kind", "from_id", "to_kind", "to_id", "relation", "name", "run_id", "step_name", "created_at")
ARTIFACT_COLUMNS = ("run_id", "step_name", "name", "sha256", "size", "path", "created_at")


def _q(column: str) -> str:
    # "timestamp" is a type name in PostgreSQL; quoting a lowercase name is a no-op for both databases
    return f'"{column}"' if column == "timestamp" else column


def insert(table: str, columns: tuple[str, ...] | list[str]) -> str:
    return f"INSERT INTO {table} ({', '.join(_q(c) for c in columns)}) VALUES ({', '.join(':' + c for c in columns)})"


@cache
def upsert(
    table: str, columns: tuple[str, ...], keys: tuple[str, ...], dialect: str, update: bool = True
) -> str | None:
    """The statement that inserts a row or, when one with the same keys exists, overwrites it (update) or keeps
    it (not update); None where the database has no ON CONFLICT (Tx.upsert then looks the row up first)."""
    if dialect not in ("sqlite", "postgresql"):
        return None
    updates = ", ".join(f"{_q(c)} = excluded.{_q(c)}" for c in columns if c not in keys)
    action = f"DO UPDATE SET {updates}" if update and updates else "DO NOTHING"
    return f"{insert(table, columns)} ON CONFLICT ({', '.join(_q(k) for k in keys)}) {action}"


def _match(keys: tuple[str, ...]) -> str:
    return " AND ".join(f"{_q(k)} = :{k}" for k in keys)


@cache
def select_keys(table: str, keys: tuple[str, ...]) -> str:
    """`SELECT 1 FROM table WHERE key = :key AND ...`: is there a row with these keys?"""
    return f"SELECT 1 FROM {table} WHERE {_match(keys)}"


@cache
def update_row(table: str, columns: tuple[str, ...], keys: tuple[str, ...]) -> str:
    """`UPDATE table SET column = :column ... WHERE key = :key ...` (every column that is not a key)."""
    sets = ", ".join(f"{_q(c)} = :{c}" for c in columns if c not in keys)
    return f"UPDATE {table} SET {sets} WHERE {_match(keys)}"


INSERT_RUN = insert("runs", [c for c in RUN_COLUMNS if c not in ("ended_at", "duration", "error", "trigger")])
# what started a scheduled run (JSON), written by the scheduler's worker once the run exists
SET_TRIGGER = "UPDATE runs SET trigger = :trigger WHERE id = :id"
HEARTBEAT = "UPDATE runs SET heartbeat_at = :now WHERE id = :id"
SET_GIT_DIRTY = "UPDATE runs SET git_dirty = :dirty WHERE id = :id"
MARK_COMMIT_DIRTY = "UPDATE lineage SET name = :name WHERE from_kind = 'run' AND from_id = :id AND relation = 'commit'"
FINISH_RUN = (
    "UPDATE runs SET status = :status, ended_at = :ended, heartbeat_at = :ended, error = :error, "
    "duration = :ended - started_at WHERE id = :id"
)
INSERT_METRIC = insert("metrics", METRIC_COLUMNS)
INSERT_LINEAGE = insert("lineage", LINEAGE_COLUMNS)
# the edges a node owns (a model version's, a drift result's): {ids} is an in_list or a subquery of ids
DELETE_EDGES_FROM = "DELETE FROM lineage WHERE from_kind = :from_kind AND from_id IN {ids}"
INSERT_ARTIFACT = insert("artifacts", ARTIFACT_COLUMNS)
STEP_STARTED_AT = "SELECT started_at FROM steps WHERE run_id = :run_id AND name = :name"
SELECT_STEPS = f"SELECT {', '.join(STEP_COLUMNS)} FROM steps WHERE run_id = :run_id ORDER BY id"


@cache
def in_list(prefix: str, n: int) -> str:
    """`(:prefix0, :prefix1, ...)`: an IN list of n bound parameters (never empty: PostgreSQL refuses `IN ()`)."""
    if n < 1:
        raise ValueError("in_list: an IN list needs at least one value")
    return "(" + ", ".join(f":{prefix}{i}" for i in range(n)) + ")"


def in_params(prefix: str, values: list[Any] | tuple[Any, ...]) -> dict[str, Any]:
    return {f"{prefix}{i}": value for i, value in enumerate(values)}


def edge_row(
    from_kind: str,
    from_id: str,
    to_kind: str,
    to_id: str,
    relation: str,
    name: str | None = None,
    run_id: str | None = None,
    step_name: str | None = None,
) -> dict[str, Any]:
    """A lineage row for INSERT_LINEAGE. `run_id` is the run that owns the edge (deleted with it): None for edges
    a registry or monitoring node owns, which its owner deletes."""
    return {
        "from_kind": from_kind,
        "from_id": from_id,
        "to_kind": to_kind,
        "to_id": to_id,
        "relation": relation,
        "name": name,
        "run_id": run_id,
        "step_name": step_name,
        "created_at": time.time(),
    }


# -- reads ------------------------------------------------------------------------------------------------
# (the run search itself is built by query.select_runs from these same columns)
SELECT_RUN_PARAMS = "SELECT run_id, key, value, step_name FROM params WHERE run_id IN {ids}"
SELECT_RUN_TAGS = "SELECT run_id, key, value, step_name FROM tags WHERE run_id IN {ids}"
SELECT_REUSED_STEPS = (
    "SELECT run_id, name, reused_from_run, reused_from_step FROM steps "
    "WHERE run_id IN {ids} AND reused_from_run IS NOT NULL"
)
# The latest value of each key of each run (the highest row id per (run_id, key)), by seeks of the index on
# (run_id, key, id) alone: k walks each run's keys in order (a loose index scan: next key = the first one above the
# last), then one seek per key finds its last row (its value, and the step that logged it: a reused step marks it
# reused). Its cost is runs x keys, however long the histories: a GROUP BY MAX(id) reads every logged point of the
# listed runs (0.5 s for 200 runs of 10,000 steps, against 0.01 s).
SELECT_LATEST_METRICS = (
    "WITH RECURSIVE k(run_id, key) AS ("
    "SELECT runs.id, (SELECT m.key FROM metrics m WHERE m.run_id = runs.id ORDER BY m.key LIMIT 1) "
    "FROM runs WHERE runs.id IN {ids} "
    "UNION ALL "
    "SELECT k.run_id, (SELECT m.key FROM metrics m WHERE m.run_id = k.run_id AND m.key > k.key "
    "ORDER BY m.key LIMIT 1) FROM k WHERE k.key IS NOT NULL) "
    "SELECT k.run_id, k.key, last.value, last.step_name FROM k JOIN metrics last ON last.id = "
    "(SELECT m.id FROM metrics m WHERE m.run_id = k.run_id AND m.key = k.key ORDER BY m.id DESC LIMIT 1) "
    "WHERE k.key IS NOT NULL"
)
SELECT_RUNNING = "SELECT id, host, pid, heartbeat_at, started_at FROM runs WHERE status = 'running'"
MARK_RUN_FAILED = (
    "UPDATE runs SET status = 'failed', error = :error, ended_at = :ended, "
    "duration = :ended - started_at WHERE id = :id AND status = 'running'"
)
MARK_STEPS_FAILED = (
    "UPDATE steps SET status = 'failed', error = :error, ended_at = :ended "
    "WHERE run_id = :id AND status IN ('running', 'pending')"
)
_METRIC_POINTS = f"SELECT key, value, step, {_q('timestamp')}, step_name FROM metrics WHERE run_id = :run_id"
SELECT_METRIC_HISTORY = f"{_METRIC_POINTS} ORDER BY id"
SELECT_KEY_HISTORY = f"{_METRIC_POINTS} AND key = :key ORDER BY id"
SELECT_ARTIFACTS = f"SELECT {', '.join(ARTIFACT_COLUMNS)} FROM artifacts WHERE run_id = :run_id ORDER BY id"
_LINEAGE_OUT = "(from_kind = :kind AND from_id = :id)"
_LINEAGE_IN = "(to_kind = :kind AND to_id = :id)"
SELECT_EDGES = {
    direction: f"SELECT {', '.join(LINEAGE_COLUMNS)} FROM lineage WHERE {clause} ORDER BY id"
    for direction, clause in (("out", _LINEAGE_OUT), ("in", _LINEAGE_IN), ("both", f"{_LINEAGE_OUT} OR {_LINEAGE_IN}"))
}

# -- reuse_step: a cached step's records copied from the step execution that logged them ----------------------
SELECT_REUSABLE_STEP = (
    "SELECT reused_from_run, reused_from_step FROM steps WHERE run_id = :run_id AND name = :name "
    "AND status = 'succeeded'"
)
_OF_STEP = "WHERE run_id = :run_id AND step_name = :step_name"
_OF_SOURCE = "WHERE run_id = :source_run AND step_name = :source_step"
DELETE_STEP_RECORDS = {table: f"DELETE FROM {table} {_OF_STEP}" for table in ("metrics", "params", "tags", "artifacts")}
DELETE_STEP_ARTIFACT_EDGES = (
    "DELETE FROM lineage WHERE run_id = :run_id AND step_name = :step_name AND to_kind = 'artifact'"
)
# in id order: the copy's history reads as the original's; values, steps and timestamps as they were logged
COPY_METRICS = (
    f"INSERT INTO metrics ({', '.join(_q(c) for c in METRIC_COLUMNS)}) "
    f"SELECT :run_id, :step_name, key, value, step, {_q('timestamp')} FROM metrics {_OF_SOURCE} "
    "ORDER BY id"
)
SELECT_SOURCE_PARAMS = f"SELECT key, value, value_num FROM params {_OF_SOURCE}"
SELECT_SOURCE_TAGS = f"SELECT key, value FROM tags {_OF_SOURCE}"
SELECT_SOURCE_ARTIFACTS = f"SELECT name, sha256, size, path, created_at FROM artifacts {_OF_SOURCE} ORDER BY id"

# -- delete_run ---------------------------------------------------------------------------------------------
SELECT_CHILD_RUNS = "SELECT id FROM runs WHERE parent_run_id IN {ids}"
SELECT_RUN_BLOBS = "SELECT sha256 FROM artifacts WHERE run_id IN {ids}"
DELETE_OWNED = {
    table: f"DELETE FROM {table} WHERE run_id IN {{ids}}"
    for table in ("metrics", "params", "tags", "steps", "artifacts", "lineage")
}
DELETE_RUN_EDGES = (
    "DELETE FROM lineage WHERE (from_kind = 'run' AND from_id IN {ids}) OR (to_kind = 'run' AND to_id IN {ids})"
)
DELETE_RUNS = "DELETE FROM runs WHERE id IN {ids}"
