"""The registry verbs. Every write is one transaction of the store's database (Database.transaction); model
bytes and reference data go to the content-addressed artifact store first, so a row never names a missing blob.

The SQL is plain and parameterised (`:name`), as in nbmlops.store.sql: on a SQLite file it runs on sqlite3 alone,
so registering and loading a model never import SQLAlchemy; PostgreSQL runs the same strings through SQLAlchemy.
The tables are declared in nbmlops.registry.tables (migration 0003_registry).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nbmlops.registry import data as datamod
from nbmlops.registry import serialize
from nbmlops.registry.errors import ModelIntegrityError, RegistryError
from nbmlops.registry.records import ModelVersion, RegisteredModel
from nbmlops.registry.uri import LATEST, ModelRef, check_alias, check_name, parse_uri, parse_version

if TYPE_CHECKING:
    from nbmlops.store import Store
    from nbmlops.store.db import Tx
    from nbmlops.tracking import ActiveRun

MODEL_VERSION = "model_version"  # the lineage node kind of a version; its id is "name:version"
_LIST_LIMIT = 10  # names shown in "unknown ..." messages
VERSION_COLUMNS = ("name", "version", "created_at", "run_id", "format", "model_type", "artifact_sha256",
                   "artifact_size", "signature", "input_example", "metrics", "params", "data_sha256",
                   "reference_sha256", "reference_format", "profile", "notebook_path", "notebook_sha256", "git_commit",
                   "description")
_LISTED_COLUMNS = tuple(c for c in VERSION_COLUMNS if c not in ("profile", "input_example"))
LINEAGE_COLUMNS = ("from_kind", "from_id", "to_kind", "to_id", "relation", "name", "run_id", "step_name",
                   "created_at")

Query = Callable[[str, Mapping[str, Any]], list[dict[str, Any]]]


def _json(value: Any) -> str:
    return json.dumps(value, default=str)  # key order kept: profile columns stay in the data's order


def _store(store: Store | None, home: str | Path | None) -> Store:
    if store is not None:
        return store
    from nbmlops.tracking import get_store

    return get_store(home)


def _where(store: Store) -> str:
    return store.db.where


def _insert(table: str, columns: Sequence[str]) -> str:
    return f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join(':' + c for c in columns)})"


def _in(prefix: str, values: Sequence[Any]) -> tuple[str, dict[str, Any]]:
    """`(:p0, :p1, ...)` and its parameters; `(NULL)` (matching nothing) for no values."""
    names = [f"{prefix}{i}" for i in range(len(values))]
    return "(" + (", ".join(":" + n for n in names) or "NULL") + ")", dict(zip(names, values, strict=True))


def _upsert(tx: Tx, table: str, row: Mapping[str, Any], keys: Sequence[str], *, update: bool = True) -> None:
    """Insert a row, or update (update=True) / keep (update=False) the one with the same keys."""
    columns = list(row)
    if tx.dialect in ("sqlite", "postgresql"):
        sets = ", ".join(f"{c} = excluded.{c}" for c in columns if c not in keys)
        action = f"DO UPDATE SET {sets}" if update else "DO NOTHING"
        tx.execute(f"{_insert(table, columns)} ON CONFLICT ({', '.join(keys)}) {action}", row)
        return
    match = " AND ".join(f"{k} = :{k}" for k in keys)
    if tx.first(f"SELECT 1 FROM {table} WHERE {match}", row) is None:
        tx.execute(_insert(table, columns), row)
    elif update:
        sets = ", ".join(f"{c} = :{c}" for c in columns if c not in keys)
        tx.execute(f"UPDATE {table} SET {sets} WHERE {match}", row)


def _edge(to_kind: str, to_id: str, relation: str, model_id: str, name: str | None = None,
          step_name: str | None = None) -> dict[str, Any]:
    # run_id stays NULL: the edge belongs to the model version (deleted with it), not to the run
    return {"from_kind": MODEL_VERSION, "from_id": model_id, "to_kind": to_kind, "to_id": to_id,
            "relation": relation, "name": name, "run_id": None, "step_name": step_name, "created_at": time.time()}


def _run_record(tx: Tx, run_id: str, store: Store) -> dict[str, Any]:
    """What a version takes from its run: notebook, commit, params and each metric's latest value."""
    found = tx.all("SELECT notebook_path, notebook_sha256, git_commit FROM runs WHERE id = :id", {"id": run_id})
    if not found:
        raise RegistryError(f"run= names no run '{run_id}' in {_where(store)}")
    record = dict(found[0])
    record["params"] = {r["key"]: json.loads(r["value"]) if r["value"] is not None else None
                        for r in tx.all("SELECT key, value FROM params WHERE run_id = :id", {"id": run_id})}
    latest = tx.all("SELECT key, value FROM metrics WHERE id IN "
                    "(SELECT MAX(id) FROM metrics WHERE run_id = :id GROUP BY key)", {"id": run_id})
    record["metrics"] = {r["key"]: float("nan") if r["value"] is None else r["value"] for r in latest}
    return record


