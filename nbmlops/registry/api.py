"""The registry verbs. Every write is one transaction of the store's database (Database.transaction); model
bytes and reference data go to the content-addressed artifact store first, so a row never names a missing blob.

What each verb means lives here; the statements it runs live in nbmlops.registry.queries (over the store's
helpers), what a run recorded comes from Store.find_run, and the rows other packages keep about a version are
deleted by their own callbacks (nbmlops.registry.dependents), inside the deleting transaction.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nbmlops.registry import data as datamod
from nbmlops.registry import dependents, queries, serialize
from nbmlops.registry.errors import ModelIntegrityError, RegistryError
from nbmlops.registry.queries import LISTED_COLUMNS, MODEL_VERSION, VERSION_COLUMNS
from nbmlops.registry.records import AliasMove, ModelVersion, RegisteredModel
from nbmlops.registry.uri import LATEST, ModelRef, check_alias, check_name, parse_uri, parse_version
from nbmlops.store.store import unused_blobs

if TYPE_CHECKING:
    from nbmlops.store import Store
    from nbmlops.store.db import Query, Tx
    from nbmlops.tracking import ActiveRun

_LIST_LIMIT = 10  # names shown in "unknown ..." messages


def _json(value: Any) -> str:
    return json.dumps(value, default=str)  # key order kept: profile columns stay in the data's order


def _store(store: Store | None, home: str | Path | None) -> Store:
    if store is not None:
        return store
    from nbmlops.tracking import get_store

    return get_store(home)


def _where(store: Store) -> str:
    return store.db.where


def _run_record(tx: Tx, run_id: str, store: Store) -> dict[str, Any]:
    """What a version takes from its run: notebook, commit, params and each metric's latest value."""
    run = store.find_run(run_id, tx=tx)
    if run is None:
        raise RegistryError(f"run= names no run '{run_id}' in {_where(store)}")
    return {
        "notebook_path": run.notebook_path,
        "notebook_sha256": run.notebook_sha256,
        "git_commit": run.git_commit,
        "params": run.params,
        "metrics": run.metrics,
    }


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


def register_model(
    model: Any,
    name: str,
    *,
    run: str | ActiveRun | None = None,
    metrics: Mapping[str, float] | None = None,
    params: Mapping[str, Any] | None = None,
    input_example: Any = None,
    reference_data: Any = None,
    tags: Mapping[str, Any] | None = None,
    aliases: Iterable[str] = (),
    description: str | None = None,
    store: Store | None = None,
    home: str | Path | None = None,
) -> ModelVersion:
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
        "name": name,
        "created_at": now,
        "run_id": run_id,
        "format": fmt,
        "model_type": serialize.type_name(model),
        "artifact_sha256": blob.sha256,
        "artifact_size": blob.size,
        "signature": _json(datamod.signature(example)) if example is not None else None,
        "input_example": _json(datamod.example_rows(example)) if example is not None else None,
        "data_sha256": data_sha,
        "reference_sha256": reference_sha,
        "reference_format": reference_fmt,
        "profile": _json(profile) if profile is not None else None,
        "description": description,
    }
    tag_values = {str(k): str(v) for k, v in (tags or {}).items()}

    def write(tx: Tx) -> tuple[int, dict[str, Any]]:
        record = _run_record(tx, run_id, store) if run_id else {"params": {}, "metrics": {}}
        values = {
            **row,
            "metrics": _json({**record["metrics"], **explicit_metrics}),
            "params": _json({**record["params"], **explicit_params}),
            "notebook_path": record.get("notebook_path"),
            "notebook_sha256": record.get("notebook_sha256"),
            "git_commit": record.get("git_commit"),
        }
        version = queries.next_version(tx, name, now)
        values["version"] = version
        model_id = f"{name}:{version}"
        edges = [queries.model_edge(model_id, "artifact", blob.sha256, "artifact", f"model.{fmt}")]
        if run_id:
            edges.append(queries.model_edge(model_id, "run", run_id, "run", step_name=step_name))
        if values["notebook_sha256"]:
            edges.append(
                queries.model_edge(model_id, "notebook", values["notebook_sha256"], "code", values["notebook_path"])
            )
        if values["git_commit"]:
            edges.append(queries.model_edge(model_id, "commit", values["git_commit"], "commit"))
        if data_sha:
            edges.append(
                queries.model_edge(
                    model_id, "value", data_sha, "data", "reference_data" if reference is not None else "input_example"
                )
            )
        queries.add_version(tx, values, tag_values, alias_list, edges, now, current_user() if alias_list else None)
        return version, values

    version, values = store.db.transaction(write)
    return ModelVersion(
        name=name,
        version=version,
        created_at=now,
        format=fmt,
        artifact_sha256=blob.sha256,
        artifact_size=blob.size,
        model_type=row["model_type"],
        run_id=run_id,
        signature=json.loads(row["signature"]) if row["signature"] else None,
        input_example=json.loads(row["input_example"]) if row["input_example"] else None,
        metrics=json.loads(values["metrics"]),
        params=json.loads(values["params"]),
        data_sha256=data_sha,
        reference_sha256=reference_sha,
        reference_format=reference_fmt,
        profile=profile,
        notebook_path=values["notebook_path"],
        notebook_sha256=values["notebook_sha256"],
        git_commit=values["git_commit"],
        description=description,
        tags=tag_values,
        aliases=sorted(set(alias_list)),
    )


