"""The registry's persistence: every statement over its tables (registered_models, model_versions, model_aliases,
model_version_tags, model_alias_history; declared in nbmlops.registry.tables, built by migrations 0003_registry and
0009_model_alias_history).

Plain parameterised SQL (`:name`) built with the store's helpers (nbmlops.store.sql: insert, in lists, lineage
rows; Tx.upsert), so on a SQLite file it runs on sqlite3 alone: registering and loading a model never import
SQLAlchemy. Reads take a `Query` (store.db.query, or tx.all inside a write); writes take the `Tx` of the caller's
transaction. Column names come from the tuples below, never from callers. Semantics (which version a reference
names, what an error says) stay in nbmlops.registry.api.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from nbmlops.store import sql

if TYPE_CHECKING:
    from nbmlops.store.db import Query, Tx

MODEL_VERSION = "model_version"  # the lineage node kind of a version; its id is "name:version"
VERSION_COLUMNS = (
    "name",
    "version",
    "created_at",
    "run_id",
    "format",
    "model_type",
    "artifact_sha256",
    "artifact_size",
    "signature",
    "input_example",
    "metrics",
    "params",
    "data_sha256",
    "reference_sha256",
    "reference_format",
    "profile",
    "notebook_path",
    "notebook_sha256",
    "git_commit",
    "description",
)
LISTED_COLUMNS = tuple(c for c in VERSION_COLUMNS if c not in ("profile", "input_example"))

_INSERT_VERSION = sql.insert("model_versions", VERSION_COLUMNS)
_INSERT_TAG = sql.insert("model_version_tags", ("name", "version", "key", "value"))
_BUMP_VERSION = "UPDATE registered_models SET last_version = last_version + 1, updated_at = :now WHERE name = :name"
_LAST_VERSION = "SELECT last_version FROM registered_models WHERE name = :name"
_TOUCH_MODEL = "UPDATE registered_models SET updated_at = :now WHERE name = :name"
_MODEL = "SELECT name FROM registered_models WHERE name = :name"
_MODEL_NAMES = "SELECT name FROM registered_models ORDER BY name LIMIT :limit"
_ALIAS = "SELECT version FROM model_aliases WHERE name = :name AND alias = :alias"
_ALIASES = "SELECT alias, version FROM model_aliases WHERE name = :name ORDER BY alias"
_VERSION = "SELECT 1 AS found FROM model_versions WHERE name = :name AND version = :version"
_VERSIONS = "SELECT version FROM model_versions WHERE name = :name ORDER BY version"
_LATEST = "SELECT MAX(version) AS latest FROM model_versions WHERE name = :name"
_TAGS_OF = "SELECT name, version, key, value FROM model_version_tags WHERE name IN {names} ORDER BY key"
_ALIASES_OF = "SELECT name, alias, version FROM model_aliases WHERE name IN {names} ORDER BY alias"
_MODELS = (
    "SELECT m.name, m.created_at, m.updated_at, m.description, s.latest, s.n FROM registered_models m "
    "LEFT JOIN (SELECT name, MAX(version) AS latest, COUNT(*) AS n FROM model_versions GROUP BY name) s "
    "ON s.name = m.name ORDER BY m.name"
)
_ALL_ALIASES = "SELECT name, alias, version FROM model_aliases ORDER BY alias"
_DELETE_ALIAS = "DELETE FROM model_aliases WHERE name = :name AND alias = :alias"
_INSERT_ALIAS_MOVE = sql.insert(
    "model_alias_history", ("name", "alias", "version", "previous_version", "moved_by", "moved_at")
)
_ALIAS_HISTORY = (
    "SELECT name, alias, version, previous_version, moved_by, moved_at FROM model_alias_history "
    "WHERE name = :name ORDER BY id DESC LIMIT :limit"
)
_ALIASES_AT = "SELECT alias, version FROM model_aliases WHERE name = :name AND version = :version"
_DELETE_TAG = "DELETE FROM model_version_tags WHERE name = :name AND version = :version AND key = :key"
_CHUNK = 500  # values per IN (...) list: well under SQLite's bound-parameter limit


def _of(version: int | None) -> str:
    """The rows of a model (version None) or of one of its versions."""
    return "name = :name" + (" AND version = :version" if version is not None else "")


# -- reads ---------------------------------------------------------------------------------------------------
def model_exists(q: Query, name: str) -> bool:
    return bool(q(_MODEL, {"name": name}))


def model_names(q: Query, limit: int) -> list[str]:
    """The first `limit` model names, in order (for messages listing what exists)."""
    return [r["name"] for r in q(_MODEL_NAMES, {"limit": limit})]


def alias_target(q: Query, name: str, alias: str) -> int | None:
    """The version `name@alias` points at, or None."""
    found = q(_ALIAS, {"name": name, "alias": alias})
    return int(found[0]["version"]) if found else None


def aliases(q: Query, name: str) -> list[tuple[str, int]]:
    """(alias, version) of a model, by alias."""
    return [(r["alias"], int(r["version"])) for r in q(_ALIASES, {"name": name})]


def version_exists(q: Query, name: str, version: int) -> bool:
    return bool(q(_VERSION, {"name": name, "version": version}))


def version_numbers(q: Query, name: str) -> list[int]:
    return [int(r["version"]) for r in q(_VERSIONS, {"name": name})]


def latest_version(q: Query, name: str) -> int | None:
    latest = q(_LATEST, {"name": name})[0]["latest"]
    return None if latest is None else int(latest)


def version_row(q: Query, name: str, version: int, columns: Sequence[str]) -> dict[str, Any] | None:
    """The columns (of VERSION_COLUMNS) of one version, or None when it does not exist."""
    rows = q(
        f"SELECT {', '.join(_checked(columns))} FROM model_versions WHERE {_of(version)}",
        {"name": name, "version": version},
    )
    return rows[0] if rows else None


def version_rows(q: Query, name: str, columns: Sequence[str]) -> list[dict[str, Any]]:
    """The columns of every version of a model, newest first."""
    return q(
        f"SELECT {', '.join(_checked(columns))} FROM model_versions WHERE name = :name ORDER BY version DESC",
        {"name": name},
    )


def tags_and_aliases(q: Query, names: Sequence[str]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(tag rows: name, version, key, value by key; alias rows: name, alias, version by alias) of the models."""
    tags: list[dict[str, Any]] = []
    found: list[dict[str, Any]] = []
    for i in range(0, len(names), _CHUNK):
        chunk = list(names[i : i + _CHUNK])
        clause, params = sql.in_list("n", len(chunk)), sql.in_params("n", chunk)
        tags += q(_TAGS_OF.format(names=clause), params)
        found += q(_ALIASES_OF.format(names=clause), params)
    return tags, found


