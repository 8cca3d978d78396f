"""`nbmlops ray start|status|stop` and `--backend ray` joining the local cluster they keep, as a user runs them."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

ray = pytest.importorskip("ray")

from nbmlops.runners.ray_backend import init_ray  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
NBMLOPS = str(Path(sys.executable).with_name("nbmlops"))


@pytest.fixture(scope="module")
def ray_dir(quick_ray_agents: Path) -> Iterator[Path]:
    # Ray's socket paths must stay short: a folder right under the temp dir, not pytest's deep ones
    folder = Path(tempfile.mkdtemp(prefix="nbr-"))
    yield folder
    cli("ray", "stop", ray_dir=folder, cwd=folder)
    shutil.rmtree(folder, ignore_errors=True)


def cli(*args: str, ray_dir: Path, cwd: Path, timeout: float = 900) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "NBMLOPS_RAY_DIR": str(ray_dir), "NBMLOPS_HOME": str(cwd / ".nbmlops")}
    env.pop("NBMLOPS_RAY_ADDRESS", None)
    return subprocess.run([NBMLOPS, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)


def test_start_status_run_and_stop(ray_dir: Path, tmp_path: Path) -> None:
    shutil.copy(ROOT / "example_notebooks" / "churn.ipynb", tmp_path / "churn.ipynb")
    assert cli("ray", "status", ray_dir=ray_dir, cwd=tmp_path).returncode == 1  # nothing runs yet
    started = cli("ray", "start", "--num-cpus", "2", ray_dir=ray_dir, cwd=tmp_path)
    assert started.returncode == 0, started.stdout + started.stderr
    assert "ray started at 127.0.0.1:" in started.stdout
    again = cli("ray", "start", ray_dir=ray_dir, cwd=tmp_path)
    assert again.returncode == 0 and "already running" in again.stdout  # one cluster, not two
    status = json.loads(cli("ray", "status", "--json", ray_dir=ray_dir, cwd=tmp_path).stdout)
    assert status["running"] and status["processes"] > 0
    for _ in range(2):  # both runs join the running cluster: no Ray of their own
        done = cli("run", "churn.ipynb", "--backend", "ray", ray_dir=ray_dir, cwd=tmp_path)
        assert done.returncode == 0, done.stdout + done.stderr
    init_ray(status["address"], log_to_driver=False)
    try:
        cluster_nodes = {node["NodeID"] for node in ray.nodes()}
    finally:
        ray.shutdown()
    for run_dir in (tmp_path / ".nbmlops" / "runs").iterdir():
        for status_file in run_dir.glob("steps/*/status.json"):
            step = json.loads(status_file.read_text())
            assert step.get("cached") or step["node"] in cluster_nodes
    stopped = cli("ray", "stop", ray_dir=ray_dir, cwd=tmp_path)
    assert stopped.returncode == 0 and "ray stopped" in stopped.stdout
    assert cli("ray", "status", ray_dir=ray_dir, cwd=tmp_path).returncode == 1
    from nbmlops.runners.ray_cluster import cluster_processes

    assert cluster_processes(ray_dir) == []  # every process of the cluster ended, no other Ray touched
