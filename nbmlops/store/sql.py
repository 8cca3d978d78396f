"""The store's writes (and its simple reads) as plain parameterised SQL, written once.

`:name` parameters read the same to sqlite3 (the raw SQLite path) and to SQLAlchemy's `text()` (PostgreSQL and
everything else), so both paths run these very strings. `ON CONFLICT ... DO UPDATE` is SQLite (>= 3.24) and
PostgreSQL syntax; other databases get delete-then-insert. Column names come from the fixed tuples below, never
from callers. Must match models.py (the Alembic head).
"""

from __future__ import annotations

from functools import cache

RUN_STATUSES = ("running", "succeeded", "failed", "interrupted")
STEP_STATUSES = ("pending", "running", "succeeded", "failed", "interrupted", "skipped")
RUN_COLUMNS = ("id", "name", "kind", "pipeline", "status", "notebook_path", "notebook_sha256", "git_commit",
               "git_dirty", "backend", "started_at", "ended_at", "duration", "heartbeat_at", "pid", "host",
               "python_version", "nbmlops_version", "packages", "parent_run_id", "resumed_from", "error")
STEP_COLUMNS = ("run_id", "name", "status", "started_at", "ended_at", "duration", "cache_hit", "cache_key",
                "attempts", "inputs", "outputs", "stdout_path", "stderr_path", "error")
METRIC_COLUMNS = ("run_id", "step_name", "key", "value", "step", "timestamp")
LINEAGE_COLUMNS = ("from_kind", "from_id", "to_kind", "to_id", "relation", "name", "run_id", "step_name",
                   "created_at")
ARTIFACT_COLUMNS = ("run_id", "step_name", "name", "sha256", "size", "path", "created_at")


def _q(column: str) -> str:
    # "timestamp" is a type name in PostgreSQL; quoting a lowercase name is a no-op for both databases
    return f'"{column}"' if column == "timestamp" else column


def insert(table: str, columns: tuple[str, ...] | list[str]) -> str:
    return (f"INSERT INTO {table} ({', '.join(_q(c) for c in columns)}) "
            f"VALUES ({', '.join(':' + c for c in columns)})")


@cache
def upsert(table: str, columns: tuple[str, ...], keys: tuple[str, ...], dialect: str) -> tuple[str, ...]:
    """Statements that insert a row or overwrite the one with the same keys (run in order, in one transaction)."""
    if dialect in ("sqlite", "postgresql"):
        updates = ", ".join(f"{_q(c)} = excluded.{_q(c)}" for c in columns if c not in keys)
        return (f"{insert(table, columns)} ON CONFLICT ({', '.join(keys)}) DO UPDATE SET {updates}",)
    match = " AND ".join(f"{_q(k)} = :{k}" for k in keys)
    return f"DELETE FROM {table} WHERE {match}", insert(table, columns)


@cache
def update_step(columns: tuple[str, ...]) -> str:
    sets = ", ".join(f"{c} = :{c}" for c in columns)
    return f"UPDATE steps SET {sets} WHERE run_id = :run_id AND name = :name"


INSERT_RUN = insert("runs", [c for c in RUN_COLUMNS if c not in ("ended_at", "duration", "error")])
HEARTBEAT = "UPDATE runs SET heartbeat_at = :now WHERE id = :id"
FINISH_RUN = ("UPDATE runs SET status = :status, ended_at = :ended, heartbeat_at = :ended, error = :error, "
              "duration = :ended - started_at WHERE id = :id")
INSERT_METRIC = insert("metrics", METRIC_COLUMNS)
INSERT_LINEAGE = insert("lineage", LINEAGE_COLUMNS)
INSERT_ARTIFACT = insert("artifacts", ARTIFACT_COLUMNS)
STEP_STARTED_AT = "SELECT started_at FROM steps WHERE run_id = :run_id AND name = :name"
SELECT_STEPS = f"SELECT {', '.join(STEP_COLUMNS)} FROM steps WHERE run_id = :run_id ORDER BY id"
