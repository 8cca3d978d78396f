"""The `nbmlops` command as a user meets it: a real subprocess, exit codes, clear one-line errors."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
NBMLOPS = str(Path(sys.executable).with_name("nbmlops"))


def cli(*args: str, cwd: Path, home: Path | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, "NBMLOPS_HOME": str(home or cwd / ".nbmlops"), "COLUMNS": "160"}
    return subprocess.run([NBMLOPS, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=120)


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    shutil.copy(ROOT / "example_notebooks" / "churn.ipynb", tmp_path / "churn.ipynb")
    return tmp_path


def test_run_prints_progress_and_summary_and_leaves_a_run_folder(workdir: Path) -> None:
    done = cli("run", "churn.ipynb", "-p", "C=0.5", cwd=workdir)
    assert done.returncode == 0, done.stderr
    for step in ("load", "clean", "features", "split", "train", "evaluate", "save_metrics"):
        assert f"] {step}" in done.stderr
    assert "succeeded" in done.stderr and "run folder" in done.stderr
    runs = list((workdir / ".nbmlops" / "runs").iterdir())
    assert len(runs) == 1 and runs[0].name in done.stderr
    assert json.loads((runs[0] / "run.json").read_text())["status"] == "succeeded"
    assert (runs[0] / "steps" / "train" / "outputs" / "model.joblib").is_file()


def test_run_shows_the_compilers_warnings(make_notebook, tmp_path: Path) -> None:
    notebook = make_notebook(
        [
            ("rows = [[1], [2]]", ["step:load"]),
            ("first = rows[0]", ["step:bind"]),
            ("first.append(0)", ["step:change"]),
            ("print(rows)", ["step:report"]),
        ]
    )
    done = cli("run", str(notebook), cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "warning: cell 3: step 'change' changes `first` in place" in done.stderr


def test_compiled_spec_runs_the_same(workdir: Path) -> None:
    done = cli("compile", "churn.ipynb", "-o", "pipeline.json", cwd=workdir)
    assert done.returncode == 0, done.stderr
    spec = json.loads((workdir / "pipeline.json").read_text())
    assert [s["name"] for s in spec["steps"]][:2] == ["load", "clean"]
    assert cli("run", "pipeline.json", cwd=workdir).returncode == 0
    assert cli("run", "churn.ipynb", cwd=workdir).returncode == 0
    runs = sorted((workdir / ".nbmlops" / "runs").iterdir())
    hashes = [
        json.loads((r / "steps" / "evaluate" / "status.json").read_text())["outputs"]["metrics"]["sha256"] for r in runs
    ]
    assert hashes[0] == hashes[1]


@pytest.mark.parametrize(
    "fmt, expected",
    [
        ("text", "features -> split, train"),
        ("mermaid", "s_split -->|X_train, y_train| s_train"),
        ("dot", '"train" -> "evaluate" [label="model"];'),
    ],
)
def test_show_formats(workdir: Path, fmt: str, expected: str) -> None:
    done = cli("show", "churn.ipynb", "--format", fmt, cwd=workdir)
    assert done.returncode == 0, done.stderr
    assert expected in done.stdout


@pytest.mark.parametrize(
    "content, message",
    [
        (None, "missing.ipynb: no such file"),
        ("", "file is empty"),
        ("{not json", "not valid notebook JSON"),
        ('{"nbformat": 3, "cells": []}', "nbformat 3 is not supported"),
        (
            '{"nbformat": 4, "cells": [{"cell_type": "code", "source": "x = (", "metadata": {}}]}',
            "cell 1 `x = (`: line 1: syntax error",
        ),
    ],
)
@pytest.mark.parametrize("command", ["run", "show", "compile"])
def test_bad_notebooks_exit_2_with_one_line(tmp_path: Path, content: str | None, message: str, command: str) -> None:
    if content is not None:
        (tmp_path / "missing.ipynb").write_text(content)
    done = cli(command, "missing.ipynb", cwd=tmp_path)
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    assert message in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1
    assert not (tmp_path / ".nbmlops" / "runs").exists() or not list((tmp_path / ".nbmlops" / "runs").iterdir())


def test_bad_parameter_exits_2(workdir: Path) -> None:
    done = cli("run", "churn.ipynb", "-p", "C=high", cwd=workdir)
    assert done.returncode == 2 and "parameter 'C': 'high' is not a number" in done.stderr
    done = cli("run", "churn.ipynb", "-p", "lr=1", cwd=workdir)
    assert done.returncode == 2 and "unknown parameter 'lr'" in done.stderr
    assert "Traceback" not in done.stderr


def test_failed_step_exits_1_then_resume(make_notebook, tmp_path: Path) -> None:
    cells = [("data = [1, 2]", ["step:load"]), ("result = data[5]", ["step:pick"])]
    nb = make_notebook(cells)
    done = cli("run", str(nb), cwd=tmp_path)
    assert done.returncode == 1
    assert "step 'pick' failed in cell 2, line 1: result = data[5]" in done.stderr
    assert "IndexError: list index out of range" in done.stderr
    run_id = done.stderr.split("--resume ")[-1].strip()
    make_notebook([cells[0], ("result = data[1]", ["step:pick"])])
    done = cli("run", str(nb), "--resume", run_id, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "reused" in done.stderr
    done = cli("run", str(nb), "--resume", "no-such-run", cwd=tmp_path)
    assert done.returncode == 2 and "no run 'no-such-run'" in done.stderr


def test_spec_finds_its_notebook_folder_from_anywhere(workdir: Path, tmp_path_factory: pytest.TempPathFactory) -> None:
    (workdir / "specs").mkdir()
    assert cli("compile", "churn.ipynb", "-o", "specs/pipeline.json", cwd=workdir).returncode == 0
    elsewhere = tmp_path_factory.mktemp("elsewhere")
    done = cli("run", str(workdir / "specs" / "pipeline.json"), "-p", "metrics_path=m.json", cwd=elsewhere)
    assert done.returncode == 0, done.stderr
    assert (workdir / "m.json").is_file(), "steps run in the notebook's folder, wherever the spec is run from"


def test_sweep_from_the_command_line(workdir: Path) -> None:
    done = cli("run", "churn.ipynb", "-p", "C=0.1,10", "--objective", "metrics.roc_auc:max", cwd=workdir)
    assert done.returncode == 0, done.stderr
    assert "sweep " in done.stderr and "← best" in done.stderr
    assert done.stderr.count("cached") >= 8, "load, clean, features and split ran once, in the parent"
    done = cli("run", "churn.ipynb", "-p", "C=0.1,x", cwd=workdir)
    assert done.returncode == 2 and "'x' is not a number" in done.stderr


def test_compile_to_papermill_notebooks(workdir: Path) -> None:
    done = cli("compile", "churn.ipynb", "--target", "papermill", "-o", "steps", cwd=workdir)
    assert done.returncode == 0, done.stderr
    names = sorted(p.name for p in (workdir / "steps").iterdir())
    assert names == sorted(
        [f"{s}.ipynb" for s in ("load", "clean", "features", "split", "train", "evaluate", "save_metrics")]
        + ["pipeline.json"]
    )
    train = json.loads((workdir / "steps" / "train.ipynb").read_text())
    assert any("parameters" in c["metadata"].get("tags", []) for c in train["cells"])
    assert any("model.fit(X_train, y_train)" in "".join(c["source"]) for c in train["cells"])
    missing = cli("compile", "churn.ipynb", "--target", "ray", cwd=workdir)
    assert missing.returncode == 2 and "needs -o" in missing.stderr
