"""TrainingSetInspector and features.explain_training_set on a real feature store (catalog in SQLite and
PostgreSQL): the event the point-in-time join picked per row, its staleness, the TTL, and the values a naive
latest-value join would have leaked from the future, checked against hand-made events."""

from __future__ import annotations

import html
from pathlib import Path

import pandas as pd
import pytest

from nbmlops.errors import NbmlopsError
from nbmlops.features import FeatureSet, FeatureStore, FeatureVector, explain_training_set
from nbmlops.widgets import TrainingSetInspector

T0 = pd.Timestamp("2024-01-01")


@pytest.fixture
def features(db_url: str, home: Path, monkeypatch: pytest.MonkeyPatch) -> FeatureStore:
    monkeypatch.setenv("NBMLOPS_DB_URL", db_url)
    store = FeatureStore(home)
    yield store
    store.close()


def make_training_set(features: FeatureStore) -> tuple[pd.DataFrame, FeatureVector]:
    """customer 1: events at day 0 and day 5; customer 2: day 0 only; customer 3: day 9 only. TTL 2 days."""
    events = pd.DataFrame(
        {
            "customer_id": [1, 1, 2, 3],
            "amount": [10.0, 50.0, 20.0, 30.0],
            "ts": [T0, T0 + pd.Timedelta(days=5), T0, T0 + pd.Timedelta(days=9)],
        }
    )
    FeatureSet("tx", entities=["customer_id"], timestamp="ts", features=["amount"], ttl="2d").ingest(
        events, store=features
    )
    entity = pd.DataFrame(
        {
            "customer_id": [1, 1, 2, 3, 2],
            "ts": [
                T0 + pd.Timedelta(days=1),
                T0 + pd.Timedelta(days=6),
                T0 + pd.Timedelta(days=3),
                T0 + pd.Timedelta(days=4),
                T0 + pd.Timedelta(hours=12),
            ],
        }
    )
    vector = FeatureVector("churn", ["tx.amount"])
    return features.get_offline_features(vector, entity, timestamp_column="ts"), vector


def test_report_counts_picks_staleness_ttl_and_future_leaks(features: FeatureStore) -> None:
    train, vector = make_training_set(features)
    report = explain_training_set(train, store=features, sample=10)  # the vector found from the frame
    assert report.vector == "churn" and report.total_rows == 5
    (summary,) = report.summary.to_dict("records")
    # leaks: row 0 (customer 1 at day 1, newest event day 5) and row 3 (customer 3 at day 4, only event day 9)
    assert summary == {
        "set": "tx:v1",
        "rows": 5,
        "with_value": 4,
        "ttl_expired": 1,
        "leaked_rows": 2,
        "features": 1,
        "leaked_values": 2,
    }
    rows = report.rows.set_index("row")
    assert rows.loc[0, "picked_ts"] == T0 and rows.loc[0, "age_s"] == 86400 and rows.loc[0, "leaked"]
    assert rows.loc[1, "picked_ts"] == T0 + pd.Timedelta(days=5) and not rows.loc[1, "leaked"]
    assert rows.loc[2, "ttl_expired"] and rows.loc[2, "age_s"] == 3 * 86400  # day 0 event, 3 days old > 2d TTL
    assert pd.isna(rows.loc[3, "picked_ts"]) and rows.loc[3, "naive_ts"] == T0 + pd.Timedelta(days=9)
    assert rows.loc[4, "age_s"] == 12 * 3600 and not rows.loc[4, "ttl_expired"]
    # the values the training set holds agree with the picks: expired and missing rows are null
    assert [rows.loc[i, "values"]["tx__amount" if "tx__amount" in train else "amount"] for i in range(5)] == [
        10.0,
        50.0,
        None,
        None,
        20.0,
    ]


def test_inspector_shows_the_lens_and_resamples(features: FeatureStore) -> None:
    train, vector = make_training_set(features)
    widget = TrainingSetInspector(train, vector, store=features, sample=3)
    assert widget.message is None and len(widget.report.rows) == 3
    verdict = html.unescape(widget.summary_html.value)
    assert "2 values</b> a naive latest-value join would have taken from the future" in verdict
    first = set(widget.report.rows["row"])
    shown = widget.rows_html.value
    assert shown.count("<tr data-row=") == 3
    for _ in range(5):
        widget.resample_button.click()
        if set(widget.report.rows["row"]) != first:
            break
    assert set(widget.report.rows["row"]) != first and widget.seed > 0


def test_a_frame_that_is_no_training_set_is_a_message(features: FeatureStore) -> None:
    plain = pd.DataFrame({"customer_id": [1], "ts": [T0]})
    widget = TrainingSetInspector(plain, store=features)
    assert "carries no training-set key" in widget.message and widget.body.layout.display == "none"
    train, vector = make_training_set(features)
    assert (
        "no timestamp column 'when'"
        in TrainingSetInspector(train, vector, timestamp_column="when", store=features).message
    )
    with pytest.raises(NbmlopsError, match="a training set is a DataFrame"):
        explain_training_set([1, 2], vector, store=features)