# -- registering --------------------------------------------------------------------------------------------
def _resolve_run(run: str | ActiveRun | None) -> tuple[str | None, str | None, Store | None]:
    """(run id, step name, the run's store) of `run`, or of the active run when None."""
    if run is None:
        from nbmlops.tracking import active_run

        run = active_run()
        if run is None:
            return None, None, None
    if isinstance(run, str):
        return run, None, None
    run_id = getattr(run, "id", None)
    if not isinstance(run_id, str):
        raise RegistryError(f"run= takes a run id or an ActiveRun, not {type(run).__qualname__}")
    return run_id, getattr(run, "step", None), getattr(run, "store", None)


def register_model(model: Any, name: str, *, run: str | ActiveRun | None = None,
                   metrics: Mapping[str, float] | None = None, params: Mapping[str, Any] | None = None,
                   input_example: Any = None, reference_data: Any = None, tags: Mapping[str, Any] | None = None,
                   aliases: Iterable[str] = (), description: str | None = None, store: Store | None = None,
                   home: str | Path | None = None) -> ModelVersion:
    """Register `model` as the next version of `name` and return it.

    run: a run id or ActiveRun; by default the active run (inside `start_run` or a pipeline step), if any. Its
    params and latest metrics are the version's, overridden by `params`/`metrics`; its notebook sha256 and git
    commit are recorded. input_example (DataFrame, Series, ndarray, records) gives the signature and a few example
    rows. reference_data (the training data) is stored and profiled for drift monitoring; its hash (else the input
    example's) is the version's data hash. Lineage: model_version → run, notebook, commit, data value, artifact."""
    check_name(name)
    alias_list = [check_alias(a) for a in ([aliases] if isinstance(aliases, str) else aliases)]
    for alias in alias_list:
        _not_latest(alias)
    run_id, step_name, run_store = _resolve_run(run)
    store = _store(store or run_store, home)
    explicit_metrics = {str(k): float(v) for k, v in (metrics or {}).items()}
    explicit_params = {str(k): v for k, v in (params or {}).items()}

    payload, fmt = serialize.dumps(model)
    blob = store.artifacts.put_bytes(payload)

    example = datamod.as_data(input_example, "input_example") if input_example is not None else None
    reference = datamod.as_data(reference_data, "reference_data") if reference_data is not None else None
    data_sha = reference_sha = reference_fmt = profile = None
    if reference is not None:
        ref_bytes, reference_fmt = datamod.data_bytes(reference)
        reference_sha = data_sha = store.artifacts.put_bytes(ref_bytes).sha256
        profile = datamod.profile(reference)
    elif example is not None:
        data_sha = datamod.sha256(datamod.data_bytes(example)[0])

    now = time.time()
    row: dict[str, Any] = {
        "name": name, "created_at": now, "run_id": run_id, "format": fmt, "model_type": serialize.type_name(model),
        "artifact_sha256": blob.sha256, "artifact_size": blob.size,
        "signature": _json(datamod.signature(example)) if example is not None else None,
        "input_example": _json(datamod.example_rows(example)) if example is not None else None,
        "data_sha256": data_sha, "reference_sha256": reference_sha, "reference_format": reference_fmt,
        "profile": _json(profile) if profile is not None else None, "description": description,
    }
    tag_values = {str(k): str(v) for k, v in (tags or {}).items()}

    def write(tx: Tx) -> tuple[int, dict[str, Any]]:
        record = _run_record(tx, run_id, store) if run_id else {"params": {}, "metrics": {}}
        values = {**row, "metrics": _json({**record["metrics"], **explicit_metrics}),
                  "params": _json({**record["params"], **explicit_params}),
                  "notebook_path": record.get("notebook_path"), "notebook_sha256": record.get("notebook_sha256"),
                  "git_commit": record.get("git_commit")}
        _upsert(tx, "registered_models", {"name": name, "last_version": 0, "created_at": now, "updated_at": now},
                ["name"], update=False)
        # The counter: this UPDATE holds the model's row (PostgreSQL) / the database (SQLite) until commit.
        tx.execute("UPDATE registered_models SET last_version = last_version + 1, updated_at = :now "
                   "WHERE name = :name", {"name": name, "now": now})
        version = int(tx.first("SELECT last_version FROM registered_models WHERE name = :name", {"name": name})[0])
        values["version"] = version
        tx.execute(_insert("model_versions", VERSION_COLUMNS), values)
        for key, value in tag_values.items():
            tx.execute(_insert("model_version_tags", ("name", "version", "key", "value")),
                       {"name": name, "version": version, "key": key, "value": value})
        for alias in alias_list:
            _upsert(tx, "model_aliases", {"name": name, "alias": alias, "version": version, "updated_at": now},
                    ["name", "alias"])
        model_id = f"{name}:{version}"
        edges = [_edge("artifact", blob.sha256, "artifact", model_id, f"model.{fmt}")]
        if run_id:
            edges.append(_edge("run", run_id, "run", model_id, step_name=step_name))
        if values["notebook_sha256"]:
            edges.append(_edge("notebook", values["notebook_sha256"], "code", model_id, values["notebook_path"]))
        if values["git_commit"]:
            edges.append(_edge("commit", values["git_commit"], "commit", model_id))
        if data_sha:
            edges.append(_edge("value", data_sha, "data", model_id,
                               "reference_data" if reference is not None else "input_example"))
        tx.executemany(_insert("lineage", LINEAGE_COLUMNS), edges)
        return version, values

    version, values = store.db.transaction(write)
    return ModelVersion(name=name, version=version, created_at=now, format=fmt, artifact_sha256=blob.sha256,
                        artifact_size=blob.size, model_type=row["model_type"], run_id=run_id,
                        signature=json.loads(row["signature"]) if row["signature"] else None,
                        input_example=json.loads(row["input_example"]) if row["input_example"] else None,
                        metrics=json.loads(values["metrics"]), params=json.loads(values["params"]),
                        data_sha256=data_sha, reference_sha256=reference_sha, reference_format=reference_fmt,
                        profile=profile, notebook_path=values["notebook_path"],
                        notebook_sha256=values["notebook_sha256"], git_commit=values["git_commit"],
                        description=description, tags=tag_values, aliases=sorted(set(alias_list)))


