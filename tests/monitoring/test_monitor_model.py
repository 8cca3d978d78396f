"""Monitoring registered models: stored reference profiles, results as a time series, logged windows with labels,
k-of-n alerts, the HTML report, the `monitor` CLI, and retraining on drift (@staging, lineage)."""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from nbmlops.cli.monitor import monitor
from nbmlops.errors import NbmlopsError
from nbmlops.monitoring import (
    AlertRule,
    feature_history,
    list_results,
    log_labels,
    log_predictions,
    monitor_model,
    set_settings,
)
from nbmlops.monitoring.storage import load_reference


def data(n: int, shift: float = 0.0, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "tenure": rng.normal(12 + shift * 10, 4, n),
            "spend": rng.gamma(2.0, 30 + shift * 40, n),
            "plan": rng.choice(["basic", "pro"], n, p=[0.7 - shift * 0.4, 0.3 + shift * 0.4]),
        }
    )


@pytest.fixture
def model(home: Path) -> str:
    from sklearn.linear_model import LogisticRegression

    from nbmlops.registry import register_model, set_alias

    X = data(3000)
    y = (X["tenure"] + X["spend"] / 20 > 15).astype(int)
    clf = LogisticRegression().fit(X[["tenure", "spend"]], y)
    register_model(clf, "churn", input_example=X[["tenure", "spend"]].head(), reference_data=X)
    set_alias("churn", "production", 1)
    return "churn@production"


def get_store():
    from nbmlops.tracking import get_store as store

    return store()


def test_monitor_stores_a_time_series_and_the_reference_once(model: str) -> None:
    store = get_store()
    assert load_reference(store, "churn", 1) is None
    first = monitor_model(model, data(2000, seed=1))
    assert load_reference(store, "churn", 1) is not None  # precomputed once, then only read
    second = monitor_model(model, data(2000, shift=1.0, seed=2))
    assert not first.drift.dataset_drift and second.drift.dataset_drift
    t = second.drift.table.set_index("feature")
    assert t.loc["prediction", "role"] == "prediction" and second.drift.prediction_drift
    results = list_results(store, "churn")
    assert list(results["id"]) == [second.result_id, first.result_id]
    series = feature_history(store, "churn", "tenure")
    assert list(series["result_id"]) == [first.result_id, second.result_id]
    assert series["drifted"].tolist() == [False, True]
    edges = store.edges("drift_result", second.result_id, "out")
    assert [(e.to_kind, e.to_id, e.relation) for e in edges] == [("model_version", "churn:1", "monitors")]


def test_window_of_logged_predictions_with_labels(model: str, home: Path) -> None:
    from nbmlops.registry import load_model

    clf = load_model(model)
    old, new = data(500, seed=3), data(800, seed=4)
    log_predictions("churn", old, clf.predict(old[["tenure", "spend"]]), ids=np.arange(500), timestamp=1_000.0)
    preds = clf.predict(new[["tenure", "spend"]])
    log_predictions("churn", new, preds, ids=np.arange(1000, 1800), timestamp=90_000.0)
    truth = preds.copy()
    truth[:80] = 1 - truth[:80]  # 90% right
    log_labels("churn", np.arange(1000, 1800), truth)
    run = monitor_model(model, window="1d", now=100_000.0)
    assert run.drift.n_current == 800  # the day-old batch is outside the window
    assert run.metrics["accuracy"] == pytest.approx(0.9) and run.metrics["n_labelled"] == 800
    assert {"precision", "recall", "f1", "roc_auc"} <= set(run.metrics)
    with pytest.raises(NbmlopsError, match="not a duration"):
        monitor_model(model, window="yesterday")


def test_alert_needs_k_of_n_windows(model: str) -> None:
    set_settings(get_store(), "churn", {"alert": AlertRule(k=2, n=3).to_dict()})
    drifted = data(2000, shift=1.0, seed=5)
    assert not monitor_model(model, drifted).alert
    assert not monitor_model(model, data(2000, seed=6)).alert
    third = monitor_model(model, drifted)
    assert third.alert and third.retraining is None
    assert bool(list_results(get_store(), "churn")["alert"].iloc[0])