# -- resolving and reading -------------------------------------------------------------------------------------
def _not_latest(alias: str) -> None:
    if alias == LATEST:
        raise RegistryError(f"'{LATEST}' is a reserved alias: it always means the newest version")


def _names(items: Iterable[Any]) -> str:
    items = [str(i) for i in items]
    shown = ", ".join(items[:_LIST_LIMIT]) + (f", … ({len(items)} in all)" if len(items) > _LIST_LIMIT else "")
    return shown or "none"


def _resolve(q: Query, store: Store, ref: ModelRef) -> int:
    """The version number `ref` names, or a RegistryError that says what exists instead."""
    if not queries.model_exists(q, ref.name):
        known = queries.model_names(q, _LIST_LIMIT + 1)
        raise RegistryError(f"no model '{ref.name}' in the registry at {_where(store)} (models: {_names(known)})")
    if ref.alias is not None and ref.alias != LATEST:
        target = queries.alias_target(q, ref.name, ref.alias)
        if target is None:
            aliases = [f"{alias}→{version}" for alias, version in queries.aliases(q, ref.name)]
            raise RegistryError(f"model '{ref.name}' has no alias '{ref.alias}' (aliases: {_names(aliases)})")
        return target
    if ref.version is not None:
        if not queries.version_exists(q, ref.name, ref.version):
            known = queries.version_numbers(q, ref.name)
            raise RegistryError(f"model '{ref.name}' has no version {ref.version} (versions: {_names(known)})")
        return ref.version
    latest = queries.latest_version(q, ref.name)
    if latest is None:
        raise RegistryError(f"model '{ref.name}' has no versions (all were deleted)")
    return latest


def _fill(q: Query, found: list[ModelVersion]) -> list[ModelVersion]:
    """Tags and aliases of the versions (all of one or several models)."""
    by_key = {(v.name, v.version): v for v in found}
    names = sorted({v.name for v in found})
    if not names:
        return found
    tags, aliases = queries.tags_and_aliases(q, names)
    for row in tags:
        if (row["name"], row["version"]) in by_key:
            by_key[(row["name"], row["version"])].tags[row["key"]] = row["value"]
    for row in aliases:
        if (row["name"], row["version"]) in by_key:
            by_key[(row["name"], row["version"])].aliases.append(row["alias"])
    return found


def _get(store: Store, ref: ModelRef, *, with_profile: bool = True) -> ModelVersion:
    q = store.db.query
    number = _resolve(q, store, ref)
    row = queries.version_row(q, ref.name, number, VERSION_COLUMNS if with_profile else LISTED_COLUMNS)
    if row is None:  # deleted between the two reads
        raise RegistryError(f"model {ref.name}:{number} was just deleted")
    return _fill(q, [ModelVersion.from_dict(row)])[0]


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
            "it was changed after registration, so it is refused and nothing was loaded"
        )
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
    q = store.db.query
    found = {
        r["name"]: RegisteredModel(
            name=r["name"],
            created_at=r["created_at"],
            updated_at=r["updated_at"],
            latest_version=r["latest"],
            versions=r["n"] or 0,
            description=r["description"],
        )
        for r in queries.models(q)
    }
    for row in queries.all_aliases(q):
        if row["name"] in found:
            found[row["name"]].aliases[row["alias"]] = row["version"]
    return list(found.values())


def list_model_versions(name: str, *, store: Store | None = None, home: str | Path | None = None) -> list[ModelVersion]:
    """The versions of a model, newest first (without profiles and example rows: see get_model_version)."""
    store = _store(store, home)
    q = store.db.query
    _resolve_model(q, store, check_name(name))
    rows = queries.version_rows(q, name, LISTED_COLUMNS)
    return _fill(q, [ModelVersion.from_dict(r) for r in rows])


def _resolve_model(q: Query, store: Store, name: str) -> None:
    if not queries.model_exists(q, name):
        _resolve(q, store, ModelRef(name))  # raises, listing the models there are


# -- aliases and tags -------------------------------------------------------------------------------------------
def set_alias(
    name: str,
    alias: str,
    version: int | str,
    *,
    by: str | None = None,
    store: Store | None = None,
    home: str | Path | None = None,
) -> int | None:
    """Point `name@alias` at `version` (creating or moving the alias); returns the version it pointed at
    before, or None. One version per alias per model. The move is recorded in the alias history (see
    alias_history) as done by `by` (default: the user running this process) now."""
    check_name(name)
    check_alias(alias)
    _not_latest(alias)
    number = parse_version(version)
    store = _store(store, home)
    who = by or current_user()

    def write(tx: Tx) -> int | None:
        _resolve(tx.all, store, ModelRef(name, version=number))
        return queries.move_alias(tx, name, alias, number, time.time(), who)

    return store.db.transaction(write)


