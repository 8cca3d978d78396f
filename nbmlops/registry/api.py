"""The registry verbs. Every write is one transaction of the store's database (see Database.write); model bytes
and reference data go to the content-addressed artifact store first, so a row never names a missing blob."""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nbmlops.registry import data as datamod
from nbmlops.registry import serialize
from nbmlops.registry.errors import ModelIntegrityError, RegistryError
from nbmlops.registry.records import ModelVersion, RegisteredModel
from nbmlops.registry.uri import LATEST, ModelRef, check_alias, check_name, parse_uri, parse_version

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection

    from nbmlops.store import Store
    from nbmlops.tracking import ActiveRun

MODEL_VERSION = "model_version"  # the lineage node kind of a version; its id is "name:version"
_LIST_LIMIT = 10  # names shown in "unknown ..." messages


def _json(value: Any) -> str:
    return json.dumps(value, default=str)  # key order kept: profile columns stay in the data's order


def _store(store: Store | None, home: str | Path | None) -> Store:
    if store is not None:
        return store
    from nbmlops.tracking import get_store

    return get_store(home)


def _tables() -> Any:
    from nbmlops.registry import tables

    return tables


def _where(store: Store) -> str:
    return store.db.engine.url.render_as_string(hide_password=True)


def _upsert(conn: Connection, table: Any, row: dict[str, Any], keys: list[str], *, update: bool = True) -> None:
    """Insert a row, or update (update=True) / keep (update=False) the one with the same keys."""
    dialect = conn.dialect.name
    if dialect in ("sqlite", "postgresql"):
        if dialect == "postgresql":
            from sqlalchemy.dialects.postgresql import insert
        else:
            from sqlalchemy.dialects.sqlite import insert
        statement = insert(table).values(row)
        if update:
            statement = statement.on_conflict_do_update(
                index_elements=keys, set_={k: statement.excluded[k] for k in row if k not in keys})
        else:
            statement = statement.on_conflict_do_nothing(index_elements=keys)
        conn.execute(statement)
        return
    import sqlalchemy as sa

    where = [table.c[k] == row[k] for k in keys]
    if conn.execute(sa.select(sa.func.count()).select_from(table).where(*where)).scalar_one():
        if update:
            conn.execute(table.update().where(*where).values({k: v for k, v in row.items() if k not in keys}))
    else:
        conn.execute(table.insert().values(row))


