"""`nbmlops predict --engine ray`: Ray Data actors score the same units through the same graph, and the output is
the local engine's to the byte (ids included); the run and the prediction log are the same too. A local Ray
with 2 CPUs, started once for the module (opt in with NBMLOPS_TEST_RAY=1: starting Ray takes 20-60 s here)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

if os.environ.get("NBMLOPS_TEST_RAY") != "1":
    pytest.skip("set NBMLOPS_TEST_RAY=1 to run the Ray Data batch scoring tests", allow_module_level=True)
ray = pytest.importorskip("ray")

import nbmlops  # noqa: E402
from nbmlops.serving import Graph  # noqa: E402


@pytest.fixture(scope="module", autouse=True)
def ray_runtime():
    for attempt in (1, 2):  # Ray waits a fixed 30 s for its node: a loaded machine can outlast it once
        try:  # address="local": a runtime of its own, never another process's cluster
            ray.init(address="local", num_cpus=2, include_dashboard=False, log_to_driver=False)
            break
        except Exception:
            ray.shutdown()
            if attempt == 2:
                raise
    yield
    ray.shutdown()


def logged(home: Path) -> pd.DataFrame:
    files = sorted((home / "monitoring" / "churn" / "predictions").rglob("*.parquet"))
    return pd.concat([pd.read_parquet(f) for f in files], ignore_index=True)


def test_ray_data_scores_exactly_as_the_local_engine(churn, vector, home: Path, tmp_path: Path) -> None:
    from nbmlops.tracking import get_store

    X = churn["X"]
    folder = tmp_path / "in"
    (folder / "b_part").mkdir(parents=True)  # path order is the rows' order: a, b_part/b, c
    X.iloc[:170].to_parquet(folder / "a.parquet", row_group_size=40)  # cut into ranges at chunk boundaries
    X.iloc[170:250].to_csv(folder / "b_part" / "b.csv", index=False)
    X.iloc[250:].assign(id=[f"row{i}" for i in range(50)]).to_parquet(folder / "c.parquet")  # the rows' own ids
    local = nbmlops.predict("churn@production", folder, tmp_path / "local.parquet", chunk_rows=25, engine="local")
    logged_local = logged(home)
    on_ray = nbmlops.predict("churn@production", folder, tmp_path / "ray.parquet", chunk_rows=25, engine="ray")
    assert local.read_bytes() == on_ray.read_bytes()
    scores = pd.read_parquet(on_ray)
    assert scores["prediction"].tolist() == churn[1].predict(X).tolist() and scores["id"].is_unique
    assert scores["id"].iloc[250:].tolist() == [f"row{i}" for i in range(50)]
    runs = sorted(get_store().list_runs(kind="predict"), key=lambda r: r.params["engine"])
    assert [r.params["engine"] for r in runs] == ["local", "ray"] and {r.status for r in runs} == {"succeeded"}
    assert runs[0].params["input_sha256"] == runs[1].params["input_sha256"]
    assert runs[1].params["model_version"] == "churn:1" and runs[1].metrics["rows"] == len(X)
    # the actors logged every prediction, as the local engine does: same ids, predictions and features
    from_ray = logged(home).iloc[len(logged_local) :]
    key = ["id", "prediction", "amount", "visits", "request_id", "model_version"]
    pd.testing.assert_frame_equal(
        from_ray[key].sort_values("id", ignore_index=True), logged_local[key].sort_values("id", ignore_index=True)
    )


def test_an_enriching_graph_with_nested_predictions(churn, vector, tmp_path: Path) -> None:
    entities = tmp_path / "entities.parquet"
    pd.DataFrame({"customer_id": np.r_[np.arange(0, 60), [99_999]]}).to_parquet(entities, row_group_size=10)
    graph = Graph().enrich(vector, impute=0.0).model("churn:2", method="predict_proba")
    local = nbmlops.predict(graph, entities, chunk_rows=7, log=False, engine="local")
    on_ray = nbmlops.predict(graph, entities, chunk_rows=7, log=False, engine="ray")
    pd.testing.assert_frame_equal(local, on_ray)
    X = churn["X"]
    expected = churn[2].predict_proba(pd.concat([X.iloc[:60], pd.DataFrame({"amount": [0.0], "visits": [0]})]))
    assert np.allclose(np.array(on_ray["prediction"].tolist()), expected)
