"""The HTTP contract on a real uvicorn on 127.0.0.1: /predict, MLflow's /invocations formats and answer, /health,
/ready, /metrics, /, the bearer token, and every bad input answered (400, 413, 422, 500, 503 + Retry-After)
without the server going down, each counted in /metrics."""

from __future__ import annotations

import threading
import time

import httpx
import pandas as pd
import pytest

from nbmlops.serving import Graph, serve


@pytest.fixture
def server(churn):
    running = serve("churn@production", log_predictions=False)
    yield running
    running.stop()


def metric(text: str, name: str, **labels: str) -> float:
    """The value of one sample in Prometheus text (0 where absent)."""
    want = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
    for line in text.splitlines():
        if line.startswith("#"):
            continue
        key, _, value = line.rpartition(" ")
        head, _, rest = key.partition("{")
        given = ",".join(sorted(rest.rstrip("}").split(","))) if rest else ""
        if head == name and given == want:
            return float(value)
    return 0.0


def test_predict_answers_rows_with_version_request_id_and_ids(server, churn) -> None:
    X = churn["X"].head(8)
    rows = [{"id": f"r{i}", **r} for i, r in enumerate(X.to_dict("records"))]
    response = httpx.post(f"{server.url}/predict", json={"rows": rows})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["predictions"] == churn[1].predict(X).tolist()
    assert body["model_version"] == "churn:1" and body["ids"] == [f"r{i}" for i in range(8)]
    assert response.headers["x-request-id"] == body["request_id"] and response.headers["x-model-version"] == "churn:1"
    assert body == {**Graph.from_model("churn@production").test(rows), "request_id": body["request_id"]}


@pytest.mark.parametrize(
    "form", ["dataframe_split", "dataframe_records", "instances", "inputs", "instances_lists", "inputs_columns", "csv"]
)
def test_invocations_take_mlflows_formats_and_answer_as_mlflow(server, churn, form: str) -> None:
    X = churn["X"].iloc[10:16]
    records = X.to_dict("records")
    bodies = {
        "dataframe_split": {"json": {"dataframe_split": X.to_dict("split") | {"index": None}}},
        "dataframe_records": {"json": {"dataframe_records": records}},
        "instances": {"json": {"instances": records}},
        "inputs": {"json": {"inputs": records}},
        "instances_lists": {"json": {"instances": X.to_numpy().tolist()}},
        "inputs_columns": {"json": {"inputs": {c: X[c].tolist() for c in X.columns}}},
        "csv": {"content": X.to_csv(index=False), "headers": {"content-type": "text/csv"}},
    }
    response = httpx.post(f"{server.url}/invocations", **bodies[form])
    assert response.status_code == 200, response.text
    assert response.json() == {"predictions": churn[1].predict(X).tolist()}


def test_health_ready_index_and_metrics(server) -> None:
    assert httpx.get(f"{server.url}/health").json() == {"status": "ok"}
    assert httpx.get(f"{server.url}/ready").json() == {"ready": True, "model_version": "churn:1"}
    index = httpx.get(f"{server.url}/").json()
    assert index["graph"] == "churn" and index["model_version"] == "churn:1" and index["ready"] is True
    assert [c["name"] for c in index["signature"]["columns"]] == ["amount", "visits"]
    ping = httpx.get(f"{server.url}/ping")  # MLflow's readiness probe, as its clients call it
    assert ping.status_code == 200 and ping.text == "\n"
    httpx.post(f"{server.url}/predict", json={"rows": [{"amount": 1.0, "visits": 1}]})
    text = httpx.get(f"{server.url}/metrics").text
    assert metric(text, "nbmlops_requests_total", route="/predict", status="200") == 1
    assert metric(text, "nbmlops_request_latency_seconds_count", route="/predict") == 1
    assert metric(text, "nbmlops_model_info", step="churn@production", version="churn:1") == 1
    assert metric(text, "nbmlops_requests_in_flight") == 0 and metric(text, "nbmlops_ready") == 1


