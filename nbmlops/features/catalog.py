"""The catalog as people read it: every feature set with its versions (which one is current: the one last
ingested, what 'set.feature' reads), features, types, descriptions, owners, statistics and freshness, and the
vectors and models that use it. Every function reads the FeatureStore it is given (the module-level verbs in
api.py default it to the project's store)."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from nbmlops.features.definitions import SetSpec
from nbmlops.features.errors import FeatureError
from nbmlops.features.stats import set_stats
from nbmlops.features.vectors import split_pin

if TYPE_CHECKING:
    from nbmlops.features.online_features import OnlineFeatures
    from nbmlops.features.store import FeatureStore


@dataclass
class FeatureInfo:
    name: str
    set: str
    kind: str  # 'row' (per event) or 'window'
    dtype: str | None
    definition: str
    description: str
    stats: dict[str, Any] | None = None


@dataclass
class VersionInfo:
    """One version of a set: its features and data; `current` marks the one unpinned references read."""

    version: int
    current: bool
    schema: str  # 'declared', 'inferred' (columns fixed at its first ingest) or 'inferred at first ingest'
    features: list[str]
    rows: int
    ingests: int
    created_at: float | None
    last_ingest_at: float | None
    online_entities: int


@dataclass
class SetInfo:
    name: str
    version: int  # the version described: the current one unless asked for another
    versions: list[int]
    entities: list[str]
    timestamp: str
    ttl_s: float | None
    description: str
    owner: str
    features: list[FeatureInfo]
    rows: int
    ingests: int
    last_ingest_at: float | None
    newest_event_ns: int | None
    freshness_s: float | None  # now minus the newest event time
    online_entities: int
    vectors: list[str] = field(default_factory=list)
    models: list[str] = field(default_factory=list)
    current: int | None = None  # the version 'set.feature' reads (last ingested)
    history: list[VersionInfo] = field(default_factory=list)  # every version, oldest first


def _features(spec: SetSpec) -> list[FeatureInfo]:
    out = []
    for item in spec.raw["spec"]["row"]:
        if item["kind"] == "infer":
            names, definition = spec.inferred or [], "column (inferred)"
        else:
            names = item["outputs"] if item["kind"] == "transform" else [item["name"]]
            definition = {
                "column": lambda i: "column",
                "expr": lambda i: i["expr"],
                "transform": lambda i: f"transform {i['fn']}",
            }[item["kind"]](item)
        for name in names:
            out.append(
                FeatureInfo(name, spec.name, "row", spec.dtypes.get(name), definition, item.get("description", ""))
            )
    for w in spec.windows:
        out.append(
            FeatureInfo(
                w.name,
                spec.name,
                "window",
                "number" if w.agg != "last" else spec.dtypes.get(w.column or ""),
                f"{w.agg}({w.column or '*'}) over {w.name.rsplit('_', 1)[-1]}",
                "",
            )
        )
    return out


def _schema(spec: SetSpec) -> str:
    if not spec.infers:
        return "declared"
    return "inferred" if spec.inferred is not None else "inferred at first ingest"


def _history(store: FeatureStore, specs: list[SetSpec], current: int) -> list[VersionInfo]:
    out = []
    for spec in specs:
        ingests = store.offline.ingests(spec.name, spec.version)
        out.append(
            VersionInfo(
                version=spec.version,
                current=spec.version == current,
                schema=_schema(spec),
                features=spec.feature_names,
                rows=sum(r.rows for r in ingests),
                ingests=len(ingests),
                created_at=spec.raw.get("created_at"),
                last_ingest_at=max((r.created_at for r in ingests), default=None),
                online_entities=store.online.count(f"{spec.name}:v{spec.version}"),
            )
        )
    return out


def describe(name: str, store: FeatureStore, *, version: int | None = None, stats: bool = True) -> SetInfo:
    """A set's current version (or `version`; or name it 'set@v2'), with every version listed in `history`."""
    name, pinned = split_pin(name, where=f"feature set '{name}'")
    version = version if version is not None else pinned
    current = store.catalog.get(name)  # unknown sets fail here, naming the known ones
    versions = store.catalog.versions(name)
    spec = store.catalog.get(name, version) if version is not None else current
    ingests = store.offline.ingests(spec.name, spec.version)
    features = _features(spec)
    if stats:
        computed = set_stats(store.offline, store.catalog, spec, ingests)
        for info in features:
            info.stats = computed.get(info.name)
    newest = max((r.max_ts for r in ingests if r.max_ts is not None), default=None)
    vectors = sorted(
        v["name"]
        for v in store.catalog.vectors()  # 'set.f' and pinned 'set@v1.f' alike
        if any(str(ref).split(".")[0].split("@")[0] == name for ref in [*v["features"], v.get("label") or ""])
    )
    raw = spec.raw["spec"]
    return SetInfo(
        name=name,
        version=spec.version,
        versions=[v.version for v in versions],
        entities=list(spec.entities),
        timestamp=spec.timestamp,
        ttl_s=spec.ttl_ns / 1e9 if spec.ttl_ns else None,
        description=raw.get("description", ""),
        owner=raw.get("owner", ""),
        features=features,
        rows=sum(r.rows for r in ingests),
        ingests=len(ingests),
        last_ingest_at=max((r.created_at for r in ingests), default=None),
        newest_event_ns=newest,
        freshness_s=(time.time_ns() - newest) / 1e9 if newest is not None else None,
        online_entities=store.online.count(f"{spec.name}:v{spec.version}"),
        vectors=vectors,
        models=_models(store, vectors),
        current=current.version,
        history=_history(store, versions, current.version),
    )


