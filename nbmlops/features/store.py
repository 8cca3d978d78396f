"""FeatureStore: one project's catalog, offline store and online store behind the feature-store verbs.

    catalog   the metadata database's feature tables (catalog_db.py): definitions, versions, current pointers
    offline   Parquet under the artifact root (offline.py), opened through nbmlops.store.filesystems
    online    SQLite by default, Redis when configured (online.py)

Opening a store imports the artifact root's pre-0007 JSON catalog into the database, once (catalog_import.py).
"""

from __future__ import annotations

import atexit
import threading
import time
import weakref
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from nbmlops.features import inference
from nbmlops.features.catalog_db import CatalogDB
from nbmlops.features.catalog_import import import_once
from nbmlops.features.definitions import FeatureSet, SetSpec
from nbmlops.features.errors import FeatureError
from nbmlops.features.frames import check_columns
from nbmlops.features.join import join_set
from nbmlops.features.offline import IngestRecord, OfflineStore, arrow_table
from nbmlops.features.online import entity_key, open_online
from nbmlops.features.online_features import OnlineFeatures
from nbmlops.features.transform import apply_rows, check_entities, check_kinds, column_kinds, timestamps_ns
from nbmlops.features.vectors import FeatureVector, Resolved, resolve
from nbmlops.store.filesystems import open_root

ONLINE_ENV = "NBMLOPS_ONLINE_STORE"  # sqlite:///PATH or redis://HOST:PORT/DB
RAY_MIN_ROWS = 2_000_000  # entity rows from which a configured Ray cluster does the join
NUMERIC_AGGS = ("sum", "mean", "min", "max")
RESOLVE_TTL_S = 2.0  # online reads re-check the catalog this often: another process may have made a version current


def _now_ns() -> int:
    return time.time_ns()


