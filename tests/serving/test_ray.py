"""`--engine ray`: the graph as a Ray Serve deployment answers the same HTTP contract with the same predictions
(one bounded test: starting Ray and Serve takes a long while on a loaded 2-core machine)."""

from __future__ import annotations

import collections
import socket
import time

import httpx
import pytest

ray = pytest.importorskip("ray")
pytest.importorskip("ray.serve")

from prometheus_client.parser import text_string_to_metric_families  # noqa: E402

from nbmlops.serving import Graph  # noqa: E402
from nbmlops.serving.errors import GraphError  # noqa: E402
from nbmlops.serving.ray_engine import _deployment, deploy, stop  # noqa: E402
from nbmlops.serving.shared_metrics import PUSH_S  # noqa: E402


def test_replicas_auto_autoscales_up_to_the_clusters_cpus() -> None:
    auto = _deployment("auto", cpus=3)._deployment_config.autoscaling_config
    assert (auto.min_replicas, auto.max_replicas) == (1, 3)
    fixed = _deployment("2", cpus=3)
    assert fixed.num_replicas == 2 and fixed._deployment_config.autoscaling_config is None
    with pytest.raises(GraphError, match="--replicas must be at least 1 or 'auto', not 0"):
        _deployment(0, cpus=3)


def test_ray_serve_answers_as_the_embedded_server(churn) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    X = churn["X"].head(7)
    rows = [{"id": f"r{i}", **r} for i, r in enumerate(X.to_dict("records"))]
    try:
        url = deploy("churn@production", port=port, token="rt", replicas=2, timeout=400)
        auth = {"authorization": "Bearer rt"}
        assert httpx.post(f"{url}/predict", json={"rows": rows}, timeout=60).status_code == 401
        response = httpx.post(f"{url}/predict", json={"rows": rows}, headers=auth, timeout=60)
        assert response.status_code == 200, response.text
        body = response.json()
        embedded = Graph.from_model("churn@production").test(rows)
        assert {**body, "request_id": None} == {**embedded, "request_id": None}
        assert body["predictions"] == churn[1].predict(X).tolist() and body["model_version"] == "churn:1"
        mlflow = httpx.post(
            f"{url}/invocations", json={"dataframe_split": X.to_dict("split")}, headers=auth, timeout=60
        )
        assert mlflow.json() == {"predictions": churn[1].predict(X).tolist()}
        bad = httpx.post(f"{url}/predict", json={"rows": [{"amount": "x"}]}, headers=auth, timeout=60)
        assert bad.status_code == 422 and {d["column"] for d in bad.json()["detail"]} == {"amount", "visits"}
        assert httpx.get(f"{url}/health", timeout=60).json() == {"status": "ok"}
        # /metrics counts both replicas, whichever answers the scrape: 2 answered /predict, 2 of 401 and 422 each
        for _ in range(6):
            assert httpx.post(f"{url}/predict", json={"rows": rows}, headers=auth, timeout=60).status_code == 200
        time.sleep(PUSH_S * 2)  # each replica's last push
        for _ in range(3):
            scraped = httpx.get(f"{url}/metrics", headers=auth, timeout=60).text
            families = {f.name: f for f in text_string_to_metric_families(scraped)}
            served = [s for s in families["nbmlops_requests"].samples if s.name.endswith("_total")]
            by_status = collections.Counter()
            for sample in served:
                if sample.labels["route"] == "/predict":
                    by_status[sample.labels["status"]] += sample.value
            assert by_status == {"200": 7, "401": 1, "422": 1}, scraped
            replicas = {s.labels["replica"] for s in families["nbmlops_ready"].samples}
            assert len(replicas) == 2 and all(s.value == 1 for s in families["nbmlops_ready"].samples)
    finally:
        stop()
        ray.shutdown()
