"""FeatureBrowser on real feature stores (catalog in SQLite and PostgreSQL): sets, their facts and features with
statistics, a feature's histogram and the models trained on it, vectors, and the latest online values of an entity
typed in, with their age; messages for an empty catalog and an unknown set."""

from __future__ import annotations

import html
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from nbmlops.features import Expr, FeatureSet, FeatureStore, FeatureVector, latest_values
from nbmlops.widgets import FeatureBrowser
from nbmlops.widgets._render import PLOTLY_MIME


@pytest.fixture
def features(db_url: str, home: Path, monkeypatch: pytest.MonkeyPatch) -> FeatureStore:
    monkeypatch.setenv("NBMLOPS_DB_URL", db_url)
    store = FeatureStore(home)
    yield store
    store.close()


def events(n: int = 200) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    now = pd.Timestamp.now(tz="UTC").tz_localize(None).floor("s")
    return pd.DataFrame(
        {
            "customer_id": rng.integers(1, 6, n),
            "ts": now - pd.to_timedelta(np.arange(n)[::-1], unit="min"),
            "amount": rng.gamma(2.0, 30, n).round(2),
            "plan": rng.choice(["basic", "pro"], n),
        }
    )


def test_sets_features_statistics_vectors_and_online_values(features: FeatureStore) -> None:
    frame = events()
    tx = FeatureSet(
        "transactions",
        entities=["customer_id"],
        timestamp="ts",
        features=["amount", "plan", Expr("big", "amount > 100")],
        description="card payments",
    )
    tx.ingest(frame, store=features)
    features.get_offline_features(
        FeatureVector("churn", ["transactions.amount", "transactions.big"]),
        frame[["customer_id", "ts"]].drop_duplicates(["customer_id", "ts"]).head(20),
        timestamp_column="ts",
    )
    browser = FeatureBrowser(store=features)
    assert browser.message is None and browser.sets == ["transactions"] and browser.info.version == 1
    facts = html.unescape(browser.summary_html.value)
    assert "entities</b> customer_id" in facts and "rows</b> 200" in facts and "vectors</b> churn" in facts
    table = browser.features_html.value
    assert table.count("<tr data-feature=") == 3
    amount = next(f for f in browser.info.features if f.name == "amount")
    assert amount.stats["count"] == 200 and amount.stats["max"] == pytest.approx(frame["amount"].max())
    figure = browser.histogram_output.outputs[0]["data"][PLOTLY_MIME]
    assert sum(figure["data"][0]["y"]) == 200
    browser.select("plan")
    bars = browser.histogram_output.outputs[0]["data"][PLOTLY_MIME]["data"][0]
    assert sorted(bars["x"]) == ["basic", "pro"] and sum(bars["y"]) == 200
    assert "vectors: none" in html.unescape(browser.feature_html.value)  # churn reads amount and big only
    browser.select("big")
    assert "vectors: churn" in html.unescape(browser.feature_html.value)
    assert [v["name"] for v in browser.vectors] == ["churn"]

    # the latest online value of an entity, typed into the box, and its age
    latest = frame.sort_values("ts").groupby("customer_id").tail(1).set_index("customer_id")
    (box,) = browser.entity_box.children
    box.value = "3"
    browser.lookup_button.click()
    row, ages = browser.online.rows[0], browser.online.freshness[0]
    assert row["amount"] == pytest.approx(latest.loc[3, "amount"]) and row["plan"] == latest.loc[3, "plan"]
    expected_age = (pd.Timestamp.now(tz="UTC").tz_localize(None) - latest.loc[3, "ts"]).total_seconds()
    assert ages["amount"] == pytest.approx(expected_age, abs=30)
    shown = browser.online_html.value
    assert 'data-feature="amount"' in shown and "customer_id=3" in shown
    box.value = "99"
    browser.lookup_button.click()
    assert "no online values for customer_id=99" in browser.online_html.value
    box.value = ""
    browser.lookup_button.click()
    assert "type a value for customer_id" in browser.online_html.value
    # browsing records no vector in the catalog
    assert [v["name"] for v in features.catalog.vectors()] == ["churn"]
    assert latest_values("transactions", {"customer_id": 3}, features).rows[0]["big"] == bool(
        latest.loc[3, "amount"] > 100
    )


def test_models_trained_on_a_feature(features: FeatureStore) -> None:
    from sklearn.linear_model import LogisticRegression

    import nbmlops

    frame = events()
    FeatureSet("transactions", entities=["customer_id"], timestamp="ts", features=["amount"]).ingest(
        frame, store=features
    )
    entity = frame[["customer_id", "ts"]].drop_duplicates(["customer_id", "ts"]).head(30).copy()
    entity["y"] = np.arange(len(entity)) % 2
    with nbmlops.start_run("train", store=features.meta):
        train = features.get_offline_features(FeatureVector("v", ["transactions.amount"]), entity)
        X = train.drop(columns=["customer_id", "ts", "y"])
        nbmlops.register_model(LogisticRegression().fit(X, train["y"]), "churn", store=features.meta)
    browser = FeatureBrowser(store=features)
    assert browser.feature_models == ["churn:1"] and "churn:1" in browser.feature_html.value


def test_empty_catalog_and_unknown_set_are_messages(features: FeatureStore) -> None:
    browser = FeatureBrowser(store=features)
    assert browser.message.startswith("no feature sets in this project yet")
    FeatureSet("transactions", entities=["customer_id"], timestamp="ts").ingest(events(), store=features)
    browser.refresh_button.click()
    assert browser.message is None and browser.info.name == "transactions"
    unknown = FeatureBrowser("nope", store=features)
    assert "nope" in unknown.message and "transactions" in unknown.message
    assert "Traceback" not in unknown._repr_mimebundle_()["text/html"]
