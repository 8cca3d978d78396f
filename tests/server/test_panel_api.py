"""The Pipeline panel's API through jupyter_server's test server: detached runs (own session, state on disk and in
the store, read back by a fresh job manager as after a restart), Stop, run details from the store, the runs list
with the CLI's filter grammar and paging, sweeps, models with promote, feature sets."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import time
from pathlib import Path

import pytest

pytest.importorskip("jupyter_server")
pytest_plugins = ["pytest_jupyter.jupyter_server"]

CHURN = Path(__file__).resolve().parents[2] / "example_notebooks" / "churn.ipynb"


def code_cell(source: str, tags: list[str] | None = None) -> dict:
    return {
        "cell_type": "code",
        "metadata": {"tags": tags or []},
        "source": source,
        "outputs": [],
        "execution_count": None,
    }


def slow_notebook(path: Path, seconds: float) -> None:
    """load (fast) -> wait (sleeps) -> report: a run to stop while `wait` runs."""
    cells = [
        code_cell("import time", ["setup"]),
        code_cell(f"pause = {seconds}", ["parameters"]),
        code_cell("rows = list(range(10))", ["step:load"]),
        code_cell("time.sleep(pause)\ntotal = sum(rows)", ["step:wait"]),
        code_cell("print(total)", ["step:report"]),
    ]
    path.write_text(
        json.dumps(
            {
                "cells": cells,
                "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3"}},
                "nbformat": 4,
                "nbformat_minor": 5,
            }
        )
    )


@pytest.fixture
def jp_server_config():
    return {"ServerApp": {"jpserver_extensions": {"nbmlops.server": True}}}


@pytest.fixture
def root(jp_root_dir: Path, monkeypatch) -> Path:
    monkeypatch.setenv("NBMLOPS_HOME", str(jp_root_dir / ".nbmlops"))
    shutil.copy(CHURN, jp_root_dir / "churn.ipynb")
    slow_notebook(jp_root_dir / "slow.ipynb", 120)
    return jp_root_dir


async def call(jp_fetch, method: str, endpoint: str, body: dict | None = None, **params):
    kwargs = {"method": method, "raise_error": False}
    if body is not None:
        kwargs["body"] = json.dumps(body)
    if params:
        kwargs["params"] = params
    response = await jp_fetch("nbmlops", *endpoint.split("/"), **kwargs)
    return response.code, json.loads(response.body or b"null")


async def wait_job(jp_fetch, job: dict, until, timeout: float = 240) -> dict:
    deadline = time.monotonic() + timeout
    while not until(job):
        assert time.monotonic() < deadline, job
        await asyncio.sleep(0.3)
        code, job = await call(jp_fetch, "GET", f"jobs/{job['id']}")
        assert code == 200, job
    return job


def finished(job: dict) -> bool:
    return job["status"] not in ("starting", "running")


async def test_stop_interrupts_cleanly_and_details_come_from_the_store(jp_fetch, root: Path) -> None:
    from nbmlops.processes import process_alive
    from nbmlops.server.jobs import JobManager

    code, job = await call(jp_fetch, "POST", "runs", {"path": "slow.ipynb", "backend": "local", "params": {}})
    assert code == 202
    # detached: the worker leads a session of its own, so the server's end (SIGHUP, its process group) spares it
    assert job["pid"] and os.getsid(job["pid"]) == job["pid"] != os.getsid(0)
    job = await wait_job(
        jp_fetch, job, lambda j: any(s["name"] == "wait" and s["status"] == "running" for s in j["steps"])
    )
    # a server started later knows nothing in memory: it reads the same state from the notebook's home
    again = JobManager().get(job["id"], root / ".nbmlops")
    assert again is not None and again.status == "running" and again.run_id
    run_id = again.run_id
    code, detail = await call(jp_fetch, "GET", f"runs/{run_id}", path="slow.ipynb")
    assert code == 200 and detail["run"]["status"] == "running" and detail["job"] == job["id"]
    assert {s["name"]: s["status"] for s in detail["steps"]}["load"] == "succeeded"

    code, stopped = await call(jp_fetch, "POST", f"jobs/{job['id']}/stop", {"path": "slow.ipynb"})
    assert code == 200
    job = await wait_job(jp_fetch, stopped, finished, timeout=60)
    assert job["status"] == "interrupted" and job["run_id"] == run_id
    assert "stopped" in job["error"]["message"]
    deadline = time.monotonic() + 30
    while process_alive(job["pid"]):
        assert time.monotonic() < deadline
        await asyncio.sleep(0.2)

    code, detail = await call(jp_fetch, "GET", f"runs/{run_id}", path="slow.ipynb")
    assert code == 200 and detail["run"]["status"] == "interrupted"
    steps = {s["name"]: s for s in detail["steps"]}
    assert steps["load"]["status"] == "succeeded" and steps["load"]["outputs"][0]["name"] == "rows"
    assert len(steps["load"]["outputs"][0]["sha256"]) == 64
    assert steps["wait"]["status"] == "interrupted" and steps["report"]["status"] in ("not run", "pending")
    # the finished step stays usable: the next run takes it from the cache
    code, job = await call(jp_fetch, "POST", "runs", {"path": "slow.ipynb", "params": {"pause": 0}})
    job = await wait_job(jp_fetch, job, finished)
    assert job["status"] == "succeeded"
    assert {s["name"]: s["status"] for s in job["steps"]}["load"] == "cached"
    code, detail = await call(jp_fetch, "GET", f"runs/{job['run_id']}", path="slow.ipynb")
    load = next(s for s in detail["steps"] if s["name"] == "load")
    assert load["cached"] and "cached from run" in load["why"]
    report = next(s for s in detail["steps"] if s["name"] == "report")
    assert report["stdout"].strip() == "45" and report["why"]


async def test_stop_by_run_id_and_refusals(jp_fetch, root: Path) -> None:
    code, job = await call(jp_fetch, "POST", "runs", {"path": "slow.ipynb"})
    job = await wait_job(
        jp_fetch, job, lambda j: j["run_id"] is not None and any(s["status"] == "running" for s in j["steps"])
    )
    code, reply = await call(jp_fetch, "POST", f"runs/{job['run_id']}/stop", {"path": "slow.ipynb"})
    assert code == 200 and reply["stopping"]
    job = await wait_job(jp_fetch, job, finished, timeout=60)
    assert job["status"] == "interrupted"
    code, reply = await call(jp_fetch, "POST", f"runs/{job['run_id']}/stop", {"path": "slow.ipynb"})
    assert code == 400 and "not running" in reply["message"]
    code, reply = await call(jp_fetch, "GET", "runs/20200101-000000-abcdef", path="slow.ipynb")
    assert code == 404 and "20200101-000000-abcdef" in reply["message"]
    code, reply = await call(jp_fetch, "POST", "jobs/0123456789ab/stop", {"path": "slow.ipynb"})
    assert code == 404


async def test_failed_run_details_map_the_error_to_the_cell(jp_fetch, root: Path) -> None:
    nb = json.loads((root / "churn.ipynb").read_text())
    nb["cells"][7]["source"] = "customers = raw.drop_duplicates('customer_id')\n\nraise ValueError('boom')\n"
    (root / "churn.ipynb").write_text(json.dumps(nb))
    code, job = await call(jp_fetch, "POST", "runs", {"path": "churn.ipynb"})
    job = await wait_job(jp_fetch, job, finished)
    assert job["status"] == "failed"
    code, detail = await call(jp_fetch, "GET", f"runs/{job['run_id']}", path="churn.ipynb")
    clean = next(s for s in detail["steps"] if s["name"] == "clean")
    assert clean["status"] == "failed" and clean["cells"] == [7]
    assert clean["error"]["cell"] == 7 and clean["error"]["line"] == 3
    assert "boom" in clean["error"]["traceback"] and "boom" in clean["stderr"]
    assert {s["name"]: s["status"] for s in detail["steps"]}["train"] == "not run"


async def test_runs_list_filters_sorts_and_pages(jp_fetch, root: Path) -> None:
    for c in (0.2, 0.4, 0.6):
        code, job = await call(jp_fetch, "POST", "runs", {"path": "churn.ipynb", "params": {"C": c}})
        job = await wait_job(jp_fetch, job, finished)
        assert job["status"] == "succeeded", job["error"]
    code, page = await call(jp_fetch, "GET", "runlist", path="churn.ipynb", order="params.C", limit="2")
    assert code == 200 and [r["params"]["C"] for r in page["runs"]] == [0.2, 0.4] and page["more"]
    code, page = await call(jp_fetch, "GET", "runlist", path="churn.ipynb", order="params.C", limit="2", offset="2")
    assert [r["params"]["C"] for r in page["runs"]] == [0.6] and not page["more"]
    code, page = await call(jp_fetch, "GET", "runlist", path="churn.ipynb", where="params.C > 0.3", order="-params.C")
    assert [r["params"]["C"] for r in page["runs"]] == [0.6, 0.4]
    assert all("roc_auc" in r["metrics"] for r in page["runs"])
    code, reply = await call(jp_fetch, "GET", "runlist", path="churn.ipynb", where="metrics.auc > high")
    assert code == 400 and "metrics.auc" in reply["message"]
    code, reply = await call(jp_fetch, "GET", "runlist", path="../churn.ipynb")
    assert code == 403


async def test_sweep_runs_children_and_checks_its_fields(jp_fetch, root: Path) -> None:
    body = {
        "path": "churn.ipynb",
        "params": {"seed": 7},
        "sweep": {"fields": {"C": "0.1, 1"}, "mode": "grid", "objective": "metrics.roc_auc:max"},
    }
    code, job = await call(jp_fetch, "POST", "sweeps", body)
    assert code == 202 and job["sweep"]["points"] == 2
    job = await wait_job(jp_fetch, job, finished, timeout=300)
    assert job["status"] == "succeeded", job["error"]
    assert len(job["sweep"]["children"]) == 2 and job["sweep"]["best"] in job["sweep"]["children"]
    code, detail = await call(jp_fetch, "GET", f"runs/{job['run_id']}", path="churn.ipynb")
    assert sorted(detail["children"]) == sorted(job["sweep"]["children"])
    for bad, word in [
        ({"fields": {"C": "0.1, x"}}, "C"),
        ({"fields": {"nope": "1,2"}}, "nothing to sweep"),
        ({"fields": {"C": "1,2"}, "mode": "random:x"}, "random"),
        ({"fields": {"C": "1,2"}, "objective": "auc"}, "objective"),
    ]:
        code, reply = await call(jp_fetch, "POST", "sweeps", {"path": "churn.ipynb", "sweep": bad})
        assert code == 400 and word in reply["message"], (bad, reply)


async def test_models_promote_and_feature_sets(jp_fetch, root: Path) -> None:
    import numpy as np
    import pandas as pd
    from sklearn.linear_model import LogisticRegression

    import nbmlops
    from nbmlops.features import FeatureSet, FeatureStore

    home = root / ".nbmlops"
    X = pd.DataFrame({"a": np.arange(20.0), "b": np.arange(20.0) % 3})
    y = (X["a"] > 9).astype(int)
    for c in (0.5, 1.0):
        nbmlops.register_model(LogisticRegression(C=c).fit(X, y), "churn", home=home)
    code, reply = await call(jp_fetch, "GET", "models", path="churn.ipynb")
    assert code == 200
    model = next(m for m in reply["models"] if m["name"] == "churn")
    assert [v["version"] for v in model["version_list"]] == [2, 1]
    code, reply = await call(
        jp_fetch, "POST", "models/churn/aliases", {"path": "churn.ipynb", "alias": "production", "version": 1}
    )
    assert code == 200 and reply["previous"] is None
    code, reply = await call(
        jp_fetch, "POST", "models/churn/aliases", {"path": "churn.ipynb", "alias": "production", "version": 2}
    )
    assert code == 200 and reply["previous"] == 1
    code, reply = await call(jp_fetch, "GET", "models", path="churn.ipynb")
    model = next(m for m in reply["models"] if m["name"] == "churn")
    assert model["aliases"] == {"production": 2}
    code, reply = await call(
        jp_fetch, "POST", "models/churn/aliases", {"path": "churn.ipynb", "alias": "production", "version": 9}
    )
    assert code == 400 and "9" in reply["message"]
    code, reply = await call(
        jp_fetch, "POST", "models/churn/aliases", {"path": "churn.ipynb", "alias": "production", "version": "2"}
    )
    assert code == 400

    events = pd.DataFrame(
        {
            "customer_id": [1, 2, 1],
            "ts": pd.to_datetime(["2024-01-01", "2024-01-02", "2024-01-03"]),
            "amount": [10.0, 20.0, 30.0],
        }
    )
    FeatureSet("transactions", entities=["customer_id"], timestamp="ts", features=["amount"]).ingest(
        events, store=FeatureStore(home)
    )
    code, reply = await call(jp_fetch, "GET", "featuresets", path="churn.ipynb")
    assert code == 200
    fs = next(s for s in reply["feature_sets"] if s["name"] == "transactions")
    assert fs["rows"] == 3 and [f["name"] for f in fs["features"]] == ["amount"]


async def test_stopping_a_sweep_ends_every_child(jp_fetch, root: Path) -> None:
    from nbmlops.processes import process_alive
    from nbmlops.tracking import get_store

    body = {"path": "slow.ipynb", "params": {}, "sweep": {"fields": {"pause": "60, 61, 62"}, "mode": "grid"}}
    code, job = await call(jp_fetch, "POST", "sweeps", body)
    assert code == 202 and job["sweep"]["points"] == 3
    job = await wait_job(
        jp_fetch, job, lambda j: any(s["name"] == "wait" and s["status"] == "running" for s in j["steps"])
    )
    code, job = await call(jp_fetch, "POST", f"jobs/{job['id']}/stop", {"path": "slow.ipynb"})
    job = await wait_job(jp_fetch, job, finished, timeout=60)
    assert job["status"] == "interrupted"
    deadline = time.monotonic() + 30
    while process_alive(job["pid"]):  # the worker ends at once: no queued point runs after a Stop
        assert time.monotonic() < deadline
        await asyncio.sleep(0.2)
    runs = get_store(root / ".nbmlops").list_runs(pipeline="slow")
    assert runs and not [r.id for r in runs if r.status == "running"]
    assert len([r for r in runs if r.parent_run_id]) <= 1  # the first child at most: the others never started
