"""Shared builders for the serving tests: real scikit-learn models registered in an isolated project home, a
feature set in its online store, and small HTTP helpers."""

from __future__ import annotations

import numpy as np
import pandas as pd

ROWS = 300


def training_data(seed: int = 0) -> tuple[pd.DataFrame, pd.Series]:
    rng = np.random.default_rng(seed)
    X = pd.DataFrame({"amount": rng.normal(50, 10, ROWS).round(2), "visits": rng.integers(0, 10, ROWS)})
    X["visits"] = X["visits"].astype("int64")
    return X, (X["amount"] + 2 * X["visits"] > 58).astype(int)


def register_churn() -> dict[str, object]:
    """churn:1 and churn:2 (the opposite rule: every prediction differs), churn@production -> 1; and the fitted
    models, to compare answers with."""
    from sklearn.linear_model import LogisticRegression

    from nbmlops.registry import register_model, set_alias

    X, y = training_data()
    first = LogisticRegression().fit(X, y)
    second = LogisticRegression().fit(X, 1 - y)
    register_model(first, "churn", input_example=X.head(), reference_data=X)
    register_model(second, "churn", input_example=X.head(), reference_data=X)
    set_alias("churn", "production", 1)
    return {"X": X, "y": y, 1: first, 2: second}


def ingest_customers(X: pd.DataFrame) -> object:
    """Feature set 'cust' (customer_id -> amount, visits) ingested online; returns the FeatureVector."""
    from nbmlops.features import FeatureSet, FeatureVector

    cust = FeatureSet("cust", entities=["customer_id"], timestamp="ts", features=["amount", "visits"])
    cust.ingest(X.assign(customer_id=np.arange(len(X)), ts=pd.Timestamp("2026-01-01")))
    return FeatureVector("churn_features", ["cust.amount", "cust.visits"])