def test_ready_is_503_until_the_model_exists(home) -> None:
    with serve("late@production", wait=False, log_predictions=False, poll_s=0.1) as running:
        response = httpx.get(f"{running.url}/ready")
        assert response.status_code == 503 and response.headers["retry-after"] == "1"
        assert "no model 'late'" in response.json()["message"]
        predict = httpx.post(f"{running.url}/predict", json={"rows": [{"amount": 1.0, "visits": 1}]})
        assert predict.status_code == 503 and predict.headers["retry-after"] == "1"
        assert httpx.get(f"{running.url}/ping").status_code == 404  # as mlflow models serve before its model
        assert httpx.get(f"{running.url}/health").status_code == 200
        from serving_helpers import training_data
        from sklearn.linear_model import LogisticRegression

        from nbmlops.registry import register_model, set_alias

        X, y = training_data()
        register_model(LogisticRegression().fit(X, y), "late", input_example=X.head())
        set_alias("late", "production", 1)
        running.wait_ready(60)
        assert httpx.get(f"{running.url}/ready").status_code == 200


def test_the_token_guards_every_route_but_health(churn, monkeypatch) -> None:
    monkeypatch.setenv("NBMLOPS_SERVE_TOKEN", "s3cret")
    with serve("churn@production", log_predictions=False) as running:
        for method, path in (
            ("POST", "/predict"),
            ("POST", "/invocations"),
            ("GET", "/ready"),
            ("GET", "/metrics"),
            ("GET", "/"),
            ("POST", "/labels"),
        ):
            for headers in ({}, {"authorization": "Bearer wrong"}, {"authorization": "s3cret"}):
                response = httpx.request(
                    method, f"{running.url}{path}", headers=headers, json={"rows": [{"amount": 1.0, "visits": 1}]}
                )
                assert response.status_code == 401, (path, headers)
        assert httpx.get(f"{running.url}/health").status_code == 200
        good = {"authorization": "Bearer s3cret"}
        response = httpx.post(f"{running.url}/predict", headers=good, json={"rows": [{"amount": 1.0, "visits": 1}]})
        assert response.status_code == 200
        text = httpx.get(f"{running.url}/metrics", headers=good).text
        assert metric(text, "nbmlops_request_errors_total", route="/predict", status="401") == 3


def test_bad_input_is_answered_and_counted(churn) -> None:
    with serve("churn@production", log_predictions=False, max_body_bytes=10_000) as running:
        url = running.url
        bad_json = httpx.post(f"{url}/predict", content=b'{"rows": [', headers={"content-type": "application/json"})
        assert bad_json.status_code == 400 and "not valid JSON" in bad_json.json()["message"]
        assert httpx.post(f"{url}/predict", json={"data": []}).status_code == 400
        assert httpx.post(f"{url}/invocations", json={"instances": [], "inputs": []}).status_code == 400
        big = httpx.post(f"{url}/predict", json={"rows": [{"amount": 1.0, "visits": 1}] * 2000})
        assert big.status_code == 413

        def chunks():  # no Content-Length: the limit still holds while streaming
            yield b'{"rows": ['
            for _ in range(1000):
                yield b'{"amount": 1.0, "visits": 1},'
            yield b"{}]}"

        assert httpx.post(f"{url}/predict", content=chunks()).status_code == 413
        typed = httpx.post(f"{url}/predict", json={"rows": [{"amount": "x", "visits": 1, "extra": 2}]})
        assert typed.status_code == 422
        detail = {d["column"]: d for d in typed.json()["detail"]}
        assert detail["amount"]["expected"] == "float64" and detail["extra"]["problem"] == "unexpected column"
        missing = httpx.post(f"{url}/invocations", json={"dataframe_records": [{"amount": 3.0}]})
        assert missing.status_code == 422 and "'visits': missing (expected int64)" in missing.json()["message"]
        raised = httpx.post(f"{url}/predict", json={"rows": [{"amount": None, "visits": 1}]})
        assert raised.status_code == 500
        assert raised.json()["request_id"] in raised.json()["message"]
        again = httpx.post(f"{url}/predict", json={"rows": [{"amount": 3.0, "visits": 1}]})
        assert again.status_code == 200  # the server is alive after every one of them
        text = httpx.get(f"{url}/metrics").text
        for route, status, count in (
            ("/predict", "400", 2),
            ("/invocations", "400", 1),
            ("/predict", "413", 2),
            ("/predict", "422", 1),
            ("/invocations", "422", 1),
            ("/predict", "500", 1),
            ("/predict", "200", 1),
        ):
            assert metric(text, "nbmlops_requests_total", route=route, status=status) == count, (route, status)


