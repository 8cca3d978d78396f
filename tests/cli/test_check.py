"""`nbmlops check`: what CI and pre-commit run. A real subprocess over the shipped examples and broken copies."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import yaml

from tests.conftest import notebook_json

ROOT = Path(__file__).resolve().parents[2]
NBMLOPS = str(Path(sys.executable).with_name("nbmlops"))


def check(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "NBMLOPS_HOME": str(cwd / ".nbmlops")}
    return subprocess.run([NBMLOPS, "check", *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=120)


def write(path: Path, cells: list) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(notebook_json(cells)))
    return path


def test_the_example_notebooks_pass(tmp_path: Path) -> None:
    done = check(str(ROOT / "example_notebooks"), cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout == "" and "no problems in" in done.stderr and "Traceback" not in done.stderr


def test_broken_copies_give_one_line_per_problem_with_file_and_cell(tmp_path: Path) -> None:
    write(tmp_path / "unknown.ipynb", [("x = 1", "step:load"), ("y = x + undefined_name", "step:train")])
    write(
        tmp_path / "install.ipynb",
        [("!pip install lightgbm\nimport os", "step:load"), ("df = open('/home/alice/data.csv')", "step:read")],
    )
    write(
        tmp_path / "inplace.ipynb",
        [
            ("rows = [[1], [2]]", "step:load"),
            ("first = rows[0]", "step:bind"),
            ("first.append(0)", "step:change"),
            ("print(rows)", "step:report"),
        ],
    )
    write(tmp_path / "fine.ipynb", [("a = 1", "step:one"), ("b = a + 1", "step:two")])
    done = check(".", cwd=tmp_path)
    assert done.returncode == 1, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    by_file = {
        name: [line for line in lines if line.startswith(f"{name}:")]
        for name in ("unknown.ipynb", "install.ipynb", "inplace.ipynb", "fine.ipynb")
    }
    assert by_file["fine.ipynb"] == []
    [unknown] = by_file["unknown.ipynb"]
    assert unknown.startswith(
        "unknown.ipynb:cell 2 `y = x + undefined_name`: notebook: the notebook doesn't compile: "
        "line 1: step 'train' reads 'undefined_name'"
    )
    install = by_file["install.ipynb"]
    assert any(line.startswith("install.ipynb:cell 1 ") and ": install:" in line for line in install)
    assert any(
        line.startswith("install.ipynb:cell 2 ") and ": path:" in line and "/home/alice" in line for line in install
    )
    [inplace] = by_file["inplace.ipynb"]
    assert inplace.startswith("inplace.ipynb:dataflow: cell 3: step 'change' changes `first` in place")
    assert len(lines) == 1 + len(install) + 1
    assert "problems in 3 of 4 notebooks checked" in done.stderr


def test_folders_leave_out_untagged_hidden_and_checkpoint_notebooks(tmp_path: Path) -> None:
    write(tmp_path / "explore.ipynb", ["x = undefined_here"])  # no step tags: exploration, not a pipeline
    write(tmp_path / ".ipynb_checkpoints" / "p-checkpoint.ipynb", [("y = nope", "step:a")])
    write(tmp_path / ".hidden" / "p.ipynb", [("y = nope", "step:a")])
    done = check(cwd=tmp_path)
    assert done.returncode == 0 and "no problems in 0 notebooks checked, 1 without step tags" in done.stderr
    strict = check("--all", cwd=tmp_path)
    assert strict.returncode == 1 and strict.stdout.startswith("explore.ipynb:cell 1 ")


def test_bad_input_is_exit_2_or_a_problem_of_that_file(tmp_path: Path) -> None:
    missing = check("nowhere", cwd=tmp_path)
    assert missing.returncode == 2 and missing.stderr.strip() == "error: nowhere: no such file or folder"
    (tmp_path / "broken.ipynb").write_text("{not json")
    write(tmp_path / "ok.ipynb", [("a = 1", "step:one")])
    done = check(".", cwd=tmp_path)
    assert done.returncode == 1 and "Traceback" not in done.stdout + done.stderr
    assert done.stdout.startswith("broken.ipynb:notebook:") and "ok.ipynb" not in done.stdout


def test_the_pre_commit_hook_runs_the_same_command(tmp_path: Path) -> None:
    [hook] = yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text())
    assert hook["id"] == "nbmlops-check" and hook["entry"].split()[:2] == ["nbmlops", "check"]
    assert hook["files"] == r"\.ipynb$" and hook["language"] == "python"
    shutil.copy(ROOT / "example_notebooks" / "churn.ipynb", tmp_path / "churn.ipynb")
    write(tmp_path / "bad.ipynb", [("y = x", "step:a")])
    # pre-commit passes the staged files as arguments
    done = subprocess.run(
        [NBMLOPS, *hook["entry"].split()[1:], "churn.ipynb", "bad.ipynb"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 1 and done.stdout.startswith("bad.ipynb:cell 1 `y = x`: notebook:")