def test_cli_run_report_history_configure_compare(model: str, tmp_path: Path) -> None:
    current = tmp_path / "live.parquet"
    data(1500, shift=1.0, seed=7).to_parquet(current)
    runner = CliRunner()
    out = runner.invoke(
        monitor,
        ["run", model, "--current", str(current), "--test", "tenure=ks", "--threshold", "spend=0.5"],
        catch_exceptions=False,
    )
    assert out.exit_code == 0, out.output
    assert "tenure" in out.output and "DRIFT" in out.output
    report = tmp_path / "report.html"
    monitor_model(model, data(1500, seed=8))
    out = runner.invoke(monitor, ["report", model, "--html", str(report)], catch_exceptions=False)
    assert out.exit_code == 0, out.output
    page = report.read_text()
    assert "Drift report" in page and "tenure" in page and "Drift over time" in page
    assert not re.search(r"<script[^>]+src=", page) and len(page) > 1_000_000  # plotly.js inline: works offline
    out = runner.invoke(monitor, ["history", "churn", "--json"], catch_exceptions=False)
    assert out.exit_code == 0 and len(json.loads(out.output)) == 2
    out = runner.invoke(
        monitor, ["configure", "churn", "--k", "1", "--n", "2", "--min-effect", "0.1"], catch_exceptions=False
    )
    assert out.exit_code == 0 and '"k": 1' in out.output and '"min_effect": 0.1' in out.output
    ref = tmp_path / "ref.csv"
    data(300).to_csv(ref, index=False)
    out = runner.invoke(monitor, ["compare", str(ref), str(current), "--json"], catch_exceptions=False)
    assert out.exit_code == 0 and '"dataset_drift": true' in out.output
    bad = runner.invoke(monitor, ["run", model])
    assert bad.exit_code == 2 and "needs --current FILE or --window" in bad.output
    bad = runner.invoke(monitor, ["configure", "churn", "--k", "3", "--n", "2"])
    assert bad.exit_code == 2 and "k <= n" in bad.output


RETRAIN = """
import numpy as np, pandas as pd
from sklearn.linear_model import LogisticRegression
from nbmlops.registry import register_model
rng = np.random.default_rng(1)
X = pd.DataFrame({"tenure": rng.normal(22, 4, 500), "spend": rng.gamma(2.0, 70, 500),
                  "plan": rng.choice(["basic", "pro"], 500)})
y = (X["tenure"] > 22).astype(int)
register_model(LogisticRegression().fit(X[["tenure", "spend"]], y), "churn", reference_data=X,
               input_example=X[["tenure", "spend"]].head())
"""


def test_drift_starts_retraining_registered_at_staging_with_lineage(model: str, make_notebook) -> None:
    notebook = make_notebook([(RETRAIN, "step:train")], name="retrain.ipynb")
    runner = CliRunner()
    out = runner.invoke(monitor, ["configure", "churn", "--on-drift", f"run {notebook}"], catch_exceptions=False)
    assert out.exit_code == 0
    run = monitor_model(model, data(2000, shift=1.0, seed=9), capture_retraining=True)
    assert run.alert and run.retraining is not None
    assert run.retraining.returncode == 0 and run.retraining.versions == ["churn:2"]
    from nbmlops.registry import get_model_version

    assert get_model_version("churn@staging").version == 2
    assert get_model_version("churn@production").version == 1  # a person promotes it
    store = get_store()
    edges = store.edges("drift_result", run.result_id, "in")
    assert ("model_version", "churn:2", "triggered_by") in {(e.from_kind, e.from_id, e.relation) for e in edges}
    assert any(e.from_kind == "run" for e in edges)


def test_window_over_a_file_timestamp_column_and_prepare(model: str, tmp_path: Path) -> None:
    frame = data(1200, seed=10)
    frame["timestamp"] = pd.to_datetime(100_000, unit="s") - pd.to_timedelta(np.arange(1200) * 100, unit="s")
    path = tmp_path / "live.csv"
    frame.to_csv(path, index=False)
    run = monitor_model(model, pd.read_csv(path, parse_dates=["timestamp"]), window="12h", now=100_000.0)
    assert run.drift.n_current == 433  # 43,200 s / 100 s, both ends included
    assert run.window_end == 100_000.0 and run.window_start == 100_000.0 - 43_200
    with pytest.raises(NbmlopsError, match="needs a 'timestamp' column"):
        monitor_model(model, data(100), window="1d")
    out = CliRunner().invoke(monitor, ["prepare", model, "--rebuild"], catch_exceptions=False)
    assert out.exit_code == 0 and "reference profile of churn:1: 3000 rows, 4 columns (with predictions)" in out.output


def strict_json(text: str):
    def refuse(constant: str):
        raise ValueError(f"not JSON: {constant}")

    return json.loads(text, parse_constant=refuse)  # Python's json would accept Infinity / NaN


