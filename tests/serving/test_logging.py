"""Prediction logging off the request path: batched into the monitoring log with request id, model version and
features; labels by POST /labels and nbmlops.log_label; a full queue drops and counts; shadow predictions logged
apart; monitor_model joins the logged predictions to the late labels."""

from __future__ import annotations

from pathlib import Path

import httpx
import numpy as np
import pandas as pd
import pytest
from test_http_server import metric  # same folder: pytest puts it on sys.path

import nbmlops
from nbmlops.errors import NbmlopsError
from nbmlops.serving import Graph, PredictionLog, Shadow, serve


def logged(home: Path, name: str, kind: str = "predictions") -> pd.DataFrame:
    files = sorted((home / "monitoring" / name / kind).glob("*.parquet"))
    assert files, f"nothing logged under {home / 'monitoring' / name / kind}"
    return pd.concat([pd.read_parquet(f) for f in files], ignore_index=True)


def test_served_predictions_and_labels_reach_monitoring(churn, home: Path) -> None:
    X, y = churn["X"], churn["y"]
    with serve("churn@production") as running:
        request_ids = []
        for start in range(0, 200, 20):  # 10 requests of 20 rows; rows 100+ carry the client's ids
            chunk = X.iloc[start : start + 20]
            rows = chunk.to_dict("records")
            if start >= 100:
                rows = [{"id": f"c{start + i}", **r} for i, r in enumerate(rows)]
            body = httpx.post(f"{running.url}/predict", json={"rows": rows}).json()
            request_ids.append(body["request_id"])
            labels = [{"id": i, "label": int(v)} for i, v in zip(body["ids"], y.iloc[start : start + 20], strict=True)]
            if start < 100:
                assert httpx.post(f"{running.url}/labels", json={"labels": labels}).status_code == 202
            else:  # from Python, as a label arriving later elsewhere would
                for label in labels:
                    nbmlops.log_label(label["id"], label["label"], model="churn")
        single = httpx.post(f"{running.url}/predict", json={"rows": [X.iloc[250].to_dict()]}).json()
        nbmlops.log_label(single["request_id"], int(y.iloc[250]))  # the model is read from the request id
        assert running.service.log.drain(30)
        text = httpx.get(f"{running.url}/metrics").text
        assert metric(text, "nbmlops_prediction_log_rows_total") == 201
        assert metric(text, "nbmlops_prediction_log_labels_total") == 100
        assert metric(text, "nbmlops_prediction_log_dropped_rows_total") == 0
    frame = logged(home, "churn")
    assert len(frame) == 201
    assert set(frame.columns) >= {"amount", "visits", "prediction", "id", "request_id", "model_version", "timestamp"}
    assert set(frame["model_version"]) == {"churn:1"}
    assert set(frame["request_id"]) == {*request_ids, single["request_id"]}
    by_id = frame.set_index("id")
    assert (
        by_id.loc["c150", "amount"] == X.amount[150]
        and by_id.loc["c150", "prediction"] == churn[1].predict(X.iloc[[150]])[0]
    )
    first = request_ids[0]
    assert by_id.loc[f"{first}.3", "visits"] == X.visits[3]
    assert len(list((home / "monitoring" / "churn" / "predictions").glob("*.parquet"))) < 11  # batched

    from nbmlops.monitoring import monitor_model

    run = monitor_model("churn@production", window="1h", progress=False)
    expected = float((churn[1].predict(X.iloc[:200]) == y.iloc[:200]).mean())
    assert run.metrics["accuracy"] == pytest.approx((expected * 200 + 1) / 201, abs=1e-9)


def test_log_label_needs_the_model_for_a_clients_own_id(home) -> None:
    with pytest.raises(NbmlopsError, match="model="):
        nbmlops.log_label("order42", 1)


def test_a_full_queue_drops_and_counts(churn, home: Path) -> None:
    graph = Graph.from_model("churn@production").load()
    sink = PredictionLog(home, max_queue=2, start=False)
    results = [graph.answer(churn["X"].iloc[i : i + 3]) for i in range(5)]
    accepted = [sink.submit(r) for r in results]
    assert accepted == [True, True, False, False, False]
    assert sink.dropped_rows == 9 and sink.depth == 2
    sink.start()
    assert sink.drain(30)
    assert sink.logged_rows == 6 and len(logged(home, "churn")) == 6
    sink.close()


def test_shadow_predictions_are_logged_and_compared_never_answered(churn, home: Path) -> None:
    X = churn["X"].head(30)
    with serve(Graph().model(Shadow("churn:1", "churn:2"))) as running:
        bodies = [
            httpx.post(f"{running.url}/predict", json={"rows": X.iloc[i : i + 10].to_dict("records")}).json()
            for i in range(0, 30, 10)
        ]
        assert {b["model_version"] for b in bodies} == {"churn:1"}
        assert sum((b["predictions"] for b in bodies), []) == churn[1].predict(X).tolist()
        assert running.service.log.drain(30)
        text = httpx.get(f"{running.url}/metrics").text
    disagree = int(np.sum(churn[1].predict(X) != churn[2].predict(X)))
    assert metric(text, "nbmlops_shadow_predictions_total", agree="false") == disagree
    assert metric(text, "nbmlops_shadow_predictions_total", agree="true") == 30 - disagree
    shadow = logged(home, "churn@shadow")
    assert set(shadow["model_version"]) == {"churn:2"} and len(shadow) == 30
    assert sorted(shadow["prediction"]) == sorted(churn[2].predict(X))
    assert len(logged(home, "churn")) == 30


def test_client_ids_of_any_type_are_logged_and_joined_as_strings(churn, home: Path) -> None:
    X, y = churn["X"], churn["y"]
    with serve("churn@production") as running:
        for start, ids in ((0, list(range(10))), (10, [f"k{i}" for i in range(10)])):
            rows = [{"id": i, **r} for i, r in zip(ids, X.iloc[start : start + 10].to_dict("records"), strict=True)]
            assert httpx.post(f"{running.url}/predict", json={"rows": rows}).json()["ids"] == ids
            labels = [{"id": i, "label": int(v)} for i, v in zip(ids, y.iloc[start : start + 10], strict=True)]
            assert httpx.post(f"{running.url}/labels", json={"labels": labels}).status_code == 202
        assert running.service.log.drain(30)
        assert running.service.log.write_errors == 0
    frame = logged(home, "churn")
    assert sorted(frame["id"]) == sorted([str(i) for i in range(10)] + [f"k{i}" for i in range(10)])
    from nbmlops.monitoring import monitor_model

    run = monitor_model("churn@production", window="1h", progress=False)
    expected = float((churn[1].predict(X.iloc[:20]) == y.iloc[:20]).mean())
    assert run.metrics["accuracy"] == pytest.approx(expected, abs=1e-9)