class FeatureStore:
    def __init__(
        self,
        home: str | Path | None = None,
        *,
        artifact_root: str | None = None,
        online_url: str | None = None,
        ray_address: str | None = None,
        flush_rows: int = 10_000,
    ) -> None:
        from nbmlops.store.config import load_settings
        from nbmlops.tracking import get_store

        self.settings = load_settings(home)
        self.files = open_root(artifact_root or self.settings.artifact_root)
        self.meta = get_store(self.settings.home)  # the project's metadata store: the catalog and lineage
        self.catalog = CatalogDB(self.meta.db)
        import_once(self.catalog, self.files)  # a catalog kept as JSON files before migration 0007
        self.offline = OfflineStore(self.files)
        self.online = open_online(
            online_url or self.settings.online_store,
            default_path=self.settings.home / "features_online.db",
            namespace=self.files.where(""),
        )
        self.ray_address = ray_address or self.settings.ray_address
        self.flush_rows = flush_rows
        self._lock = threading.RLock()
        self._pending: dict[tuple[str, int], tuple[SetSpec, list[pa.Table]]] = {}
        self._specs: dict[tuple[int, str], SetSpec] = {}
        self._concrete: dict[tuple[int, str, tuple[str, ...]], FeatureSet] = {}
        self._resolved: dict[tuple[Any, ...], tuple[float, Resolved]] = {}
        self._made_current: dict[str, int] = {}  # what this store last made current, so pushes write it once
        ref = weakref.ref(self)
        atexit.register(lambda: (s := ref()) is not None and s.flush())  # pushed events reach the offline store

    def close(self) -> None:
        self.flush()
        self.online.close()

    # -- writing ------------------------------------------------------------------------------------------
    def register(self, fset: FeatureSet) -> SetSpec:
        """The catalog version of this definition (a new version when its schema changed)."""
        key = (id(fset), fset.fingerprint())
        spec = self._specs.get(key)
        if spec is None:
            spec = self._specs[key] = self.catalog.register(fset)
        return spec

    def _prepare(self, fset: FeatureSet, data: pd.DataFrame) -> tuple[SetSpec, pa.Table]:
        """Validate and transform; records inferred columns and the column types on first sight. Nothing is
        written on error."""
        spec = self.register(fset)
        claim: list[str] | None = None  # inferred columns this frame proposes, fixed once every check passed
        if spec.infers:
            if spec.inferred is None:
                claim = inference.columns_of(fset, data)
                spec = spec.with_inferred(claim)
            else:
                inference.check_present(spec, data)
            columns = tuple(spec.inferred or ())
            key = (id(fset), spec.raw["fingerprint"], columns)
            if key not in self._concrete:
                self._concrete[key] = inference.concrete(fset, columns)
            frame = apply_rows(self._concrete[key], data)
        else:
            frame = apply_rows(fset, data)
        kinds = column_kinds(frame, spec.stored, set_name=spec.name)
        check_kinds(kinds, spec.dtypes, set_name=spec.name)
        for w in spec.windows:
            kind = kinds.get(w.column or "") or spec.dtypes.get(w.column or "")
            if w.agg in NUMERIC_AGGS and kind not in ("number", "null", None):
                raise FeatureError(
                    f"feature set '{spec.name}': feature '{w.name}' needs numbers but column "
                    f"'{w.column}' holds {kind} values"
                )
        for column in spec.entities:
            kind = "int" if pd.api.types.is_integer_dtype(frame[column].dtype) else "str"
            if spec.dtypes.get(column, kind) != kind:
                raise FeatureError(
                    f"feature set '{spec.name}': entity column '{column}' holds {kind} keys but "
                    f"the set's keys are {spec.dtypes[column]}"
                )
            kinds[column] = kind
        if claim is not None:
            spec = self.catalog.claim_inferred(self.register(fset), claim)
            self._specs[(id(fset), fset.fingerprint())] = spec
            if spec.inferred != claim:  # another writer inferred first: check this frame against its columns
                return self._prepare(fset, data)
        if any(spec.dtypes.get(c) != k for c, k in kinds.items() if k != "null"):
            spec = self.catalog.set_dtypes(spec, kinds)
            self._specs[(id(fset), fset.fingerprint())] = spec
        return spec, arrow_table(spec, frame, kinds)

    def ingest(
        self, fset: FeatureSet, data: pd.DataFrame | str | Path, *, online: bool = True, source: str | None = None
    ) -> IngestRecord:
        """Write a batch (a DataFrame or a Parquet path) offline and, by default, online: all or nothing."""
        if isinstance(data, str | Path):
            source = source or str(data)
            try:
                data = pd.read_parquet(data)
            except (OSError, ValueError) as exc:
                raise FeatureError(f"feature set '{fset.name}': cannot read {data}: {exc}") from None
        if not isinstance(data, pd.DataFrame):
            raise FeatureError(
                f"feature set '{fset.name}': ingest takes a DataFrame or a Parquet path, got {type(data).__name__}"
            )
        check_columns(data, f"feature set '{fset.name}': ingest")
        spec, table = self._prepare(fset, data)
        record = self.offline.write(spec, table, source or "DataFrame")
        if online:
            try:
                self._to_online(spec, table)
            except BaseException:
                self.offline.rollback(record)  # all or nothing: no offline rows without their online half
                raise
        self._make_current(spec, always=True)  # another process may have moved it since: an ingest always says
        return record

    def _make_current(self, spec: SetSpec, *, always: bool = False) -> None:
        """The version just written is the one 'set.feature' reads from now on (only pins read others)."""
        if always or self._made_current.get(spec.name) != spec.version:
            self.catalog.set_current(spec.name, spec.version)
            self._made_current[spec.name] = spec.version
            self._resolved.clear()

    def push(self, fset: FeatureSet, event: dict[str, Any], *, offline: bool = True) -> None:
        """One live event: online at once, offline with the next flush."""
        if not isinstance(event, dict):
            raise FeatureError(f"feature set '{fset.name}': an event is a dict of column -> value")
        self.push_many(fset, [event], offline=offline)

    def push_many(
        self, fset: FeatureSet, events: Sequence[dict[str, Any]] | pd.DataFrame, *, offline: bool = True
    ) -> None:
        frame = events if isinstance(events, pd.DataFrame) else pd.DataFrame(list(events))
        check_columns(frame, f"feature set '{fset.name}': push")
        if frame.empty:
            return
        spec, table = self._prepare(fset, frame)
        with self._lock:
            self._to_online(spec, table)
            self._make_current(spec)
            if offline:
                _, tables = self._pending.setdefault((spec.name, spec.version), (spec, []))
                tables.append(table)
                if sum(t.num_rows for t in tables) >= self.flush_rows:
                    self._flush_one((spec.name, spec.version))

    def flush(self) -> list[IngestRecord]:
        """Write pushed events still buffered to the offline store (one ingest per set)."""
        with self._lock:
            return [r for key in list(self._pending) if (r := self._flush_one(key))]

    def _flush_one(self, key: tuple[str, int]) -> IngestRecord | None:
        spec, tables = self._pending.pop(key, (None, []))
        if not tables or spec is None:
            return None
        spec = self.catalog.get(spec.name, spec.version)
        table = pa.concat_tables(tables, promote_options="permissive").cast(self.offline.schema(spec))
        return self.offline.write(spec, table, "push")

    def _to_online(self, spec: SetSpec, table: pa.Table) -> None:
        name = f"{spec.name}:v{spec.version}"
        ts = table.column(spec.timestamp).cast(pa.int64()).to_numpy()
        if not spec.windows:  # newest row per entity, written unless a newer one is stored
            if table.num_rows > 1:
                frame = pd.DataFrame({e: table.column(e).to_numpy() for e in spec.entities})
                order = np.argsort(ts, kind="stable")  # ties: the later arrival comes last and wins
                last = order[~frame.iloc[order].duplicated(list(spec.entities), keep="last").to_numpy()]
                table, ts = table.take(pa.array(last)), ts[last]
            rows = list(zip(_keys(table, spec.entities), ts.tolist(), _values(table, spec.row_features), strict=True))
            self.online.put_latest(name, rows)
            return
        keys = _keys(table, spec.entities)
        rows_ = _values(table, spec.row_features)
        ins = _values(table, spec.window_inputs)
        events: dict[str, list[Any]] = {}
        for key, t, row, inp in zip(keys, ts.tolist(), rows_, ins, strict=True):
            events.setdefault(key, []).append((t, row, inp))
        self.online.update(name, events, spec.max_window_ns)

    # -- reading ------------------------------------------------------------------------------------------
    def resolve(self, vector: FeatureVector, *, fresh: bool = False) -> Resolved:
        """Each reference against its pinned version, else the set's current one; cached for RESOLVE_TTL_S."""
        key = (vector.name, tuple(vector.features), vector.label)
        now = time.monotonic()
        found = self._resolved.get(key)
        if fresh or found is None or now - found[0] > RESOLVE_TTL_S:
            resolved = resolve(vector, self.catalog, fresh=fresh or found is not None)
            if found is None:
                self.catalog.save_vector(vector.record())
            found = self._resolved[key] = (now, resolved)
        return found[1]

    def get_offline_features(
        self,
        vector: FeatureVector,
        entity_df: pd.DataFrame,
        timestamp_column: str = "ts",
        *,
        cache: bool = True,
        engine: str | None = None,
    ) -> pd.DataFrame:
        """A point-in-time correct training set: entity_df's rows (same order) with each feature's value as of
        the row's time. Cached by definitions, data and entity rows; the active run's lineage names it."""
        from nbmlops.features import training

        resolved = self.resolve(vector, fresh=True)  # a training set always reads the newest catalog
        q_ts = _check_entity_df(resolved, entity_df, timestamp_column)
        ingests = {g.key: self.offline.ingests(g.spec.name, g.spec.version) for g in resolved.groups}
        key = training.cache_key(resolved, ingests, entity_df, timestamp_column)
        if cache and (hit := training.load(self.files, key)) is not None:
            training.record_lineage(resolved, key)
            return hit
        result = entity_df.copy()
        for group in resolved.groups:
            spec = group.spec
            lookback = max(spec.ttl_ns or 0, spec.max_window_ns) if spec.ttl_ns else None
            wanted = [
                *spec.entities,
                spec.timestamp,
                *group.row,
                *[c for c in spec.window_inputs if c in {w.column for w in group.windows}],
            ]
            table = self.offline.read(
                spec,
                columns=list(dict.fromkeys(wanted)),
                ingests=ingests[group.key],
                min_ts=int(q_ts.min()) - lookback if lookback and len(q_ts) else None,
                max_ts=int(q_ts.max()) if len(q_ts) else None,
            )
            events = table.to_pandas()
            queries = entity_df[list(spec.entities)]
            if engine == "ray" or (engine is None and self.ray_address and len(entity_df) >= RAY_MIN_ROWS):
                from nbmlops.features.raydata import join_on_ray

                arrays = join_on_ray(spec, events, queries, q_ts, group.row, group.windows, self.ray_address)
            elif engine in (None, "local"):
                arrays = join_set(spec, events, queries, q_ts, group.row, group.windows)
            else:
                raise FeatureError(f"unknown join engine '{engine}' (local or ray)")
            for feature, column in zip(group.features, group.columns, strict=True):
                result[column] = arrays[feature]
        result.attrs["training_set"] = key
        if cache:
            training.save(self.files, key, result, resolved)
        training.record_lineage(resolved, key)
        return result

    def get_online_features(
        self,
        vector: FeatureVector,
        rows: Sequence[dict[str, Any]],
        *,
        as_of: Any = None,
        resolved: Resolved | None = None,
    ) -> OnlineFeatures:
        """Latest values per entity row; unknown entities give nulls. Windows are evaluated at `as_of` (now).
        `resolved`: the vector as resolve() gave it, for a caller that re-resolves off its hot path (a server)."""
        from nbmlops.features.serving import read_online

        resolved = resolved if resolved is not None else self.resolve(vector)
        as_of_ns = _now_ns() if as_of is None else int(timestamps_ns(pd.Series([as_of]), where="as_of")[0])
        return read_online(self.online, resolved, rows, as_of_ns)