def models(q: Query) -> list[dict[str, Any]]:
    """Every model by name: name, created_at, updated_at, description, latest (version), n (versions)."""
    return q(_MODELS, {})


def all_aliases(q: Query) -> list[dict[str, Any]]:
    """name, alias, version of every alias, by alias."""
    return q(_ALL_ALIASES, {})


def alias_history(q: Query, name: str, limit: int) -> list[dict[str, Any]]:
    """The model's alias changes, newest first: name, alias, version (None: removed), previous_version (None:
    new), moved_by, moved_at."""
    return q(_ALIAS_HISTORY, {"name": name, "limit": limit})


def _checked(columns: Sequence[str]) -> Sequence[str]:
    unknown = set(columns) - set(VERSION_COLUMNS)
    if unknown:
        raise ValueError(f"model_versions has no column(s) {', '.join(sorted(unknown))}")
    return columns


# -- writes (inside the caller's transaction) ----------------------------------------------------------------------
def next_version(tx: Tx, name: str, now: float) -> int:
    """Make the model if it is new and take its next version number. The counter's UPDATE holds the model's row
    (PostgreSQL) / the database (SQLite) until commit, so concurrent registrations get distinct numbers."""
    tx.upsert(
        "registered_models",
        [{"name": name, "last_version": 0, "created_at": now, "updated_at": now}],
        ("name",),
        update=False,
    )
    tx.execute(_BUMP_VERSION, {"name": name, "now": now})
    return int(tx.first(_LAST_VERSION, {"name": name})[0])


