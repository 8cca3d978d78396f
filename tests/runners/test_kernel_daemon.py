"""Warm kernels kept between runs (`nbmlops kernels start`), on real kernels and a real daemon: a second run
uses the kernel started ahead for it, concurrent runs never share one, a killed daemon or kernel falls back to
the run's own kernels, and a kernel whose loaded code changed on disk is not used. Results equal a run without
a daemon."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from nbmlops.pipeline import compile_notebook
from nbmlops.processes import process_alive
from nbmlops.runners import RunDir, load_value, run_pipeline
from nbmlops.runners.kernel_pool import daemon_status, stop_daemon

pytest.importorskip("papermill")

READY_TIMEOUT_S = 180.0  # a kernel's start and warm-up on a loaded 2-core machine

CELLS = [
    ("import os\n\nimport helper\n", ["setup"]),
    ("n = 3\n", ["parameters"]),
    ("pid = os.getpid()\nvalue = helper.VALUE * n\nsecret = 'left behind'\n", ["step:make"]),
    (
        "seen = [pid, os.getpid(), value, 'secret' in globals(), os.environ.get('NBMLOPS_RUN_ID', '')]\n"
        "print(__import__('json').dumps(seen))\n",
        ["step:use"],
    ),
]


@pytest.fixture
def pool(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """A kernel daemon of this test's own (NBMLOPS_KERNELS_DIR), started by the CLI, stopped after."""
    folder = tmp_path / "kd"
    monkeypatch.setenv("NBMLOPS_KERNELS_DIR", str(folder))
    started = _cli("kernels", "start", "--max-kernels", "2")
    assert started.returncode == 0, started.stderr
    assert "kernel daemon started" in started.stdout
    yield folder
    stop_daemon(folder)


@pytest.fixture
def notebook(make_notebook) -> Path:
    nb = make_notebook(CELLS)
    (nb.parent / "helper.py").write_text("VALUE = 7\n")
    return nb


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "nbmlops.cli", *args], capture_output=True, text=True, timeout=120, check=False
    )


def _run(nb: Path, home: Path) -> dict:
    result = run_pipeline(compile_notebook(nb), home=home, use_cache=False, backend="papermill")
    assert result.status == "succeeded"
    run = RunDir(result.run_dir)
    value = load_value(run.stored_outputs("make")["value"], run.outputs_dir("make"))
    return {"seen": _seen(Path(result.run_dir)), "value": value}


def _seen(run_dir: Path) -> list:
    """What step `use` printed: the pids of both steps' kernels, the value, a leak, the kernel's run id."""
    return json.loads((run_dir / "steps" / "use" / "stdout.txt").read_text())


def _ready(folder: Path, exclude: set[int] = frozenset()) -> int:
    """The pid of a kernel the daemon holds ready (waiting for one to be warmed)."""
    deadline = time.monotonic() + READY_TIMEOUT_S
    while time.monotonic() < deadline:
        status = daemon_status(folder)
        assert status is not None, "the daemon stopped answering"
        ready = [k["pid"] for k in status["kernels"] if k["state"] == "ready" and k["pid"] not in exclude]
        if ready:
            return ready[0]
        time.sleep(0.2)
    raise AssertionError(f"no kernel ready within {READY_TIMEOUT_S:.0f} s: {daemon_status(folder)}")


def _gone(pid: int, seconds: float = 30.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if not process_alive(pid):
            return True
        time.sleep(0.1)
    return False


def test_second_run_uses_the_kernel_started_ahead_and_gets_the_same_results(
    pool: Path, notebook: Path, home: Path
) -> None:
    first = _run(notebook, home)  # no kernel ready yet: the run starts its own, the daemon warms one for next time
    ahead = _ready(pool)
    assert first["seen"][0] != ahead
    status = _cli("kernels", "status")
    assert status.returncode == 0 and f"kernel pid {ahead}: ready" in status.stdout

    second = _run(notebook, home)
    pid, pid_use, value, leaked, run_id = second["seen"]
    assert pid == pid_use == ahead  # both steps ran in the kernel started ahead
    assert value == first["seen"][2] == second["value"] == 21 and leaked is False
    assert run_id and run_id != first["seen"][4]  # the kernel took this run's environment
    # used by one run only: ended with it, never offered again
    assert _gone(ahead)
    assert ahead not in [k["pid"] for k in daemon_status(pool)["kernels"]]


def test_concurrent_runs_never_share_a_kernel(pool: Path, notebook: Path, home: Path) -> None:
    _run(notebook, home)
    ahead = _ready(pool)  # one kernel ready, two runs asking at once: one gets it, the other starts its own
    results: list[dict] = []
    errors: list[BaseException] = []

    def one() -> None:
        try:
            results.append(_run_cli(notebook, home))
        except BaseException as exc:  # noqa: BLE001 - reported by the test thread
            errors.append(exc)

    threads = [threading.Thread(target=one) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)
    assert not errors, errors
    pids = [r["seen"][0] for r in results]
    assert len(set(pids)) == 2, pids
    assert pids.count(ahead) == 1, (pids, ahead)
    assert all(r["seen"][2] == 21 for r in results)


def _run_cli(nb: Path, home: Path) -> dict:
    """A whole `nbmlops run` process (concurrent runs are separate processes, as users start them)."""
    done = subprocess.run(
        [sys.executable, "-m", "nbmlops.cli", "run", str(nb), "--backend", "papermill", "--no-cache"],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        cwd=nb.parent,
        env={**os.environ, "NBMLOPS_HOME": str(home)},
    )
    assert done.returncode == 0, done.stdout + done.stderr
    run_id = re.search(r"^run (\S+): succeeded", done.stdout + done.stderr, re.MULTILINE)
    assert run_id, done.stdout + done.stderr
    return {"seen": _seen(home / "runs" / run_id.group(1))}


def test_killed_daemon_or_kernel_falls_back_to_the_runs_own_kernels(pool: Path, notebook: Path, home: Path) -> None:
    _run(notebook, home)
    ahead = _ready(pool)
    os.kill(ahead, signal.SIGKILL)  # a ready kernel dies: the next run doesn't get it
    second = _run(notebook, home)
    assert second["seen"][0] != ahead and second["value"] == 21

    ahead = _ready(pool)
    daemon = daemon_status(pool)["pid"]
    os.kill(daemon, signal.SIGKILL)
    assert _gone(daemon)
    assert _gone(ahead), "a spare kernel outlived its daemon"
    assert daemon_status(pool) is None
    third = _run(notebook, home)  # the daemon's files are still there, nobody answers: the run starts its own
    assert third["seen"][0] not in (ahead, daemon) and third["value"] == 21
    assert _cli("kernels", "status").returncode == 1


def test_kernel_whose_loaded_module_changed_is_not_used(pool: Path, notebook: Path, home: Path) -> None:
    _run(notebook, home)
    ahead = _ready(pool)
    helper = notebook.parent / "helper.py"
    helper.write_text("VALUE = 8  # edited after the kernel imported it\n")
    second = _run(notebook, home)
    assert second["seen"][0] != ahead and second["value"] == 24  # the edit is seen, as without a daemon
    assert _gone(ahead)