def _keys(table: pa.Table, entities: Sequence[str]) -> list[str]:
    if len(entities) == 1:
        return [str(v) for v in table.column(entities[0]).to_pylist()]
    return [entity_key(vals) for vals in zip(*(table.column(e).to_pylist() for e in entities), strict=True)]


def _values(table: pa.Table, columns: Sequence[str]) -> list[list[Any]]:
    """JSON-able values per row from the normalised Arrow table: nulls (and NaN) as None, datetimes as int ns."""
    if not columns:
        return [[] for _ in range(table.num_rows)]
    cols = []
    for c in columns:
        array = table.column(c)
        if pa.types.is_timestamp(array.type):
            array = array.cast(pa.int64())
        cols.append(array.to_pylist())
    return [list(r) for r in zip(*cols, strict=True)]


def _check_entity_df(resolved: Resolved, entity_df: pd.DataFrame, timestamp_column: str) -> np.ndarray:
    name = resolved.vector.name
    if not isinstance(entity_df, pd.DataFrame):
        raise FeatureError(f"feature vector '{name}': entity_df must be a DataFrame, got {type(entity_df).__name__}")
    where = f"entity_df of feature vector '{name}'"
    check_columns(entity_df, where)
    if timestamp_column not in entity_df.columns:
        raise FeatureError(
            f"{where}: missing timestamp column '{timestamp_column}' "
            f"(columns: {', '.join(map(str, entity_df.columns))})"
        )
    label = resolved.vector.label
    if label and not resolved.label_ref and label not in entity_df.columns:
        raise FeatureError(f"{where}: label '{label}' is neither a column of entity_df nor 'set.feature'")
    check_entities(entity_df, resolved.entities, where=where)
    q_ts = timestamps_ns(entity_df[timestamp_column], where=f"{where}, timestamp column '{timestamp_column}'")
    for group in resolved.groups:
        for column in group.spec.entities:
            kind = "int" if pd.api.types.is_integer_dtype(entity_df[column].dtype) else "str"
            stored = group.spec.dtypes.get(column)
            if stored and stored != kind:
                raise FeatureError(
                    f"{where}: entity column '{column}' holds {kind} keys but feature set "
                    f"'{group.spec.name}' keys are {stored}"
                )
    keys = [*resolved.entities, timestamp_column]
    dupes = entity_df.duplicated(subset=keys)
    if dupes.any():
        first = entity_df[dupes].iloc[0]
        shown = ", ".join(f"{k}={first[k]}" for k in keys)
        raise FeatureError(f"{where}: {int(dupes.sum())} duplicate row(s) of ({', '.join(keys)}), e.g. {shown}")
    return q_ts