def test_more_requests_than_the_bound_get_503_with_retry_after(churn) -> None:
    release = threading.Event()

    def slow(frame: pd.DataFrame) -> pd.DataFrame:
        release.wait(30)
        return frame

    graph = Graph().transform(slow).model("churn@production")
    with serve(graph, log_predictions=False, max_pending=2, threads=2) as running:
        answers: list[httpx.Response] = []

        def call() -> None:
            answers.append(
                httpx.post(f"{running.url}/predict", json={"rows": [{"amount": 1.0, "visits": 1}]}, timeout=60)
            )

        first = [threading.Thread(target=call) for _ in range(2)]
        for t in first:
            t.start()
        deadline = time.monotonic() + 30
        while running.service.in_flight < 2 and time.monotonic() < deadline:
            time.sleep(0.01)
        extra = [threading.Thread(target=call) for _ in range(3)]
        for t in extra:
            t.start()
        for t in extra:
            t.join(30)
        refused = [a for a in answers if a.status_code == 503]
        assert len(refused) == 3 and all(a.headers["retry-after"] == "1" for a in refused)
        assert "queued or running" in refused[0].json()["message"]
        release.set()
        for t in first:
            t.join(30)
        assert sorted(a.status_code for a in answers) == [200, 200, 503, 503, 503]
        text = httpx.get(f"{running.url}/metrics").text
        assert metric(text, "nbmlops_requests_total", route="/predict", status="503") == 3


def test_merged_metrics_keep_one_block_per_family_with_each_process_labelled() -> None:
    """What a Ray Serve scrape answers: every replica's samples, labelled, in a text Prometheus parses."""
    from prometheus_client.parser import text_string_to_metric_families

    from nbmlops.serving.metrics import Metrics, merge

    texts = {}
    for name, served in (("a", 3), ("b", 2)):
        metrics = Metrics(lambda: {"in_flight": 0, "ready": True, "models": [], "log": None})
        for _ in range(served):
            metrics.observe("/predict", 200, 0.002)
        texts[name] = metrics.own_text()
    merged = merge(texts).decode()
    families = {f.name: f for f in text_string_to_metric_families(merged)}
    assert merged.count("# TYPE nbmlops_requests_total counter") == 1
    counted = {s.labels["replica"]: s.value for s in families["nbmlops_requests"].samples if s.name.endswith("_total")}
    assert counted == {"a": 3.0, "b": 2.0}
    latency = [s for s in families["nbmlops_request_latency_seconds"].samples if s.name.endswith("_count")]
    assert sorted((s.labels["replica"], s.value) for s in latency) == [("a", 3.0), ("b", 2.0)]


def test_a_process_that_stopped_pushing_drops_out_of_the_shared_metrics(tmp_path) -> None:
    import os

    from nbmlops.serving.shared_metrics import EXPIRE_S, FolderBoard

    board = FolderBoard(tmp_path / "board")
    board.put("101", b"a")
    board.put("102", b"b")
    stale = time.time() - EXPIRE_S - 1
    os.utime(tmp_path / "board" / "101.prom", (stale, stale))  # a worker killed a while ago
    assert board.all() == {"102": b"b"}
    board.drop("102")  # a worker's clean exit
    assert board.all() == {} and [p.name for p in (tmp_path / "board").iterdir()] == ["101.prom"]
