"""What every browsing widget shows when the store can't be read or the name is unknown: a message inside the
widget (and in its static HTML), never an exception or a traceback; the refresh button reads again once the
database is back (RunsBrowser's own case is in test_runs_browser)."""

from __future__ import annotations

import socket
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression

from nbmlops.features import FeatureSet, FeatureStore
from nbmlops.registry import register_model
from nbmlops.store import open_store
from nbmlops.widgets import Deferred, DriftDashboard, FeatureBrowser, ModelRegistry, PipelineView, TrainingSetInspector


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def unreachable(home: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    url = f"postgresql+psycopg://nbmlops:nbmlops@127.0.0.1:{free_port()}/nowhere"
    monkeypatch.setenv("NBMLOPS_DB_URL", url)
    return url


def assert_message(widget, start: str) -> None:
    assert widget.message is not None and widget.message.startswith(start), widget.message
    assert widget.body.layout.display == "none"
    static = widget._repr_mimebundle_()["text/html"]
    assert "Traceback" not in static and widget.message[:30] in static.replace("&#x27;", "'")


def test_an_unreachable_database_is_a_message_until_it_is_back(
    unreachable: str, home: Path, make_notebook, monkeypatch: pytest.MonkeyPatch
) -> None:
    notebook = make_notebook([("x = 1", ["step:a"])])
    frame = pd.DataFrame({"customer_id": [1], "ts": pd.to_datetime(["2024-01-01"])})
    widgets = [
        ModelRegistry(home=home),
        FeatureBrowser(home=home),
        PipelineView(notebook, home=home),
        TrainingSetInspector(frame, home=home),
    ]
    for widget in widgets:
        assert_message(widget, "the database could not be read")
    monkeypatch.delenv("NBMLOPS_DB_URL")  # the database is back (the project's SQLite)
    store = open_store(home)
    data = pd.DataFrame({"a": np.arange(20.0)})
    register_model(LogisticRegression().fit(data, data["a"] > 9), "churn", store=store)
    features = FeatureStore(home)
    FeatureSet("tx", entities=["customer_id"], timestamp="ts").ingest(frame.assign(amount=[1.0]), store=features)
    models, browser, view, inspector = widgets
    for widget in (models, browser, view):
        widget.refresh_button.click()
        assert widget.message is None and widget.body.layout.display is None, (widget, widget.message)
    assert models.name == "churn" and browser.info.name == "tx" and view.spec.name
    inspector.refresh_button.click()  # the store is back, but this frame is no training set: that is the message
    assert inspector.message.startswith("this frame carries no training-set key")
    features.close()


def test_unknown_names_and_no_stored_results(store) -> None:
    data = pd.DataFrame({"a": np.arange(20.0)})
    register_model(LogisticRegression().fit(data, data["a"] > 9), "churn", reference_data=data, store=store)
    drift = Deferred("drift", lambda: DriftDashboard.history("churn", store=store))
    assert_message(drift, "no drift results stored for model 'churn'")
    unknown = Deferred("drift", lambda: DriftDashboard.history("nope", store=store))
    assert_message(unknown, "no model 'nope' in the registry")
    from nbmlops.monitoring import monitor_model

    monitor_model("churn", data.assign(a=data["a"] + 30), store=store)
    drift.refresh_button.click()
    assert drift.message is None and isinstance(drift.widget, DriftDashboard)
    assert "Dataset drift" in drift._repr_mimebundle_()["text/html"]