# -- resolving and reading -------------------------------------------------------------------------------------
def _not_latest(alias: str) -> None:
    if alias == LATEST:
        raise RegistryError(f"'{LATEST}' is a reserved alias: it always means the newest version")


def _names(items: Iterable[Any]) -> str:
    items = [str(i) for i in items]
    shown = ", ".join(items[:_LIST_LIMIT]) + (f", … ({len(items)} in all)" if len(items) > _LIST_LIMIT else "")
    return shown or "none"


def _reader(store: Store) -> Query:
    return lambda sql, params: store.db.query(sql, params)


def _in_tx(tx: Tx) -> Query:
    return lambda sql, params: tx.all(sql, params)


def _resolve(q: Query, store: Store, ref: ModelRef) -> int:
    """The version number `ref` names, or a RegistryError that says what exists instead."""
    name = {"name": ref.name}
    if not q("SELECT name FROM registered_models WHERE name = :name", name):
        known = [r["name"] for r in q(f"SELECT name FROM registered_models ORDER BY name LIMIT {_LIST_LIMIT + 1}",
                                      {})]
        raise RegistryError(f"no model '{ref.name}' in the registry at {_where(store)} (models: {_names(known)})")
    if ref.alias is not None and ref.alias != LATEST:
        found = q("SELECT version FROM model_aliases WHERE name = :name AND alias = :alias",
                  {**name, "alias": ref.alias})
        if not found:
            aliases = [f"{r['alias']}→{r['version']}" for r in
                       q("SELECT alias, version FROM model_aliases WHERE name = :name ORDER BY alias", name)]
            raise RegistryError(f"model '{ref.name}' has no alias '{ref.alias}' (aliases: {_names(aliases)})")
        return int(found[0]["version"])
    if ref.version is not None:
        if not q("SELECT 1 AS found FROM model_versions WHERE name = :name AND version = :version",
                 {**name, "version": ref.version}):
            known = [r["version"] for r in
                     q("SELECT version FROM model_versions WHERE name = :name ORDER BY version", name)]
            raise RegistryError(f"model '{ref.name}' has no version {ref.version} (versions: {_names(known)})")
        return ref.version
    latest = q("SELECT MAX(version) AS latest FROM model_versions WHERE name = :name", name)[0]["latest"]
    if latest is None:
        raise RegistryError(f"model '{ref.name}' has no versions (all were deleted)")
    return int(latest)


