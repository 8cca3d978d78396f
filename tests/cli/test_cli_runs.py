"""Pipeline runs land in the store; `nbmlops runs` lists, filters, compares, traces and removes them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from nbmlops.pipeline import compile_notebook
from nbmlops.runners import run_pipeline
from nbmlops.store import open_store

NBMLOPS = str(Path(sys.executable).with_name("nbmlops"))
CELLS = [
    ("import nbmlops", ["setup"]),
    ("C = 1.0\nrows = 3", ["parameters"]),
    ("data = list(range(rows))", ["step:load"]),
    (
        "score = sum(data) * C\nnbmlops.log_metric('score', score)\nnbmlops.log_metric('auc', 0.5 + C / 10)",
        ["step:train"],
    ),
]


def runs_cli(*args: str, home: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "NBMLOPS_HOME": str(home)}
    return subprocess.run([NBMLOPS, "runs", *args], env=env, capture_output=True, text=True, timeout=60)


@pytest.fixture
def three_runs(make_notebook, home: Path) -> list[str]:
    spec = compile_notebook(make_notebook(CELLS))
    return [run_pipeline(spec, [f"C={c}"], home=home).run_id for c in ("0.5", "1.0", "2.0")]


def test_pipeline_run_is_recorded_with_steps_metrics_and_lineage(three_runs: list[str], home: Path) -> None:
    store = open_store(home)
    run = store.get_run(three_runs[0])
    assert (run.kind, run.pipeline, run.status, run.backend) == ("pipeline", "nb", "succeeded", "local")
    assert run.params == {"C": 0.5, "rows": 3} and run.metrics == {"score": 1.5, "auc": 0.55}
    assert run.notebook_sha256 and run.python_version and run.packages.get("pandas")
    steps = {s.name: s for s in store.steps(run.id)}
    assert steps["load"].status == steps["train"].status == "succeeded"
    assert steps["train"].inputs == {"data": steps["load"].outputs["data"]}
    assert Path(steps["load"].stdout_path).is_file()
    history = store.metric_history(run.id, "score")
    assert [(p.value, p.step_name) for p in history] == [(1.5, "train")]
    relations = {(e.relation, e.step_name, e.name) for e in store.edges("run", run.id)}
    assert {("output", "load", "data"), ("input", "train", "data")} <= relations


def test_failed_pipeline_run_is_failed_in_the_store(make_notebook, home: Path) -> None:
    spec = compile_notebook(make_notebook([("x = 1", ["step:a"]), ("y = x / 0", ["step:b"])]))
    with pytest.raises(Exception, match="ZeroDivisionError") as info:
        run_pipeline(spec, home=home)
    run = open_store(home).get_run(info.value.run_id)
    assert run.status == "failed" and "cell 2" in run.error
    assert {s.name: s.status for s in open_store(home).steps(run.id)} == {"a": "succeeded", "b": "failed"}


def test_runs_ls_filter_order_and_json(three_runs: list[str], home: Path) -> None:
    done = runs_cli("ls", "--filter", "metrics.auc > 0.56 and params.C = 2.0", "--json", home=home)
    assert done.returncode == 0, done.stderr
    assert [r["id"] for r in json.loads(done.stdout)] == [three_runs[2]]
    done = runs_cli("ls", "--order-by", "-metrics.score", "--json", home=home)
    assert [r["id"] for r in json.loads(done.stdout)] == three_runs[::-1]
    table = runs_cli("ls", home=home)
    assert table.returncode == 0 and all(run_id in table.stdout for run_id in three_runs)
    assert "params.C" in table.stdout and "params.rows" not in table.stdout, "only params that differ"


@pytest.mark.parametrize("bad", ["metrics.auc >> 0.5", "metrics.auc", "nonsense.x > 1", "metrics.auc > 1 and "])
def test_runs_ls_bad_filter_is_a_clear_error(three_runs: list[str], home: Path, bad: str) -> None:
    done = runs_cli("ls", "--filter", bad, home=home)
    assert done.returncode == 2 and done.stderr.startswith("error: ") and "Traceback" not in done.stderr


def test_runs_show_compare_lineage_rm(three_runs: list[str], home: Path) -> None:
    first, second, third = three_runs
    shown = json.loads(runs_cli("show", first, "--json", home=home).stdout)
    assert shown["status"] == "succeeded" and [s["name"] for s in shown["steps"]] == ["load", "train"]
    compared = json.loads(runs_cli("compare", first, second, "--json", home=home).stdout)
    rows = {r["field"]: r for r in compared["rows"]}
    assert rows["params.C"]["differs"] and not rows["params.rows"]["differs"]
    assert rows["metrics.score"]["values"] == [1.5, 3.0]
    assert "≠ params.C" in runs_cli("compare", first, second, home=home).stdout
    lineage = json.loads(runs_cli("lineage", first, "--json", home=home).stdout)
    assert {"output", "input"} <= {e["relation"] for e in lineage}
    assert runs_cli("rm", first, "no-such-run", "--yes", home=home).returncode == 2
    assert open_store(home).get_run(first), "an unknown id deletes nothing"
    done = runs_cli("rm", first, "--yes", home=home)
    assert done.returncode == 0 and not (home / "runs" / first).exists()
    assert [r.id for r in open_store(home).list_runs()] == [third, second]
    assert runs_cli("show", first, home=home).returncode == 2


def test_killed_run_shows_failed_and_its_finished_steps_are_reused(make_notebook, tmp_path: Path) -> None:
    import signal
    import time

    home = tmp_path / ".nbmlops"
    nb = make_notebook(
        [
            ("data = [1, 2, 3]\nprint('loaded', flush=True)", ["step:load"]),
            (
                "import pathlib, time\nif not pathlib.Path('go').exists():\n    time.sleep(60)\ntotal = sum(data)",
                ["step:slow"],
            ),
        ]
    )
    env = {**os.environ, "NBMLOPS_HOME": str(home)}
    runner = subprocess.Popen(
        [NBMLOPS, "run", str(nb)], env=env, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    deadline = time.time() + 60
    while time.time() < deadline and not list(home.glob("runs/*/steps/slow/status.json")):
        time.sleep(0.1)
    runner.send_signal(signal.SIGKILL)
    runner.wait(timeout=30)
    run_id = next(home.glob("runs/*")).name
    shown = json.loads(runs_cli("show", run_id, "--json", home=home).stdout)
    assert shown["status"] == "failed", "a killed runner's run is not left running"
    assert {s["name"]: s["status"] for s in shown["steps"]}["load"] == "succeeded"
    (tmp_path / "go").write_text("")
    done = subprocess.run(
        [NBMLOPS, "run", str(nb), "--resume", run_id], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert "load" in done.stderr and "reused" in done.stderr
