"""The papermill backend on the real example (example_notebooks/churn.ipynb: 7 steps, pandas + scikit-learn).

    .venv/bin/python bench/bench_backends_papermill.py [--runs 3]

Taking turns in the same run, times as whole commands on a copy of the notebook under bench/.work (a
throwaway NBMLOPS_HOME each run, so no step comes from the cache):
  - `nbmlops run churn.ipynb` (local backend, in-process),
  - `nbmlops run churn.ipynb --backend papermill` with `nbmlops kernels start`'s daemon running (its own folder
    under bench/.work): the run claims a kernel the daemon started and warmed after the previous round's run;
    before the next command the benchmark waits (untimed) until the daemon's next kernel is ready, so its
    warm-up never runs beside another command,
  - `nbmlops run churn.ipynb --backend papermill` without a daemon (a pool of warm kernels, reused between
    steps, started by the run),
  - `nbmlops run churn.ipynb --backend papermill --fresh-kernel` (a new kernel for every step),
  - `papermill churn.ipynb out.ipynb -k python3`: the whole notebook as one papermill run, the tool users
    would otherwise pick (one kernel, no per-step notebooks, no step outputs saved).
With --before PATH (a checkout of older code, e.g. `git worktree add /tmp/before HEAD~3`), the papermill
backend of that code runs too (PYTHONPATH=PATH, no daemon), for a before/after in the same rounds.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

from _common import (
    ROOT,
    WORK,
    Command,
    command_env,
    fresh_dir,
    machine,
    paired_ratio,
    time_interleaved,
    timing_table,
    tool,
)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=3, help="counted rounds (each runs every command once)")
    parser.add_argument("--workers", type=int, default=None, help="papermill backend --workers")
    parser.add_argument("--before", type=Path, default=None, help="a checkout of older code to compare with")
    args = parser.parse_args()

    work = fresh_dir(WORK / "backends_papermill")
    notebook = work / "churn.ipynb"
    shutil.copy(ROOT / "example_notebooks" / "churn.ipynb", notebook)
    homes = work / "homes"

    def throwaway_home(number: int) -> dict[str, str]:
        return {"NBMLOPS_HOME": str(fresh_dir(homes / f"run{number}"))}

    run = [tool("nbmlops"), "run", notebook.name]
    workers = ["--workers", str(args.workers)] if args.workers else []
    no_daemon = {"NBMLOPS_KERNELS_DIR": str(work / "no-daemon")}
    kernels = {"NBMLOPS_KERNELS_DIR": str(work / "kernels")}
    pooled = [*run, "--backend", "papermill", *workers]

    def ready_then_home(number: int) -> dict[str, str]:
        wait_for_spare_kernel(kernels["NBMLOPS_KERNELS_DIR"])
        return throwaway_home(number)

    daemon = Command(
        "nbmlops run --backend papermill (kernel daemon)", pooled, cwd=work, env=kernels, before=throwaway_home
    )
    local = Command("nbmlops run (local)", run, cwd=work, before=ready_then_home)
    warm = Command(
        "nbmlops run --backend papermill (warm pool, no daemon)",
        pooled,
        cwd=work,
        env=no_daemon,
        before=throwaway_home,
    )
    fresh = Command(
        "nbmlops run --backend papermill --fresh-kernel",
        [*run, "--backend", "papermill", "--fresh-kernel", *workers],
        cwd=work,
        env=no_daemon,
        before=throwaway_home,
    )
    plain = Command(
        "papermill churn.ipynb out.ipynb -k python3",
        [tool("papermill"), notebook.name, "out.ipynb", "-k", "python3", "--no-progress-bar"],
        cwd=work,
    )
    commands = [daemon, local, warm, fresh, plain]
    pairs = [(daemon, plain), (warm, plain), (fresh, plain), (daemon, warm), (warm, local), (fresh, warm)]
    if args.before is not None:
        before = Command(
            f"nbmlops run --backend papermill, code at {args.before} (no daemon)",
            pooled,
            cwd=work,
            env={**no_daemon, "PYTHONPATH": str(args.before.resolve())},
            before=throwaway_home,
        )
        commands.insert(3, before)
        pairs[1:1] = [(before, plain), (warm, before), (daemon, before)]

    started = subprocess.run(
        [tool("nbmlops"), "kernels", "start"], env={**command_env(), **kernels}, capture_output=True, text=True
    )
    if started.returncode != 0:
        sys.exit(f"bench: nbmlops kernels start failed: {started.stdout}{started.stderr}")
    print(f"machine: {machine()}")
    print(f"notebook: {notebook} (copy of example_notebooks/churn.ipynb)")
    try:
        time_interleaved(commands, args.runs)
    finally:
        subprocess.run([tool("nbmlops"), "kernels", "stop"], env={**command_env(), **kernels}, capture_output=True)
    print()
    timing_table(commands)
    print()
    med = {c.label: statistics.median(c.times) for c in commands}
    for label, other in pairs:
        print(
            f"{label.label} / {other.label}: {med[label.label] / med[other.label]:.2f}x (medians), "
            f"{paired_ratio(label, other):.2f}x (median of per-round ratios)"
        )
    return 0


def wait_for_spare_kernel(folder: str, timeout: float = 300.0) -> None:
    """Until the daemon holds a ready kernel (the one it warms after each claim), so that its warm-up is not
    timed as part of another command."""
    from nbmlops.runners.kernel_pool import daemon_status

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status = daemon_status(Path(folder))
        if status is None:
            sys.exit("bench: the kernel daemon stopped")
        if any(k["state"] == "ready" for k in status["kernels"]):
            return
        time.sleep(0.2)
    sys.exit(f"bench: no kernel ready within {timeout:.0f} s")


if __name__ == "__main__":
    sys.exit(main())