def _fill(q: Query, found: list[ModelVersion]) -> list[ModelVersion]:
    """Tags and aliases of the versions (all of one or several models)."""
    by_key = {(v.name, v.version): v for v in found}
    names = sorted({v.name for v in found})
    if not names:
        return found
    clause, params = _in("n", names)
    for row in q(f"SELECT name, version, key, value FROM model_version_tags WHERE name IN {clause} ORDER BY key",
                 params):
        if (row["name"], row["version"]) in by_key:
            by_key[(row["name"], row["version"])].tags[row["key"]] = row["value"]
    for row in q(f"SELECT name, alias, version FROM model_aliases WHERE name IN {clause} ORDER BY alias", params):
        if (row["name"], row["version"]) in by_key:
            by_key[(row["name"], row["version"])].aliases.append(row["alias"])
    return found


def _get(store: Store, ref: ModelRef, *, with_profile: bool = True) -> ModelVersion:
    q = _reader(store)
    number = _resolve(q, store, ref)
    columns = VERSION_COLUMNS if with_profile else _LISTED_COLUMNS
    rows = q(f"SELECT {', '.join(columns)} FROM model_versions WHERE name = :name AND version = :version",
             {"name": ref.name, "version": number})
    if not rows:  # deleted between the two reads
        raise RegistryError(f"model {ref.name}:{number} was just deleted")
    return _fill(q, [ModelVersion.from_dict(rows[0])])[0]


def get_model_version(uri: str, *, store: Store | None = None, home: str | Path | None = None) -> ModelVersion:
    """The metadata of the version `uri` names (churn, churn:3, churn@production), profile included."""
    return _get(_store(store, home), parse_uri(uri))