def add_version(
    tx: Tx,
    values: Mapping[str, Any],
    tags: Mapping[str, str],
    alias_names: Sequence[str],
    edges: Sequence[Mapping[str, Any]],
    now: float,
    by: str | None = None,
) -> None:
    """The version row (every VERSION_COLUMNS value), its tags, the aliases moved to it (recorded in the alias
    history as moved by `by`) and its lineage edges."""
    name, version = values["name"], values["version"]
    tx.execute(_INSERT_VERSION, {c: values[c] for c in VERSION_COLUMNS})
    if tags:
        tx.executemany(_INSERT_TAG, [{"name": name, "version": version, "key": k, "value": v} for k, v in tags.items()])
    for alias in dict.fromkeys(alias_names):
        move_alias(tx, name, alias, version, now, by)
    if edges:
        tx.executemany(sql.INSERT_LINEAGE, edges)


def model_edge(
    model_id: str, to_kind: str, to_id: str, relation: str, name: str | None = None, step_name: str | None = None
) -> dict[str, Any]:
    """A lineage edge the version owns (no run_id: deleted with the version, not with its run)."""
    return sql.edge_row(MODEL_VERSION, model_id, to_kind, to_id, relation, name, None, step_name)


def move_alias(tx: Tx, name: str, alias: str, version: int, now: float, by: str | None = None) -> int | None:
    """Point name@alias at `version`, recorded in the alias history (by `by`, at `now`); returns the version it
    pointed at before, or None."""
    before = tx.first(_ALIAS, {"name": name, "alias": alias})
    previous = None if before is None else int(before[0])
    tx.upsert(
        "model_aliases", [{"name": name, "alias": alias, "version": version, "updated_at": now}], ("name", "alias")
    )
    tx.execute(_TOUCH_MODEL, {"name": name, "now": now})
    _record_move(tx, name, alias, version, previous, by, now)
    return previous


def _record_move(
    tx: Tx, name: str, alias: str, version: int | None, previous: int | None, by: str | None, now: float
) -> None:
    tx.execute(
        _INSERT_ALIAS_MOVE,
        {
            "name": name,
            "alias": alias,
            "version": version,
            "previous_version": previous,
            "moved_by": by,
            "moved_at": now,
        },
    )


def delete_alias(
    tx: Tx, name: str, alias: str, previous: int | None = None, by: str | None = None, now: float | None = None
) -> None:
    """Remove name@alias (it pointed at `previous`), recorded in the alias history."""
    tx.execute(_DELETE_ALIAS, {"name": name, "alias": alias})
    _record_move(tx, name, alias, None, previous, by, now if now is not None else time.time())


def set_tag(tx: Tx, name: str, version: int, key: str, value: str) -> None:
    tx.upsert(
        "model_version_tags",
        [{"name": name, "version": version, "key": key, "value": value}],
        ("name", "version", "key"),
    )


def delete_tag(tx: Tx, name: str, version: int, key: str) -> bool:
    """Remove a tag; False when the version had no such tag."""
    return tx.execute(_DELETE_TAG, {"name": name, "version": version, "key": key}) > 0


def delete_versions(tx: Tx, name: str, version: int | None, now: float) -> tuple[list[int], set[str]]:
    """Delete one version (or, version None, the whole model): its rows, tags, the aliases pointing at it and the
    lineage edges it owns. Returns (the version numbers deleted, the hashes of the blobs they named)."""
    params = {"name": name, "version": version}
    doomed = tx.all(
        f"SELECT version, artifact_sha256, reference_sha256 FROM model_versions WHERE {_of(version)}", params
    )
    numbers = sorted(int(r["version"]) for r in doomed)
    shas = {s for r in doomed for s in (r["artifact_sha256"], r["reference_sha256"]) if s}
    ids = [f"{name}:{n}" for n in numbers]
    if version is not None:  # the aliases that go with the version: their removal is part of the history
        for row in tx.all(_ALIASES_AT, params):
            _record_move(tx, name, row["alias"], None, int(row["version"]), None, now)
    for i in range(0, len(ids), _CHUNK):
        chunk = ids[i : i + _CHUNK]
        tx.execute(
            sql.DELETE_EDGES_FROM.format(ids=sql.in_list("i", len(chunk))),
            {"from_kind": MODEL_VERSION, **sql.in_params("i", chunk)},
        )
    for table in ("model_version_tags", "model_aliases", "model_versions"):
        tx.execute(f"DELETE FROM {table} WHERE {_of(version)}", params)
    if version is None:
        tx.execute("DELETE FROM model_alias_history WHERE name = :name", params)
        tx.execute("DELETE FROM registered_models WHERE name = :name", params)
    else:
        tx.execute(_TOUCH_MODEL, {"name": name, "now": now})
    return numbers, shas
