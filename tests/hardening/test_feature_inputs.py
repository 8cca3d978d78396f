"""The feature store under careless frames: a duplicated column is a FeatureError naming it (at ingest, push and
training-set time) with nothing stored, and a set whose only ingest failed is not listed in the catalog."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from nbmlops.features import FeatureError, FeatureSet, FeatureStore, FeatureVector
from nbmlops.features.catalog import catalog


def tx_set(name: str = "tx") -> FeatureSet:
    return FeatureSet(name, entities=["user"], timestamp="ts", features=["amount"])


def frame(*columns: str) -> pd.DataFrame:
    values = {"user": [1, 2], "ts": pd.to_datetime(["2024-01-01", "2024-01-02"]), "amount": [3.0, 4.0]}
    return pd.DataFrame([[values[c][i] for c in columns] for i in range(2)], columns=list(columns))


def test_a_duplicated_column_is_a_feature_error_naming_it(home: Path) -> None:
    store = FeatureStore(home)
    with pytest.raises(FeatureError, match=r"feature set 'tx': ingest: the frame has column 'amount' more than once"):
        store.ingest(tx_set(), frame("user", "ts", "amount", "amount"))
    with pytest.raises(FeatureError, match=r"push: the frame has column 'user' more than once"):
        store.push_many(tx_set(), frame("user", "user", "ts", "amount"))
    assert catalog(store, stats=False) == []  # nothing stored, nothing listed
    store.ingest(tx_set(), frame("user", "ts", "amount"))
    vector = FeatureVector("v", ["tx.amount"])
    with pytest.raises(FeatureError, match=r"entity_df of feature vector 'v': the frame has column 'ts' more"):
        store.get_offline_features(vector, frame("user", "ts", "ts"), "ts")
    assert [s.name for s in catalog(store, stats=False)] == ["tx"]


def test_a_set_whose_only_ingest_failed_is_not_listed(home: Path) -> None:
    store = FeatureStore(home)
    bad = frame("user", "ts", "amount").assign(ts=["not a time", "nor this"])
    with pytest.raises(FeatureError, match="not timestamps"):
        store.ingest(tx_set("broken"), bad)
    assert [s.name for s in catalog(store, stats=False)] == []
    assert [s.name for s in catalog(store, stats=False, include_empty=True)] == ["broken"]
    store.ingest(tx_set("broken"), frame("user", "ts", "amount"))
    listed = catalog(store, stats=False)
    assert [(s.name, s.rows) for s in listed] == [("broken", 2)]