def _verified_bytes(store: Store, sha: str, what: str) -> bytes:
    from nbmlops.store import ArtifactError

    try:
        payload = store.artifacts.get_bytes(sha)
    except (ArtifactError, FileNotFoundError) as exc:
        raise ModelIntegrityError(f"{what}: its artifact {sha} is missing from {store.artifacts.root}") from exc
    actual = datamod.sha256(payload)
    if actual != sha:
        raise ModelIntegrityError(
            f"{what}: the artifact {store.artifacts.uri(sha)} has sha256 {actual}, but the registry recorded {sha}: "
            "it was changed after registration, so it is refused and nothing was loaded")
    return payload


def load_model(uri: str, *, store: Store | None = None, home: str | Path | None = None) -> Any:
    """The model `uri` names (churn, churn:3, churn@production), after checking its bytes' sha256 against the
    registry: a changed or truncated file raises ModelIntegrityError and is never unpickled."""
    store = _store(store, home)
    version = _get(store, parse_uri(uri), with_profile=False)
    payload = _verified_bytes(store, version.artifact_sha256, f"model {version.uri}")
    return serialize.loads(payload, version.format)


def load_reference_data(uri: str, *, store: Store | None = None, home: str | Path | None = None) -> Any:
    """The reference (training) data stored with a version (a DataFrame, or an ndarray), hash-checked."""
    store = _store(store, home)
    version = _get(store, parse_uri(uri), with_profile=False)
    if not version.reference_sha256:
        raise RegistryError(f"model {version.uri} was registered without reference_data")
    payload = _verified_bytes(store, version.reference_sha256, f"reference data of model {version.uri}")
    import io

    if version.reference_format == "npy":
        import numpy as np

        return np.load(io.BytesIO(payload), allow_pickle=False)
    import pandas as pd

    return pd.read_parquet(io.BytesIO(payload), engine="pyarrow")


def list_models(*, store: Store | None = None, home: str | Path | None = None) -> list[RegisteredModel]:
    """Every registered model, by name, with its latest version, version count and aliases."""
    store = _store(store, home)
    q = _reader(store)
    rows = q("SELECT m.name, m.created_at, m.updated_at, m.description, s.latest, s.n FROM registered_models m "
             "LEFT JOIN (SELECT name, MAX(version) AS latest, COUNT(*) AS n FROM model_versions GROUP BY name) s "
             "ON s.name = m.name ORDER BY m.name", {})
    found = {r["name"]: RegisteredModel(name=r["name"], created_at=r["created_at"], updated_at=r["updated_at"],
                                        latest_version=r["latest"], versions=r["n"] or 0,
                                        description=r["description"]) for r in rows}
    for row in q("SELECT name, alias, version FROM model_aliases ORDER BY alias", {}):
        if row["name"] in found:
            found[row["name"]].aliases[row["alias"]] = row["version"]
    return list(found.values())


def list_model_versions(name: str, *, store: Store | None = None,
                        home: str | Path | None = None) -> list[ModelVersion]:
    """The versions of a model, newest first (without profiles and example rows: see get_model_version)."""
    store = _store(store, home)
    q = _reader(store)
    _resolve_model(q, store, check_name(name))
    rows = q(f"SELECT {', '.join(_LISTED_COLUMNS)} FROM model_versions WHERE name = :name ORDER BY version DESC",
             {"name": name})
    return _fill(q, [ModelVersion.from_dict(r) for r in rows])


def _resolve_model(q: Query, store: Store, name: str) -> None:
    if not q("SELECT name FROM registered_models WHERE name = :name", {"name": name}):
        _resolve(q, store, ModelRef(name))  # raises, listing the models there are