def delete_alias(
    name: str, alias: str, *, by: str | None = None, store: Store | None = None, home: str | Path | None = None
) -> int:
    """Remove `name@alias` (recorded in the alias history); returns the version it pointed at."""
    check_name(name)
    check_alias(alias)
    _not_latest(alias)
    store = _store(store, home)
    who = by or current_user()

    def write(tx: Tx) -> int:
        number = _resolve(tx.all, store, ModelRef(name, alias=alias))
        queries.delete_alias(tx, name, alias, number, who, time.time())
        return number

    return store.db.transaction(write)


def alias_history(
    name: str, *, limit: int = 100, store: Store | None = None, home: str | Path | None = None
) -> list[AliasMove]:
    """The `limit` latest changes of the model's aliases, newest first: each move (version before and after),
    creation (previous_version None) and removal (version None), with who made it and when."""
    store = _store(store, home)
    q = store.db.query
    _resolve_model(q, store, check_name(name))
    return [AliasMove(**row) for row in queries.alias_history(q, name, int(limit))]


def current_user() -> str | None:
    """Who this process runs as (recorded with alias moves), or None where the system cannot say."""
    import getpass

    try:
        return getpass.getuser()
    except (OSError, KeyError):  # no login name and no passwd entry (some containers)
        return None


def set_model_tag(
    uri: str, key: str, value: Any, *, store: Store | None = None, home: str | Path | None = None
) -> ModelVersion:
    """Set a tag on the version `uri` names; returns that version (without profile)."""
    return _tag(uri, key, str(value), store, home)


def delete_model_tag(uri: str, key: str, *, store: Store | None = None, home: str | Path | None = None) -> ModelVersion:
    return _tag(uri, key, None, store, home)


def _tag(uri: str, key: str, value: str | None, store: Store | None, home: str | Path | None) -> ModelVersion:
    if not key or len(key) > 255:
        raise RegistryError(f"a tag key must be 1 to 255 characters, got '{key}'")
    ref = parse_uri(uri)
    store = _store(store, home)

    def write(tx: Tx) -> int:
        number = _resolve(tx.all, store, ref)
        if value is None:
            if not queries.delete_tag(tx, ref.name, number, key):
                raise RegistryError(f"model {ref.name}:{number} has no tag '{key}'")
        else:
            queries.set_tag(tx, ref.name, number, key, value)
        return number

    number = store.db.transaction(write)
    return _get(store, ModelRef(ref.name, version=number), with_profile=False)


# -- deleting ------------------------------------------------------------------------------------------------
def delete_model_version(uri: str, *, store: Store | None = None, home: str | Path | None = None) -> int:
    """Delete one version (`name:N`; an explicit number, never an alias or 'latest'), its tags, the aliases
    that point at it, its lineage edges and what other packages keep about it (monitoring's drift results with
    their edges, the stored reference profile: see nbmlops.registry.dependents), in one transaction; blobs nothing
    else uses go too. Returns the version number."""
    ref = parse_uri(uri)
    if ref.version is None:
        raise RegistryError(f"'{uri}': say which version to delete (NAME:VERSION), or delete the whole model")
    return _delete(_store(store, home), ref.name, ref.version)[0]


def delete_model(name: str, *, store: Store | None = None, home: str | Path | None = None) -> list[int]:
    """Delete a model with all its versions, aliases and tags, and what other packages keep about it
    (monitoring's drift results, reference profiles, settings), in one transaction; returns the version numbers
    deleted."""
    return _delete(_store(store, home), check_name(name), None)


def _delete(store: Store, name: str, version: int | None) -> list[int]:
    hooks = dependents.callbacks()  # (imports the packages that keep rows about versions: before any lock)

    def write(tx: Tx) -> tuple[list[int], set[str]]:
        if version is not None:
            _resolve(tx.all, store, ModelRef(name, version=version))
        else:
            _resolve_model(tx.all, store, name)
        numbers, shas = queries.delete_versions(tx, name, version, time.time())
        for hook in hooks:  # monitoring's drift history, reference profiles and settings
            shas |= hook(tx, name, version)
        return numbers, unused_blobs(tx.all, shas)

    numbers, orphans = store.db.transaction(write)
    for sha in orphans:  # after the commit: a crash here leaves an unused blob, never a row without its blob
        store.artifacts.delete(sha)
    return numbers


def model_lineage(uri: str, *, store: Store | None = None, home: str | Path | None = None) -> list[Any]:
    """The lineage edges leaving the version (to its run, notebook, commit, data and artifact)."""
    store = _store(store, home)
    version = _get(store, parse_uri(uri), with_profile=False)
    return store.edges(MODEL_VERSION, version.lineage_id, "out")
