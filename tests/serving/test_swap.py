"""Following alias moves under load: several client threads keep sending while churn@production moves from 1 to
2; no request fails or goes unanswered, each answer names the version that computed it, and versions switch once.
A version that can't replace the serving one (other inputs, a tampered artifact) leaves it serving and shows in
/metrics."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import httpx
import pytest
from serving_helpers import training_data
from test_http_server import metric  # same folder: pytest puts it on sys.path

from nbmlops.registry import register_model, set_alias
from nbmlops.serving import serve

CLIENTS = 4


def wait_for(condition, timeout: float = 60.0, what: str = "") -> None:  # noqa: ANN001
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.02)


def test_an_alias_move_under_load_fails_and_drops_nothing(churn) -> None:
    X = churn["X"].head(5)
    rows = X.to_dict("records")
    expected = {f"churn:{v}": churn[v].predict(X).tolist() for v in (1, 2)}
    stop = threading.Event()
    answers: list[list[tuple[int, str | None, list | None]]] = [[] for _ in range(CLIENTS)]
    sent = [0] * CLIENTS
    errors: list[BaseException] = []
    with serve("churn@production", poll_s=0.05) as running:

        def client(k: int) -> None:
            try:
                with httpx.Client(base_url=running.url, timeout=60) as http:
                    while not stop.is_set():
                        sent[k] += 1
                        response = http.post("/predict", json={"rows": rows})
                        body = response.json()
                        answers[k].append((response.status_code, body.get("model_version"), body.get("predictions")))
            except BaseException as exc:  # noqa: BLE001 - reported by the test below
                errors.append(exc)

        threads = [threading.Thread(target=client, args=(k,)) for k in range(CLIENTS)]
        for t in threads:
            t.start()
        wait_for(lambda: all(len(a) >= 20 for a in answers), what="20 answers per client before the move")
        set_alias("churn", "production", 2)
        moved_at = [len(a) for a in answers]
        wait_for(
            lambda: all(
                any(v == "churn:2" for _, v, _ in a[moved_at[k] :])
                and len(a) >= moved_at[k] + 20 + sum(v == "churn:1" for _, v, _ in a[moved_at[k] :])
                for k, a in enumerate(answers)
            ),
            what="20 answers per client from churn:2",
        )
        stop.set()
        for t in threads:
            t.join(60)
        text = httpx.get(f"{running.url}/metrics").text
    assert not errors
    assert [len(a) for a in answers] == sent  # every request sent was answered
    for series in answers:
        assert {status for status, _, _ in series} == {200}
        versions = [v for _, v, _ in series]
        switch = versions.index("churn:2")
        assert set(versions[:switch]) == {"churn:1"} and set(versions[switch:]) == {"churn:2"}  # switched once
        assert all(p == expected[v] for _, v, p in series)  # each answer came from the version it names
    assert metric(text, "nbmlops_model_swaps_total", step="churn@production") == 1
    assert metric(text, "nbmlops_model_info", step="churn@production", version="churn:2") == 1


def test_a_version_that_cant_replace_the_serving_one_is_reported(churn) -> None:
    from sklearn.linear_model import LogisticRegression

    from nbmlops.tracking import get_store

    X, y = training_data()
    with serve("churn@production", poll_s=0.05, log_predictions=False) as running:
        other_inputs = register_model(
            LogisticRegression().fit(X[["amount"]], y), "churn", input_example=X[["amount"]].head()
        )
        set_alias("churn", "production", other_inputs.version)
        wait_for(lambda: running.graph.models()[0].failures, what="the failed load")
        tampered = register_model(LogisticRegression().fit(X, y), "churn", input_example=X.head())
        Path(get_store().artifacts.uri(tampered.artifact_sha256)).write_bytes(b"not the registered model")
        set_alias("churn", "production", tampered.version)
        wait_for(lambda: len(running.graph.models()[0].failures) == 2, what="the second failed load")
        response = httpx.post(f"{running.url}/predict", json={"rows": X.head(3).to_dict("records")})
        assert response.status_code == 200 and response.json()["model_version"] == "churn:1"
        assert response.json()["predictions"] == churn[1].predict(X.head(3)).tolist()
        text = httpx.get(f"{running.url}/metrics").text
    assert metric(text, "nbmlops_model_load_failures_total", step="churn@production") == 2
    assert metric(text, "nbmlops_model_info", step="churn@production", version="churn:1") == 1
    failures = running.graph.models()[0].failures
    assert failures[0].version == f"churn:{other_inputs.version}" and "can't replace churn:1" in failures[0].reason
    assert failures[1].version == f"churn:{tampered.version}" and "ModelIntegrityError" in failures[1].reason
    assert f'version="churn:{tampered.version}"' in text
