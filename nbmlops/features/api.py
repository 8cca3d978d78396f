"""Module-level verbs on the project's default FeatureStore (found like the metadata store: NBMLOPS_HOME or
the nearest .nbmlops/ upward; the online store from NBMLOPS_ONLINE_STORE)."""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence
from typing import Any

import pandas as pd

from nbmlops.features.store import ONLINE_ENV, FeatureStore, OnlineFeatures
from nbmlops.features.vectors import FeatureVector

_stores: dict[tuple[str, ...], FeatureStore] = {}
_lock = threading.Lock()


def default_store() -> FeatureStore:
    """One FeatureStore per project home and settings in this process."""
    from nbmlops.store.home import project_home

    key = (str(os.getpid()), str(project_home()), os.environ.get("NBMLOPS_ARTIFACT_ROOT", ""),
           os.environ.get(ONLINE_ENV, ""), os.environ.get("NBMLOPS_RAY_ADDRESS", ""))
    with _lock:
        store = _stores.get(key)
        if store is None:
            store = _stores[key] = FeatureStore()
        return store


def get_offline_features(vector: FeatureVector, entity_df: pd.DataFrame, timestamp_column: str = "ts",
                         **kwargs: Any) -> pd.DataFrame:
    return default_store().get_offline_features(vector, entity_df, timestamp_column, **kwargs)


def get_online_features(vector: FeatureVector, rows: Sequence[dict[str, Any]], **kwargs: Any) -> OnlineFeatures:
    return default_store().get_online_features(vector, rows, **kwargs)


def flush() -> None:
    default_store().flush()