def _edge(to_kind: str, to_id: str, relation: str, model_id: str, name: str | None = None,
          step_name: str | None = None) -> dict[str, Any]:
    # run_id stays NULL: the edge belongs to the model version (deleted with it), not to the run
    return {"from_kind": MODEL_VERSION, "from_id": model_id, "to_kind": to_kind, "to_id": to_id,
            "relation": relation, "name": name, "run_id": None, "step_name": step_name, "created_at": time.time()}


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

    run_info = store.get_run(run_id, check_stale=False) if run_id else None
    version_metrics = {**(run_info.metrics if run_info else {}), **{str(k): float(v) for k, v in
                                                                     (metrics or {}).items()}}
    version_params = {**(run_info.params if run_info else {}), **{str(k): v for k, v in (params or {}).items()}}

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
    row = {
        "name": name, "created_at": now, "run_id": run_id, "format": fmt, "model_type": serialize.type_name(model),
        "artifact_sha256": blob.sha256, "artifact_size": blob.size,
        "signature": _json(datamod.signature(example)) if example is not None else None,
        "input_example": _json(datamod.example_rows(example)) if example is not None else None,
        "metrics": _json(version_metrics), "params": _json(version_params), "data_sha256": data_sha,
        "reference_sha256": reference_sha, "reference_format": reference_fmt,
        "profile": _json(profile) if profile is not None else None,
        "notebook_path": run_info.notebook_path if run_info else None,
        "notebook_sha256": run_info.notebook_sha256 if run_info else None,
        "git_commit": run_info.git_commit if run_info else None, "description": description,
    }
    tag_values = {str(k): str(v) for k, v in (tags or {}).items()}
    t = _tables()

    def write(conn: Connection) -> int:
        import sqlalchemy as sa

        from nbmlops.store import models as m

        _upsert(conn, t.registered_models, {"name": name, "last_version": 0, "created_at": now, "updated_at": now},
                ["name"], update=False)
        # The counter: this UPDATE holds the model row (PostgreSQL) / the database (SQLite) until commit.
        conn.execute(t.registered_models.update().where(t.registered_models.c.name == name)
                     .values(last_version=t.registered_models.c.last_version + 1, updated_at=now))
        version = conn.execute(sa.select(t.registered_models.c.last_version)
                               .where(t.registered_models.c.name == name)).scalar_one()
        conn.execute(t.model_versions.insert().values({**row, "version": version}))
        for key, value in tag_values.items():
            conn.execute(t.model_version_tags.insert().values(name=name, version=version, key=key, value=value))
        for alias in alias_list:
            _upsert(conn, t.model_aliases, {"name": name, "alias": alias, "version": version, "updated_at": now},
                    ["name", "alias"])
        model_id = f"{name}:{version}"
        edges = [_edge("artifact", blob.sha256, "artifact", model_id, f"model.{fmt}")]
        if run_id:
            edges.append(_edge("run", run_id, "run", model_id, step_name=step_name))
        if row["notebook_sha256"]:
            edges.append(_edge("notebook", row["notebook_sha256"], "code", model_id, row["notebook_path"]))
        if row["git_commit"]:
            edges.append(_edge("commit", row["git_commit"], "commit", model_id))
        if data_sha:
            edges.append(_edge("value", data_sha, "data", model_id,
                               "reference_data" if reference is not None else "input_example"))
        conn.execute(m.lineage.insert(), edges)
        return version

    version = store.db.write(write)
    return ModelVersion(name=name, version=version, created_at=now, format=fmt, artifact_sha256=blob.sha256,
                        artifact_size=blob.size, model_type=row["model_type"], run_id=run_id,
                        signature=json.loads(row["signature"]) if row["signature"] else None,
                        input_example=json.loads(row["input_example"]) if row["input_example"] else None,
                        metrics=version_metrics, params=json.loads(row["params"]), data_sha256=data_sha,
                        reference_sha256=reference_sha, reference_format=reference_fmt, profile=profile,
                        notebook_path=row["notebook_path"], notebook_sha256=row["notebook_sha256"],
                        git_commit=row["git_commit"], description=description, tags=tag_values,
                        aliases=sorted(alias_list))


# -- resolving and reading -------------------------------------------------------------------------------------
def _not_latest(alias: str) -> None:
    if alias == LATEST:
        raise RegistryError(f"'{LATEST}' is a reserved alias: it always means the newest version")


def _names(items: Iterable[Any]) -> str:
    items = [str(i) for i in items]
    shown = ", ".join(items[:_LIST_LIMIT]) + (f", … ({len(items)} in all)" if len(items) > _LIST_LIMIT else "")
    return shown or "none"


def _resolve(conn: Connection, store: Store, ref: ModelRef) -> int:
    """The version number `ref` names, or a RegistryError that says what exists instead."""
    import sqlalchemy as sa

    t = _tables()
    model = conn.execute(sa.select(t.registered_models.c.name)
                         .where(t.registered_models.c.name == ref.name)).first()
    if model is None:
        known = [r[0] for r in conn.execute(sa.select(t.registered_models.c.name)
                                            .order_by(t.registered_models.c.name).limit(_LIST_LIMIT + 1))]
        raise RegistryError(f"no model '{ref.name}' in the registry at {_where(store)} (models: {_names(known)})")
    versions = t.model_versions
    if ref.alias is not None and ref.alias != LATEST:
        found = conn.execute(sa.select(t.model_aliases.c.version).where(
            t.model_aliases.c.name == ref.name, t.model_aliases.c.alias == ref.alias)).scalar()
        if found is None:
            aliases = [f"{a}→{v}" for a, v in conn.execute(
                sa.select(t.model_aliases.c.alias, t.model_aliases.c.version)
                .where(t.model_aliases.c.name == ref.name).order_by(t.model_aliases.c.alias))]
            raise RegistryError(f"model '{ref.name}' has no alias '{ref.alias}' (aliases: {_names(aliases)})")
        return int(found)
    if ref.version is not None:
        if conn.execute(sa.select(versions.c.id).where(versions.c.name == ref.name,
                                                      versions.c.version == ref.version)).first() is None:
            known = [r[0] for r in conn.execute(sa.select(versions.c.version).where(versions.c.name == ref.name)
                                                .order_by(versions.c.version))]
            raise RegistryError(f"model '{ref.name}' has no version {ref.version} (versions: {_names(known)})")
        return ref.version
    latest = conn.execute(sa.select(sa.func.max(versions.c.version)).where(versions.c.name == ref.name)).scalar()
    if latest is None:
        raise RegistryError(f"model '{ref.name}' has no versions (all were deleted)")
    return int(latest)


