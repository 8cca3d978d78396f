"""The lifecycle examples as users run them: `make demo`'s script with real `nbmlops` commands, and each
notebook top to bottom with plain papermill (skip cells and widgets included), in fresh projects."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import papermill

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "example_notebooks"
NBMLOPS = str(Path(sys.executable).with_name("nbmlops"))


def test_the_demo_runs_the_whole_lifecycle(tmp_path: Path) -> None:
    work = tmp_path / "demo"
    env = {**os.environ, "NBMLOPS_DEMO_DIR": str(work)}
    done = subprocess.run(
        [sys.executable, str(EXAMPLES / "lifecycle.py")], env=env, capture_output=True, text=True, timeout=1200
    )
    assert done.returncode == 0, done.stdout + done.stderr
    out = done.stdout
    assert [line.split(" ")[0] for line in out.splitlines() if line.startswith("[")] == [
        f"[{i}/5]" for i in range(1, 6)
    ]
    assert "Where to look" in out and f"jupyter lab {work}" in out and "http://127.0.0.1:" in out
    assert (work / "drift_report.html").stat().st_size > 100_000  # plotly.js inlined: it opens offline

    def cli(*args: str) -> str:
        return subprocess.run(
            [NBMLOPS, *args],
            cwd=work,
            env={**os.environ, "NBMLOPS_HOME": str(work / ".nbmlops")},
            capture_output=True,
            text=True,
            timeout=120,
            check=True,
        ).stdout

    versions = {v["version"]: v for v in json.loads(cli("models", "ls", "churn", "--json"))}
    # the sweep's best was registered (1), promoted, and the drift-triggered retraining registered 2 as staging
    assert sorted(versions) == [1, 2]
    assert "production" in versions[1]["aliases"] and "staging" in versions[2]["aliases"]
    retrain = json.loads(cli("runs", "show", versions[2]["run_id"], "--json"))
    assert retrain["trigger"]["schedule"] == "retrain-on-drift"
    drift_id = json.dumps(retrain["trigger"])
    assert "drift-" in drift_id  # the run names the drift result that started it
    schedules = {s["name"] for s in json.loads(cli("schedule", "ls", "--json"))}
    assert schedules == {"nightly-train", "retrain-on-drift"}


def test_every_example_runs_with_plain_papermill(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("NBMLOPS_HOME", str(tmp_path / ".nbmlops"))  # the kernels papermill starts inherit it
    for name in ("features.ipynb", "train.ipynb", "serve_and_monitor.ipynb"):
        papermill.execute_notebook(
            str(EXAMPLES / name),
            str(tmp_path / name),
            cwd=str(tmp_path),
            kernel_name="python3",
            progress_bar=False,
            execution_timeout=600,
        )
        executed = json.loads((tmp_path / name).read_text())
        errors = [o for c in executed["cells"] for o in c.get("outputs", []) if o.get("output_type") == "error"]
        assert errors == [], name
    assert (tmp_path / "drift_report.html").exists() and (tmp_path / "data" / "labels.parquet").exists()