def catalog(store: FeatureStore, *, stats: bool = True, include_empty: bool = False) -> list[SetInfo]:
    """Every set of the store's catalog that holds data, described (name order). A set only registered, or whose
    only ingest failed (registering is the first thing an ingest does), is left out unless `include_empty`: the
    list shows what can be read; `describe(name)` still describes such a set."""
    names = store.catalog.names()
    if not include_empty:
        names = [name for name in names if store.catalog.current_version(name) is not None]
    return [describe(name, store, stats=stats) for name in names]


def _models(store: FeatureStore, vectors: list[str]) -> list[str]:
    """Model versions registered from runs that read a training set of these vectors (lineage)."""
    if not vectors:
        return []
    meta = store.meta
    found: set[str] = set()
    for vector in vectors:
        for edge in meta.edges("feature_vector", vector, "in"):
            for run_edge in meta.edges("training_set", edge.from_id, "in"):
                if run_edge.from_kind != "run":
                    continue
                found.update(
                    e.from_id for e in meta.edges("run", run_edge.from_id, "in") if e.from_kind == "model_version"
                )
    return sorted(found)


def latest_values(name: str, entity: dict[str, Any], store: FeatureStore, *, as_of: Any = None) -> OnlineFeatures:
    """The latest online value of every feature of set `name` (its current version; 'set@v2' pins one) for one
    entity ({entity column: value}), with each value's age. A read for browsing: unlike get_online_features it
    records no feature vector in the catalog."""
    from nbmlops.features.serving import read_online
    from nbmlops.features.vectors import FeatureVector, resolve

    base, pinned = split_pin(name, where=f"feature set '{name}'")
    spec = store.catalog.get(base, pinned)  # unknown sets and versions fail here, naming the known ones
    ref = f"{base}@v{pinned}" if pinned is not None else base
    vector = FeatureVector(f"{ref} (browse)", [f"{ref}.*"])
    missing = [e for e in spec.entities if e not in entity]
    if missing:
        raise FeatureError(
            f"feature set '{base}': give the entity's {', '.join(missing)} (its entities: {', '.join(spec.entities)})"
        )
    import pandas as pd

    now = time.time_ns() if as_of is None else int(pd.Timestamp(as_of).value)
    return read_online(store.online, resolve(vector, store.catalog), [dict(entity)], now)


def vector_users(store: FeatureStore) -> list[dict[str, Any]]:
    """Every feature vector of the catalog: name, features (references as written), label, and the model
    versions registered from runs that read a training set of it (lineage), by name."""
    return [
        {
            "name": v["name"],
            "features": list(v["features"]),
            "label": v.get("label"),
            "models": _models(store, [v["name"]]),
        }
        for v in sorted(store.catalog.vectors(), key=lambda v: v["name"])
    ]