def _columns(with_profile: bool) -> list[Any]:
    versions = _tables().model_versions
    skip = set() if with_profile else {"profile", "input_example"}
    return [c for c in versions.columns if c.name not in skip]


def _fill(conn: Connection, found: list[ModelVersion]) -> list[ModelVersion]:
    """Tags and aliases of the versions (all of one or several models)."""
    import sqlalchemy as sa

    t = _tables()
    by_key = {(v.name, v.version): v for v in found}
    names = sorted({v.name for v in found})
    if not names:
        return found
    for row in conn.execute(sa.select(t.model_version_tags).where(t.model_version_tags.c.name.in_(names))):
        if (row.name, row.version) in by_key:
            by_key[(row.name, row.version)].tags[row.key] = row.value
    for row in conn.execute(sa.select(t.model_aliases).where(t.model_aliases.c.name.in_(names))
                            .order_by(t.model_aliases.c.alias)):
        if (row.name, row.version) in by_key:
            by_key[(row.name, row.version)].aliases.append(row.alias)
    return found


def _get(store: Store, ref: ModelRef, *, with_profile: bool = True) -> ModelVersion:
    import sqlalchemy as sa

    versions = _tables().model_versions

    def read(conn: Connection) -> ModelVersion:
        number = _resolve(conn, store, ref)
        row = conn.execute(sa.select(*_columns(with_profile))
                           .where(versions.c.name == ref.name, versions.c.version == number)).one()
        return _fill(conn, [ModelVersion.from_row(row)])[0]

    return store.db.read(read)


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
    import sqlalchemy as sa

    store = _store(store, home)
    t = _tables()

    def read(conn: Connection) -> list[RegisteredModel]:
        stats = (sa.select(t.model_versions.c.name, sa.func.max(t.model_versions.c.version).label("latest"),
                           sa.func.count().label("n")).group_by(t.model_versions.c.name).subquery())
        query = (sa.select(t.registered_models, stats.c.latest, stats.c.n)
                 .outerjoin(stats, stats.c.name == t.registered_models.c.name)
                 .order_by(t.registered_models.c.name))
        found = {r.name: RegisteredModel(name=r.name, created_at=r.created_at, updated_at=r.updated_at,
                                         latest_version=r.latest, versions=r.n or 0, description=r.description)
                 for r in conn.execute(query)}
        for row in conn.execute(sa.select(t.model_aliases).order_by(t.model_aliases.c.alias)):
            if row.name in found:
                found[row.name].aliases[row.alias] = row.version
        return list(found.values())

    return store.db.read(read)


def list_model_versions(name: str, *, store: Store | None = None,
                        home: str | Path | None = None) -> list[ModelVersion]:
    """The versions of a model, newest first (without profiles and example rows: see get_model_version)."""
    import sqlalchemy as sa

    store = _store(store, home)
    versions = _tables().model_versions

    def read(conn: Connection) -> list[ModelVersion]:
        _resolve_model(conn, store, check_name(name))
        rows = conn.execute(sa.select(*_columns(False)).where(versions.c.name == name)
                            .order_by(versions.c.version.desc()))
        return _fill(conn, [ModelVersion.from_row(r) for r in rows])

    return store.db.read(read)


def _resolve_model(conn: Connection, store: Store, name: str) -> None:
    import sqlalchemy as sa

    t = _tables()
    if conn.execute(sa.select(t.registered_models.c.name).where(t.registered_models.c.name == name)).first() is None:
        _resolve(conn, store, ModelRef(name))  # raises, listing the models there are


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
    t = _tables()

    def write(conn: Connection) -> int | None:
        import sqlalchemy as sa

        _resolve(conn, store, ModelRef(name, version=number))
        before = conn.execute(sa.select(t.model_aliases.c.version).where(
            t.model_aliases.c.name == name, t.model_aliases.c.alias == alias)).scalar()
        now = time.time()
        _upsert(conn, t.model_aliases, {"name": name, "alias": alias, "version": number, "updated_at": now},
                ["name", "alias"])
        conn.execute(t.registered_models.update().where(t.registered_models.c.name == name).values(updated_at=now))
        return before

    return store.db.write(write)


