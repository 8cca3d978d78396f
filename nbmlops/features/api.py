"""Module-level verbs on the project's default FeatureStore (found like the metadata store: NBMLOPS_HOME or
the nearest .nbmlops/ upward; the online store from NBMLOPS_ONLINE_STORE).

This is the only module that knows a default store: everything below it (definitions, catalog, parity, the
store itself) takes the store it works on. `FeatureSet.ingest(df)` without `store=` reaches the default store
through the factory this module registers with definitions.use_default_store when the package loads.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence
from typing import Any

import pandas as pd

# by name from the modules: the package's own `catalog` and `parity` are the functions below, not the modules
from nbmlops.features.catalog import SetInfo
from nbmlops.features.catalog import catalog as _catalog
from nbmlops.features.catalog import describe as _describe
from nbmlops.features.catalog import latest_values as _latest_values
from nbmlops.features.catalog import vector_users as _vector_users
from nbmlops.features.definitions import use_default_store
from nbmlops.features.online_features import OnlineFeatures
from nbmlops.features.parity import ParityReport
from nbmlops.features.parity import parity as _parity
from nbmlops.features.pit_report import PointInTimeReport
from nbmlops.features.store import ONLINE_ENV, FeatureStore
from nbmlops.features.vectors import FeatureVector

_stores: dict[tuple[str, ...], FeatureStore] = {}
_lock = threading.Lock()


def default_store() -> FeatureStore:
    """One FeatureStore per project home and settings in this process."""
    from nbmlops.store.home import project_home

    key = (
        str(os.getpid()),
        str(project_home()),
        os.environ.get("NBMLOPS_DB_URL", ""),
        os.environ.get("NBMLOPS_ARTIFACT_ROOT", ""),
        os.environ.get(ONLINE_ENV, ""),
        os.environ.get("NBMLOPS_RAY_ADDRESS", ""),
    )
    with _lock:
        store = _stores.get(key)
        if store is None:
            store = _stores[key] = FeatureStore()
        return store


use_default_store(default_store)


def get_offline_features(
    vector: FeatureVector, entity_df: pd.DataFrame, timestamp_column: str = "ts", **kwargs: Any
) -> pd.DataFrame:
    return default_store().get_offline_features(vector, entity_df, timestamp_column, **kwargs)


def get_online_features(vector: FeatureVector, rows: Sequence[dict[str, Any]], **kwargs: Any) -> OnlineFeatures:
    return default_store().get_online_features(vector, rows, **kwargs)


def flush() -> None:
    default_store().flush()


def latest_values(
    name: str, entity: dict[str, Any], store: FeatureStore | None = None, *, as_of: Any = None
) -> OnlineFeatures:
    """The latest online value (and its age) of every feature of set `name` for one entity; records nothing."""
    return _latest_values(name, entity, store or default_store(), as_of=as_of)


def explain_training_set(
    training_df: pd.DataFrame,
    vector: FeatureVector | None = None,
    *,
    timestamp_column: str = "ts",
    sample: int = 20,
    seed: int = 0,
    store: FeatureStore | None = None,
) -> PointInTimeReport:
    """What the point-in-time join picked for `training_df` (from get_offline_features; `vector` found from it
    by default): per sampled row and set the event time, staleness and TTL, and the values a naive latest-value
    join would have leaked from the future (counted over all rows). See nbmlops.features.pit_report."""
    from nbmlops.features.pit_report import point_in_time_report

    return point_in_time_report(
        training_df, vector, store or default_store(), timestamp_column=timestamp_column, sample=sample, seed=seed
    )


def vector_users(store: FeatureStore | None = None) -> list[dict[str, Any]]:
    """Every feature vector with its features, label and the model versions trained on it."""
    return _vector_users(store or default_store())


def describe(
    name: str, store: FeatureStore | None = None, *, version: int | None = None, stats: bool = True
) -> SetInfo:
    """A set's current version (or `version`; or name it 'set@v2'), with every version listed in `history`."""
    return _describe(name, store or default_store(), version=version, stats=stats)


def catalog(store: FeatureStore | None = None, *, stats: bool = True) -> list[SetInfo]:
    """Every feature set, described."""
    return _catalog(store or default_store(), stats=stats)


def parity(
    vector: FeatureVector | str,
    sample: int = 100,
    *,
    seed: int = 0,
    as_of: Any = None,
    store: FeatureStore | None = None,
) -> ParityReport:
    """Online/offline skew of the vector's features over `sample` entities (see parity.parity)."""
    return _parity(vector, sample, seed=seed, as_of=as_of, store=store or default_store())
