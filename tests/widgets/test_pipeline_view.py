"""PipelineView on a real notebook and store (SQLite and PostgreSQL): the layered DAG, each step's status, duration
and cache state in the last run, following a run in another process while it goes on; messages for a notebook
that cannot be found or does not compile."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from nbmlops.pipeline import compile_notebook
from nbmlops.runners import run_pipeline
from nbmlops.widgets import PipelineView

CELLS = [
    ("import time", ["setup"]),
    ("pause = 0.0", ["parameters"]),
    ("data = list(range(10))", ["step:prepare"]),
    ("time.sleep(pause)\ntotal = sum(data)", ["step:train"]),
    ("half = data[:5]", ["step:split"]),
    ("summary = (total, len(half))", ["step:report"]),
]


@pytest.fixture
def project(db_url: str, home: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("NBMLOPS_DB_URL", db_url)
    return home


def statuses(view: PipelineView) -> dict[str, str]:
    return dict(re.findall(r'data-step="([^"]+)" data-status="([^"]*)"', view.dag_html.value))


def test_layers_statuses_and_cache_of_the_last_run(project: Path, make_notebook) -> None:
    notebook = make_notebook(CELLS)
    view = PipelineView(notebook)
    assert view.message is None and view.run is None and "not run yet" in view.run_html.value
    assert statuses(view) == {"prepare": "", "train": "", "split": "", "report": ""}
    svg = view.dag_html.value
    ys = {name: float(y) for name, y in re.findall(r'data-step="([^"]+)"[^>]*><rect x="[^"]+" y="([^"]+)"', svg)}
    assert ys["prepare"] < ys["train"] == ys["split"] < ys["report"]  # a row per layer, as the lab panel
    assert ">data</text>" in svg or ">data" in svg  # the edge prepare → train carries `data`

    first = run_pipeline(compile_notebook(notebook), home=project)
    view.refresh_button.click()
    assert view.run.id == first.run_id and statuses(view) == dict.fromkeys(
        ("prepare", "train", "split", "report"), "succeeded"
    )
    again = run_pipeline(compile_notebook(notebook), home=project)
    view.refresh()
    assert view.run.id == again.run_id and set(statuses(view).values()) == {"cached"}
    assert all(s["cached"] for s in view.states.values())


def test_follows_a_run_in_another_process(project: Path, make_notebook) -> None:
    notebook = make_notebook(CELLS)
    run_pipeline(compile_notebook(notebook), home=project)
    env = {**os.environ, "NBMLOPS_HOME": str(project)}
    command = [sys.executable, "-m", "nbmlops.cli", "run", str(notebook), "-p", "pause=4", "--no-cache"]
    process = subprocess.Popen(command, cwd=notebook.parent, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        view = None
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:  # until the new run is in the store with train running
            candidate = PipelineView(notebook, home=project)
            if (
                candidate.run is not None
                and candidate.run.status == "running"
                and statuses(candidate).get("train") == "running"
            ):
                view = candidate
                break
            candidate.stop()
            time.sleep(0.2)
        assert view is not None, "the run never showed train running"
        assert view.watching and "refreshing every second" in view.run_html.value
        deadline = time.monotonic() + 120
        while view.watching and time.monotonic() < deadline:  # the watcher stops when the run ends
            time.sleep(0.2)
        assert not view.watching and view.run.status == "succeeded"
        assert statuses(view) == dict.fromkeys(("prepare", "train", "split", "report"), "succeeded")
        assert view.states["train"]["duration"] >= 4
    finally:
        process.wait(timeout=120)
    assert process.returncode == 0, process.stdout.read().decode()[-2000:]


def test_a_notebook_that_cannot_be_found_or_compiled_is_a_message(project: Path, tmp_path: Path, make_notebook) -> None:
    view = PipelineView(tmp_path / "nope.ipynb")
    assert view.message == f"no notebook {tmp_path / 'nope.ipynb'}"
    bad = make_notebook([("x = 1", ["step:a"]), ("y = 2", ["step:a,b"])], name="bad.ipynb")
    broken = PipelineView(bad)
    assert broken.message and "bad.ipynb" in broken.message and broken.body.layout.display == "none"
    assert "Traceback" not in broken._repr_mimebundle_()["text/html"]