def delete_alias(name: str, alias: str, *, store: Store | None = None, home: str | Path | None = None) -> int:
    """Remove `name@alias`; returns the version it pointed at."""
    check_name(name)
    check_alias(alias)
    _not_latest(alias)
    store = _store(store, home)
    t = _tables()

    def write(conn: Connection) -> int:
        number = _resolve(conn, store, ModelRef(name, alias=alias))
        conn.execute(t.model_aliases.delete().where(t.model_aliases.c.name == name, t.model_aliases.c.alias == alias))
        return number

    return store.db.write(write)


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
    tags = _tables().model_version_tags

    def write(conn: Connection) -> int:
        number = _resolve(conn, store, ref)
        where = (tags.c.name == ref.name, tags.c.version == number, tags.c.key == key)
        if value is None:
            if conn.execute(tags.delete().where(*where)).rowcount == 0:
                raise RegistryError(f"model {ref.name}:{number} has no tag '{key}'")
        else:
            _upsert(conn, tags, {"name": ref.name, "version": number, "key": key, "value": value},
                    ["name", "version", "key"])
        return number

    number = store.db.write(write)
    return _get(store, ModelRef(ref.name, version=number), with_profile=False)


# -- deleting ------------------------------------------------------------------------------------------------
def delete_model_version(uri: str, *, store: Store | None = None, home: str | Path | None = None) -> int:
    """Delete one version (`name:N`; an explicit number, never an alias or 'latest'), its tags, the aliases
    that point at it and its lineage edges; blobs nothing else uses go too. Returns the version number."""
    ref = parse_uri(uri)
    if ref.version is None:
        raise RegistryError(f"'{uri}': say which version to delete (NAME:VERSION), or delete the whole model")
    return _delete(_store(store, home), ref.name, ref.version)[0]


def delete_model(name: str, *, store: Store | None = None, home: str | Path | None = None) -> list[int]:
    """Delete a model with all its versions, aliases and tags; returns the version numbers deleted."""
    return _delete(_store(store, home), check_name(name), None)


def _delete(store: Store, name: str, version: int | None) -> list[int]:
    import sqlalchemy as sa

    from nbmlops.store import models as m

    t = _tables()
    versions = t.model_versions

    def write(conn: Connection) -> tuple[list[int], set[str]]:
        if version is not None:
            _resolve(conn, store, ModelRef(name, version=version))
        else:
            _resolve_model(conn, store, name)
        where = [versions.c.name == name] + ([versions.c.version == version] if version is not None else [])
        doomed = list(conn.execute(sa.select(versions.c.version, versions.c.artifact_sha256,
                                             versions.c.reference_sha256).where(*where)))
        numbers = sorted(r.version for r in doomed)
        shas = {s for r in doomed for s in (r.artifact_sha256, r.reference_sha256) if s}
        ids = [f"{name}:{n}" for n in numbers]
        conn.execute(m.lineage.delete().where(m.lineage.c.from_kind == MODEL_VERSION, m.lineage.c.from_id.in_(ids)))
        for table in (t.model_version_tags, t.model_aliases):
            clause = [table.c.name == name] + ([table.c.version == version] if version is not None else [])
            conn.execute(table.delete().where(*clause))
        conn.execute(versions.delete().where(*where))
        if version is None:
            conn.execute(t.registered_models.delete().where(t.registered_models.c.name == name))
        else:
            conn.execute(t.registered_models.update().where(t.registered_models.c.name == name)
                         .values(updated_at=time.time()))
        used = {r[0] for r in conn.execute(sa.select(versions.c.artifact_sha256)
                                           .where(versions.c.artifact_sha256.in_(shas)))}
        used |= {r[0] for r in conn.execute(sa.select(versions.c.reference_sha256)
                                            .where(versions.c.reference_sha256.in_(shas)))}
        used |= {r[0] for r in conn.execute(sa.select(m.artifacts.c.sha256).where(m.artifacts.c.sha256.in_(shas)))}
        return numbers, shas - used

    numbers, orphans = store.db.write(write)
    for sha in orphans:  # after the commit: a crash here leaves an unused blob, never a row without its blob
        store.artifacts.delete(sha)
    return numbers


def model_lineage(uri: str, *, store: Store | None = None, home: str | Path | None = None) -> list[Any]:
    """The lineage edges leaving the version (to its run, notebook, commit, data and artifact)."""
    store = _store(store, home)
    version = _get(store, parse_uri(uri), with_profile=False)
    return store.edges(MODEL_VERSION, version.lineage_id, "out")