# -- aliases and tags -------------------------------------------------------------------------------------------
def set_alias(name: str, alias: str, version: int | str, *, store: Store | None = None,
              home: str | Path | None = None) -> int | None:
    """Point `name@alias` at `version` (creating or moving the alias); returns the version it pointed at
    before, or None. One version per alias per model."""
    check_name(name)
    check_alias(alias)
    _not_latest(alias)
    number = parse_version(version)
    store = _store(store, home)

    def write(tx: Tx) -> int | None:
        _resolve(_in_tx(tx), store, ModelRef(name, version=number))
        before = tx.first("SELECT version FROM model_aliases WHERE name = :name AND alias = :alias",
                          {"name": name, "alias": alias})
        now = time.time()
        _upsert(tx, "model_aliases", {"name": name, "alias": alias, "version": number, "updated_at": now},
                ["name", "alias"])
        tx.execute("UPDATE registered_models SET updated_at = :now WHERE name = :name", {"name": name, "now": now})
        return None if before is None else int(before[0])

    return store.db.transaction(write)


def delete_alias(name: str, alias: str, *, store: Store | None = None, home: str | Path | None = None) -> int:
    """Remove `name@alias`; returns the version it pointed at."""
    check_name(name)
    check_alias(alias)
    _not_latest(alias)
    store = _store(store, home)

    def write(tx: Tx) -> int:
        number = _resolve(_in_tx(tx), store, ModelRef(name, alias=alias))
        tx.execute("DELETE FROM model_aliases WHERE name = :name AND alias = :alias", {"name": name, "alias": alias})
        return number

    return store.db.transaction(write)


def set_model_tag(uri: str, key: str, value: Any, *, store: Store | None = None,
                  home: str | Path | None = None) -> ModelVersion:
    """Set a tag on the version `uri` names; returns that version (without profile)."""
    return _tag(uri, key, str(value), store, home)


def delete_model_tag(uri: str, key: str, *, store: Store | None = None,
                     home: str | Path | None = None) -> ModelVersion:
    return _tag(uri, key, None, store, home)


def _tag(uri: str, key: str, value: str | None, store: Store | None, home: str | Path | None) -> ModelVersion:
    if not key or len(key) > 255:
        raise RegistryError(f"a tag key must be 1 to 255 characters, got '{key}'")
    ref = parse_uri(uri)
    store = _store(store, home)

    def write(tx: Tx) -> int:
        number = _resolve(_in_tx(tx), store, ref)
        row = {"name": ref.name, "version": number, "key": key}
        if value is None:
            if tx.execute("DELETE FROM model_version_tags WHERE name = :name AND version = :version AND key = :key",
                          row) == 0:
                raise RegistryError(f"model {ref.name}:{number} has no tag '{key}'")
        else:
            _upsert(tx, "model_version_tags", {**row, "value": value}, ["name", "version", "key"])
        return number

    number = store.db.transaction(write)
    return _get(store, ModelRef(ref.name, version=number), with_profile=False)


# -- deleting ------------------------------------------------------------------------------------------------
def delete_model_version(uri: str, *, store: Store | None = None, home: str | Path | None = None) -> int:
    """Delete one version (`name:N`; an explicit number, never an alias or 'latest'), its tags, the aliases
    that point at it, its lineage edges and its monitoring (drift results with their edges, the stored reference
    profile); blobs nothing else uses go too. Returns the version number."""
    ref = parse_uri(uri)
    if ref.version is None:
        raise RegistryError(f"'{uri}': say which version to delete (NAME:VERSION), or delete the whole model")
    return _delete(_store(store, home), ref.name, ref.version)[0]


def delete_model(name: str, *, store: Store | None = None, home: str | Path | None = None) -> list[int]:
    """Delete a model with all its versions, aliases and tags, and its monitoring (drift results, reference
    profiles, settings); returns the version numbers deleted."""
    return _delete(_store(store, home), check_name(name), None)


