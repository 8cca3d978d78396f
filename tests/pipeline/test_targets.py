"""Compile targets come from one registry and follow one rule for every output option: the notebook itself is
never written over, nor any file nbmlops did not write unless --force says so; nbmlops's own outputs are
replaced freely (compiling again is the normal loop)."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path

import pytest

from nbmlops.errors import NbmlopsError
from nbmlops.pipeline import compile_notebook
from nbmlops.pipeline.targets import TARGETS, OverwriteError, write_target, written_by_nbmlops

NBMLOPS = str(Path(sys.executable).with_name("nbmlops"))
CELLS = [("n = 2", ["parameters"]), ("xs = list(range(n))", ["step:make"]), ("total = sum(xs)", ["step:add"])]


def compile_cli(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([NBMLOPS, "compile", *args], cwd=cwd, capture_output=True, text=True, timeout=120)


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_the_registry_names_every_target() -> None:
    assert set(TARGETS) == {"json", "papermill", "ray"}
    assert {t.output for t in TARGETS.values()} == {"file", "folder"}


@pytest.mark.parametrize("target", ["json", "ray"])
def test_compile_never_writes_over_the_notebook(make_notebook, target: str) -> None:
    path = make_notebook(CELLS)
    before = digest(path)
    done = compile_cli(str(path), "--target", target, "-o", str(path), "--force", cwd=path.parent)
    assert done.returncode == 2 and "is the notebook itself" in done.stderr and "Traceback" not in done.stderr
    assert digest(path) == before


@pytest.mark.parametrize(
    ("target", "name", "content"),
    [
        ("json", "notes.json", '{"mine": true}'),
        ("json", "other.ipynb", json.dumps({"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5})),
        ("json", "plan.txt", "my plan"),
        ("ray", "helpers.py", "def mine():\n    return 1\n"),
    ],
)
def test_a_file_nbmlops_did_not_write_needs_force(make_notebook, target: str, name: str, content: str) -> None:
    path = make_notebook(CELLS)
    mine = path.parent / name
    mine.write_text(content)
    refused = compile_cli(str(path), "--target", target, "-o", str(mine), cwd=path.parent)
    assert refused.returncode == 2, refused.stderr
    assert "nbmlops did not write it" in refused.stderr and "--force" in refused.stderr
    assert mine.read_text() == content, "nothing already there is lost"
    forced = compile_cli(str(path), "--target", target, "-o", str(mine), "--force", cwd=path.parent)
    assert forced.returncode == 0, forced.stderr
    assert written_by_nbmlops(mine)


@pytest.mark.parametrize("target", ["json", "ray", "papermill"])
def test_nbmlops_outputs_are_replaced_without_force(make_notebook, target: str) -> None:
    path = make_notebook(CELLS)
    out = path.parent / {"json": "pipeline.json", "ray": "pipeline_ray.py", "papermill": "steps"}[target]
    for _ in range(2):  # the second compile replaces what the first wrote
        done = compile_cli(str(path), "--target", target, "-o", str(out), cwd=path.parent)
        assert done.returncode == 0, done.stderr


def test_papermill_folder_keeps_a_users_notebook_named_like_a_step(make_notebook) -> None:
    path = make_notebook(CELLS)
    folder = path.parent / "steps"
    folder.mkdir()
    users = folder / "make.ipynb"
    users.write_text(json.dumps({"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}))
    done = compile_cli(str(path), "--target", "papermill", "-o", str(folder), cwd=path.parent)
    assert done.returncode == 2 and "make.ipynb" in done.stderr
    assert not (folder / "add.ipynb").exists(), "nothing is written when any file would be lost"


def test_write_target_api_and_wrong_output_kinds(make_notebook, tmp_path: Path) -> None:
    spec = compile_notebook(make_notebook(CELLS))
    (tmp_path / "a_file").write_text("x")
    with pytest.raises(NbmlopsError, match="writes a folder"):
        write_target(spec, "papermill", tmp_path / "a_file")
    with pytest.raises(NbmlopsError, match="writes a file"):
        write_target(spec, "ray", tmp_path)
    with pytest.raises(NbmlopsError, match="unknown compile target 'docker'"):
        write_target(spec, "docker", tmp_path / "x")
    with pytest.raises(OverwriteError):
        write_target(spec, "json", tmp_path / "a_file")
    written = write_target(spec, "papermill", tmp_path / "steps", kernel_name="python3")
    assert sorted(p.name for p in written) == ["add.ipynb", "make.ipynb", "pipeline.json"]
