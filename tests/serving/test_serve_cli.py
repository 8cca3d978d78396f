"""`nbmlops serve` as a real process (a model URI with a token; a graph file with two uvicorn workers), targets
that can't be served, and `nbmlops predict` over a folder: a recorded run, the scores, the logged predictions."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import httpx
import pandas as pd
import pytest
from click.testing import CliRunner
from prometheus_client.parser import text_string_to_metric_families

from nbmlops.cli.main import main
from nbmlops.serving import Graph, GraphError, load_target
from nbmlops.serving.shared_metrics import PUSH_S

NBMLOPS = str(Path(sys.executable).with_name("nbmlops"))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_ready(url: str, process: subprocess.Popen, headers: dict | None = None, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"the server exited with {process.returncode}: {process.stderr.read().decode()[-2000:]}")
        try:
            if httpx.get(f"{url}/ready", headers=headers, timeout=5).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    pytest.fail(f"{url} was not ready within {timeout}s")


def stop(process: subprocess.Popen) -> None:
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(10)


def test_serve_a_graph_file_with_two_workers_and_a_token(churn, tmp_path: Path) -> None:
    graph_file = tmp_path / "churn_graph.py"
    graph_file.write_text(
        textwrap.dedent("""
        from nbmlops.serving import Graph
        graph = (Graph().transform(lambda df: df.assign(amount=df["amount"] + 10), name="shift")
                 .model("churn@production").post(lambda p, rows: [f"class {x}" for x in p]))
    """)
    )
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    process = subprocess.Popen(
        [NBMLOPS, "serve", f"{graph_file}:graph", "--port", str(port), "--workers", "2"],
        env={**os.environ, "NBMLOPS_SERVE_TOKEN": "t0k"},
        stderr=subprocess.PIPE,
    )
    try:
        auth = {"authorization": "Bearer t0k"}
        wait_ready(url, process, auth)
        X = churn["X"].head(6)
        rows = {"rows": X.to_dict("records")}
        assert httpx.post(f"{url}/predict", json=rows).status_code == 401
        expected = [f"class {x}" for x in churn[1].predict(X.assign(amount=X.amount + 10))]
        for _ in range(6):  # answered by either worker, the same way
            body = httpx.post(f"{url}/predict", json=rows, headers=auth).json()
            assert body["predictions"] == expected and body["model_version"] == "churn:1"
        assert httpx.get(f"{url}/health").status_code == 200
        time.sleep(PUSH_S * 2)  # each worker's last push
        for _ in range(4):  # whichever worker answers the scrape, it counts both
            families = {
                f.name: f for f in text_string_to_metric_families(httpx.get(f"{url}/metrics", headers=auth).text)
            }
            answered = {}
            for sample in families["nbmlops_requests"].samples:
                if sample.name.endswith("_total") and sample.labels["route"] == "/predict":
                    answered[sample.labels["status"]] = answered.get(sample.labels["status"], 0) + sample.value
            assert answered == {"200": 6, "401": 1}
            assert len({s.labels["worker"] for s in families["nbmlops_ready"].samples}) == 2
    finally:
        stop(process)
    # uvicorn shuts down gracefully (the lifespan flushes the log), then re-raises the signal it caught
    assert process.returncode in (0, -signal.SIGTERM)
    assert "Application shutdown complete" in process.stderr.read().decode()


def test_targets_that_cant_be_served(home, tmp_path: Path) -> None:
    runner = CliRunner()
    result = runner.invoke(main, ["serve", "not a model!"])
    assert result.exit_code == 2 and "not a valid model name" in result.output
    result = runner.invoke(main, ["serve", f"{tmp_path / 'absent.py'}:graph"])
    assert result.exit_code == 2 and "no file" in result.output
    (tmp_path / "notgraph.py").write_text("graph = 3\n")
    with pytest.raises(GraphError, match="'graph' in .* is int, not a nbmlops.serving.Graph"):
        load_target(f"{tmp_path / 'notgraph.py'}:graph")
    (tmp_path / "broken.py").write_text("raise RuntimeError('boom')\n")
    with pytest.raises(GraphError, match="raised RuntimeError: boom"):
        load_target(f"{tmp_path / 'broken.py'}:graph")
    assert isinstance(load_target("churn:3"), Graph) and load_target("churn:3").predictor.uri == "churn:3"
    with pytest.raises(GraphError, match="can't import module"):
        load_target("no_such_module_x:graph")


def test_predict_scores_a_folder_as_a_recorded_run(churn, vector, home: Path, tmp_path: Path) -> None:
    X = churn["X"]
    folder = tmp_path / "batch"
    (folder / "part").mkdir(parents=True)
    X.iloc[:120].to_parquet(folder / "a.parquet")
    X.iloc[120:200].to_csv(folder / "part" / "b.csv", index=False)
    out = tmp_path / "scores.parquet"
    result = CliRunner().invoke(
        main, ["predict", "churn@production", "--input", str(folder), "--output", str(out), "--chunk-rows", "50"]
    )
    assert result.exit_code == 0, result.output
    scores = pd.read_parquet(out)
    assert len(scores) == 200 and scores["prediction"].tolist() == churn[1].predict(X.iloc[:200]).tolist()
    assert set(scores["model_version"]) == {"churn:1"} and scores["id"].is_unique

    from nbmlops.tracking import get_store

    runs = get_store().list_runs(kind="predict")
    assert len(runs) == 1 and runs[0].status == "succeeded"
    params = runs[0].params
    assert params["model_version"] == "churn:1" and len(params["input_sha256"]) == 64
    assert runs[0].metrics["rows"] == 200
    logged = pd.concat(pd.read_parquet(f) for f in (home / "monitoring" / "churn" / "predictions").glob("*.parquet"))
    assert sorted(logged["id"]) == sorted(scores["id"])

    # the same data elsewhere has the same hash; --features enriches by entity key through the saved vector
    entity = tmp_path / "entities.csv"
    pd.DataFrame({"customer_id": [4, 8, 15]}).to_csv(entity, index=False)
    import nbmlops
    from nbmlops.features import get_online_features

    get_online_features(vector, [{"customer_id": 0}])  # a vector is saved in the catalog once it is read
    enriched = nbmlops.predict("churn@production", entity, features="churn_features", log=False)
    assert enriched["prediction"].tolist() == churn[1].predict(X.iloc[[4, 8, 15]]).tolist()
    again = tmp_path / "copy"
    again.mkdir()
    (again / "part").mkdir()
    (again / "a.parquet").write_bytes((folder / "a.parquet").read_bytes())
    (again / "part" / "b.csv").write_bytes((folder / "part" / "b.csv").read_bytes())
    nbmlops.predict("churn@production", again, tmp_path / "s2.csv", log=False)
    hashes = {
        r.params["input_sha256"]
        for r in get_store().list_runs(kind="predict")
        if "copy" in r.params["input"] or r.params["input"] == str(folder)
    }
    assert len(hashes) == 1


def test_batch_scoring_is_a_notebook_step_a_schedule_runs(churn, home: Path, tmp_path: Path, monkeypatch) -> None:
    """Scoring is schedulable like any pipeline: a step that calls nbmlops.predict, its input a parameter, run by
    `nbmlops scheduler --once` on a cron schedule; the predict run is recorded beside the scheduled one."""
    import nbformat

    X = churn["X"]
    X.iloc[:40].to_parquet(tmp_path / "today.parquet")
    cells = [
        ("import nbmlops", ["setup"]),
        ("day = 'today'", ["parameters"]),
        (
            "scores = str(nbmlops.predict('churn@production', f'{day}.parquet', f'scores_{day}.parquet'))",
            ["step:score"],
        ),
    ]
    nb = nbformat.v4.new_notebook(
        cells=[nbformat.v4.new_code_cell(src, metadata={"tags": tags}) for src, tags in cells],
        metadata={"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}},
    )
    nbformat.write(nb, tmp_path / "score.ipynb")
    monkeypatch.chdir(tmp_path)
    runner = CliRunner()
    added = runner.invoke(main, ["schedule", "add", "score.ipynb", "--cron", "0 3 * * *", "--name", "nightly"])
    assert added.exit_code == 0, added.output
    ran = runner.invoke(main, ["scheduler", "--once", "--at", "2030-01-02T03:00:00Z"])
    assert ran.exit_code == 0, ran.output
    scores = pd.read_parquet(tmp_path / "scores_today.parquet")
    assert scores["prediction"].tolist() == churn[1].predict(X.iloc[:40]).tolist()
    from nbmlops.tracking import get_store

    (scored,) = get_store().list_runs(kind="predict")
    assert scored.status == "succeeded" and scored.params["model_version"] == "churn:1"