def test_cli_json_is_strict_json_at_full_precision(model: str, tmp_path: Path) -> None:
    current = data(1500, seed=11)
    current.loc[:299, "plan"] = "enterprise"  # never seen in the reference: Evidently's chi-square = inf, p = 0
    path = tmp_path / "live.parquet"
    current.to_parquet(path)
    runner = CliRunner()
    out = runner.invoke(
        monitor,
        ["run", model, "--current", str(path), "--test", "plan=evidently:chisquare", "--json"],
        catch_exceptions=False,
    )
    assert out.exit_code == 0, out.output
    found = strict_json(out.output)
    plan = next(f for f in found["features"] if f["feature"] == "plan")
    assert plan["test"] == "evidently:chisquare" and plan["statistic"] is None and plan["p_value"] == 0.0
    assert plan["drifted"] is True and plan["unseen_current"] == pytest.approx(0.2)
    tenure = next(f for f in found["features"] if f["feature"] == "tenure")
    assert isinstance(tenure["score"], float) and tenure["n_current"] == 1500
    stored = load_result_table(found["result_id"])
    assert math.isinf(stored.loc["plan", "statistic"])  # the store keeps the real value; only JSON says null

    ref = tmp_path / "ref.csv"
    data(3000).to_csv(ref, index=False)
    out = runner.invoke(
        monitor,
        ["compare", str(ref), str(path), "--test", "plan=evidently:chisquare", "--json"],
        catch_exceptions=False,
    )
    compared = {f["feature"]: f for f in strict_json(out.output)["features"]}
    assert compared["plan"]["statistic"] is None and compared["plan"]["p_value"] == 0.0
    # the default chi-square (homogeneity): the unseen category is one more column, the statistic finite
    out = runner.invoke(
        monitor, ["compare", str(ref), str(path), "--test", "plan=chisquare", "--json"], catch_exceptions=False
    )
    calibrated = {f["feature"]: f for f in strict_json(out.output)["features"]}["plan"]
    assert calibrated["test"] == "chisquare" and calibrated["statistic"] > 100 and calibrated["drifted"] is True
    assert 0 < calibrated["p_value"] < 1e-50
    # full precision, unlike DataFrame.to_json's 10 decimals: a tiny p-value is not rounded to 0
    out = runner.invoke(monitor, ["compare", str(ref), str(path), "--test", "ks", "--json"], catch_exceptions=False)
    tiny = {f["feature"]: f for f in strict_json(out.output)["features"]}
    from nbmlops.monitoring import detect_drift, read_table

    expected = detect_drift(read_table(str(ref)), read_table(str(path)), "ks").table.set_index("feature")
    assert tiny["spend"]["p_value"] == expected.loc["spend", "p_value"]
    # labels of one class only: ROC AUC is undefined (NaN), printed as null
    logged = data(400, seed=12)
    log_predictions("churn", logged, np.ones(400, dtype=int), ids=np.arange(400))
    log_labels("churn", np.arange(400), np.ones(400, dtype=int))
    out = runner.invoke(monitor, ["run", model, "--window", "1d", "--json"], catch_exceptions=False)
    assert out.exit_code == 0, out.output
    metrics = strict_json(out.output)["metrics"]
    assert metrics["roc_auc"] is None and metrics["accuracy"] == 1.0
    for args in (
        ["history", "churn", "--json"],
        ["history", "churn", "--feature", "plan", "--json"],
        ["configure", "churn", "--json"],
    ):
        out = runner.invoke(monitor, args, catch_exceptions=False)
        assert out.exit_code == 0, out.output
        strict_json(out.output)


def load_result_table(result_id: str) -> pd.DataFrame:
    from nbmlops.monitoring.storage import load_result

    return load_result(get_store(), result_id)[1].table.set_index("feature")


def _count(store, sql: str, **params) -> int:
    return int(store.db.query(f"SELECT COUNT(*) AS n FROM {sql}", params)[0]["n"])


def _register(store, name: str, reference: pd.DataFrame):
    from sklearn.linear_model import LogisticRegression

    from nbmlops.registry import register_model

    y = (reference["tenure"] > 12).astype(int)
    clf = LogisticRegression().fit(reference[["tenure", "spend"]], y)
    return register_model(
        clf, name, reference_data=reference, input_example=reference[["tenure", "spend"]].head(), store=store
    )


