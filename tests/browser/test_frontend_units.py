"""The lab extension's front-end logic tests (labextension/test/, node's test runner), run from pytest."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

LABEXT = Path(__file__).resolve().parents[2] / "labextension"


def test_frontend_logic() -> None:
    tsc = LABEXT / "node_modules" / ".bin" / "tsc"
    if not tsc.exists() or not shutil.which("node"):
        pytest.skip("labextension/node_modules not installed (pip install -e . installs it)")
    compiled = subprocess.run([str(tsc), "-p", "tsconfig.test.json"], cwd=LABEXT, capture_output=True, text=True)
    assert compiled.returncode == 0, compiled.stdout + compiled.stderr
    tests = subprocess.run(["node", "--test", "test/"], cwd=LABEXT, capture_output=True, text=True)
    assert tests.returncode == 0, tests.stdout + tests.stderr