def _delete(store: Store, name: str, version: int | None) -> list[int]:
    def write(tx: Tx) -> tuple[list[int], set[str]]:
        q = _in_tx(tx)
        if version is not None:
            _resolve(q, store, ModelRef(name, version=version))
        else:
            _resolve_model(q, store, name)
        match = "name = :name" + (" AND version = :version" if version is not None else "")
        params = {"name": name, "version": version}
        doomed = tx.all(f"SELECT version, artifact_sha256, reference_sha256 FROM model_versions WHERE {match}",
                        params)
        numbers = sorted(int(r["version"]) for r in doomed)
        shas = sorted({s for r in doomed for s in (r["artifact_sha256"], r["reference_sha256"]) if s})
        ids_clause, ids = _in("i", [f"{name}:{n}" for n in numbers])
        tx.execute(f"DELETE FROM lineage WHERE from_kind = :kind AND from_id IN {ids_clause}",
                   {"kind": MODEL_VERSION, **ids})
        tx.execute(f"DELETE FROM model_version_tags WHERE {match}", params)
        tx.execute(f"DELETE FROM model_aliases WHERE {match}", params)
        tx.execute(f"DELETE FROM model_versions WHERE {match}", params)
        if version is None:
            tx.execute("DELETE FROM registered_models WHERE name = :name", params)
        else:
            tx.execute("UPDATE registered_models SET updated_at = :now WHERE name = :name",
                       {"name": name, "now": time.time()})
        shas = sorted(set(shas) | _delete_monitoring(tx, params, whole_model=version is None))
        sha_clause, sha_params = _in("s", shas)
        used = {r["sha"] for r in tx.all(
            f"SELECT artifact_sha256 AS sha FROM model_versions WHERE artifact_sha256 IN {sha_clause} "
            f"UNION SELECT reference_sha256 AS sha FROM model_versions WHERE reference_sha256 IN {sha_clause} "
            f"UNION SELECT sha256 AS sha FROM monitor_references WHERE sha256 IN {sha_clause} "
            f"UNION SELECT sha256 AS sha FROM artifacts WHERE sha256 IN {sha_clause}", sha_params)}
        return numbers, set(shas) - used

    numbers, orphans = store.db.transaction(write)
    for sha in orphans:  # after the commit: a crash here leaves an unused blob, never a row without its blob
        store.artifacts.delete(sha)
    return numbers


def _delete_monitoring(tx: Tx, params: Mapping[str, Any], *, whole_model: bool) -> set[str]:
    """In the deleting transaction: the monitoring rows of the doomed versions (tables of migration
    0004_monitoring, which nbmlops.monitoring writes): drift results with their per-feature rows and the lineage
    edges they own (drift_result -> model_version 'monitors'), stored reference profiles, and for a whole model its
    monitoring settings. Edges other nodes own that point at a result (a retrained version's or run's
    'triggered_by') stay: they are those nodes' history. Returns the profiles' blob hashes, to delete if unused.
    Subqueries, not id lists: a model monitored hourly for years has tens of thousands of results."""
    match = "model_name = :name" + ("" if whole_model else " AND model_version = :version")
    results = f"(SELECT id FROM drift_results WHERE {match})"
    tx.execute(f"DELETE FROM lineage WHERE from_kind = 'drift_result' AND from_id IN {results}", params)
    tx.execute(f"DELETE FROM drift_features WHERE result_id IN {results}", params)
    tx.execute(f"DELETE FROM drift_results WHERE {match}", params)
    profiles = {r["sha256"] for r in tx.all(f"SELECT sha256 FROM monitor_references WHERE {match}", params)}
    tx.execute(f"DELETE FROM monitor_references WHERE {match}", params)
    if whole_model:
        tx.execute("DELETE FROM monitor_settings WHERE model_name = :name", params)
    return profiles


def model_lineage(uri: str, *, store: Store | None = None, home: str | Path | None = None) -> list[Any]:
    """The lineage edges leaving the version (to its run, notebook, commit, data and artifact)."""
    store = _store(store, home)
    version = _get(store, parse_uri(uri), with_profile=False)
    return store.edges(MODEL_VERSION, version.lineage_id, "out")
