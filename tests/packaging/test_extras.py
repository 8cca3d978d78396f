"""A plain `pip install nbmlops` lacks the extras: a backend or command that needs one exits 2 with the exact
install command, never a ModuleNotFoundError. The extra's modules are hidden from a real subprocess the way
Python documents for blocking an import (sys.modules[name] = None, from a sitecustomize on PYTHONPATH)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from nbmlops.extras import EXTRAS
from tests.conftest import notebook_json

ROOT = Path(__file__).resolve().parents[2]
NBMLOPS = str(Path(sys.executable).with_name("nbmlops"))


def without(modules: list[str], tmp_path: Path) -> dict[str, str]:
    site = tmp_path / "site"
    site.mkdir()
    (site / "sitecustomize.py").write_text("import sys\n" + "".join(f"sys.modules[{m!r}] = None\n" for m in modules))
    return {**os.environ, "PYTHONPATH": str(site), "NBMLOPS_HOME": str(tmp_path / ".nbmlops")}


@pytest.mark.parametrize("backend", ["papermill", "ray"])
def test_a_backend_without_its_extra_names_the_install_command(backend: str, tmp_path: Path) -> None:
    notebook = tmp_path / "nb.ipynb"
    notebook.write_text(json.dumps(notebook_json([("x = 1", "step:a")])))
    hidden = [EXTRAS[backend][0]]
    done = subprocess.run(
        [NBMLOPS, "run", str(notebook), "--backend", backend],
        cwd=tmp_path,
        env=without(hidden, tmp_path),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2, done.stdout + done.stderr
    assert f'pip install "nbmlops[{backend}]"' in done.stderr and "Traceback" not in done.stderr
    assert f"the {backend} backend needs the '{backend}' extra ({hidden[0]} not installed)" in done.stderr
    assert not (tmp_path / ".nbmlops" / "runs").exists() or not any((tmp_path / ".nbmlops" / "runs").iterdir())


def test_the_local_backend_needs_no_extra(tmp_path: Path) -> None:
    notebook = tmp_path / "nb.ipynb"
    notebook.write_text(json.dumps(notebook_json([("x = 1", "step:a"), ("y = x + 1", "step:b")])))
    hidden = [m for modules in EXTRAS.values() for m in modules]
    done = subprocess.run(
        [NBMLOPS, "run", str(notebook)],
        cwd=tmp_path,
        env=without(hidden, tmp_path),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_extras_in_pyproject_bring_what_the_code_asks_for() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    extras = project["optional-dependencies"]
    core = " ".join(project["dependencies"])
    assert "ray" not in core and "papermill" not in core and "jupyterlab" not in core
    for extra, modules in EXTRAS.items():
        listed = " ".join(extras[extra]).replace("-", "_").lower()
        for module in modules:
            assert module in listed, f"the {extra} extra doesn't bring {module}"
    assert set(EXTRAS) <= set(extras["all"][0].split("[")[1].rstrip("]").split(","))