def test_deleting_a_version_or_model_deletes_its_drift_history(store) -> None:
    """SQLite and PostgreSQL (db_url fixture): the monitoring rows go in the registry's deleting transaction."""
    from nbmlops.registry import delete_model, delete_model_version

    v1, v2 = _register(store, "churn", data(1500, seed=20)), _register(store, "churn", data(1500, seed=21))
    other = _register(store, "other", data(1500, seed=22))
    runs = {
        uri: [
            monitor_model(uri, data(800, shift=s, seed=30 + i), store=store).result_id for i, s in enumerate((0.0, 1.0))
        ]
        for uri in ("churn:1", "churn:2", "other:1")
    }
    set_settings(store, "churn", {"min_effect": 0.1})
    set_settings(store, "other", {"min_effect": 0.2})
    # a retrained version's own record of why it exists: kept when the result it points at goes
    store.add_edge("model_version", "churn:2", "drift_result", runs["churn:1"][1], "triggered_by")
    profile_1 = store.db.query(
        "SELECT sha256 FROM monitor_references WHERE model_name = 'churn' AND model_version = 1"
    )[0]["sha256"]
    assert store.artifacts.exists(profile_1)

    assert delete_model_version("churn:1", store=store) == 1
    assert set(list_results(store, "churn")["id"]) == set(runs["churn:2"])
    assert set(feature_history(store, "churn")["result_id"]) == set(runs["churn:2"])
    for gone in runs["churn:1"]:
        assert _count(store, "drift_features WHERE result_id = :r", r=gone) == 0
        assert store.edges("drift_result", gone, "out") == []
    assert load_reference(store, "churn", 1) is None and load_reference(store, "churn", 2) is not None
    assert not store.artifacts.exists(profile_1)  # the profile blob went with its row
    assert ("model_version", "churn:2", "triggered_by") in {
        (e.from_kind, e.from_id, e.relation) for e in store.edges("drift_result", runs["churn:1"][1], "in")
    }
    assert get_settings_of(store, "churn") == {"min_effect": 0.1}  # a version goes, the model's settings stay
    kept = runs["churn:2"][0]
    assert [(e.to_kind, e.to_id) for e in store.edges("drift_result", kept, "out")] == [("model_version", "churn:2")]

    assert delete_model("churn", store=store) == [2]
    assert list_results(store, "churn").empty and feature_history(store, "churn").empty
    assert _count(store, "drift_features WHERE model_name = 'churn'") == 0
    assert _count(store, "monitor_references WHERE model_name = 'churn'") == 0
    assert get_settings_of(store, "churn") == {}
    assert store.edges("drift_result", kept, "out") == []
    # nothing of the other model is touched
    assert set(list_results(store, "other")["id"]) == set(runs["other:1"])
    assert _count(store, "drift_features WHERE model_name = 'other'") == 2 * 4  # 3 columns + the prediction
    assert load_reference(store, "other", 1) is not None and get_settings_of(store, "other") == {"min_effect": 0.2}
    assert store.artifacts.exists(other.artifact_sha256) and (v1.version, v2.version) == (1, 2)


def get_settings_of(store, name: str) -> dict:
    from nbmlops.monitoring import get_settings

    return get_settings(store, name)


def test_models_rm_deletes_the_drift_history(model: str) -> None:
    from nbmlops.cli.models import models

    monitor_model(model, data(800, seed=40))
    store = get_store()
    assert len(list_results(store, "churn")) == 1
    out = CliRunner().invoke(models, ["rm", "churn", "--yes"], catch_exceptions=False)
    assert out.exit_code == 0, out.output
    assert list_results(store, "churn").empty and load_reference(store, "churn", 1) is None
    assert _count(store, "drift_features") == 0


def test_a_process_that_never_imported_monitoring_deletes_its_rows(model: str, home: Path) -> None:
    """`nbmlops models rm` or a script calling delete_model_version: the registry finds monitoring's deletion
    callback without anything having imported nbmlops.monitoring (and importing the registry does not)."""
    import os
    import subprocess
    import sys
    import textwrap

    monitor_model(model, data(800, seed=41))
    store = get_store()
    assert len(list_results(store, "churn")) == 1 and load_reference(store, "churn", 1) is not None
    code = textwrap.dedent("""
        import sys
        from nbmlops.registry import delete_model_version
        before = "nbmlops.monitoring" in sys.modules
        delete_model_version("churn:1")
        print(before)
    """)
    done = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "NBMLOPS_HOME": str(home)},
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["False"]
    assert list_results(store, "churn").empty and load_reference(store, "churn", 1) is None
    assert _count(store, "drift_features") == 0 and _count(store, "monitor_references") == 0
