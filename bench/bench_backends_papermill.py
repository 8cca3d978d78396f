"""The papermill backend on the real example (example_notebooks/churn.ipynb: 7 steps, pandas + scikit-learn).

    .venv/bin/python bench/bench_backends_papermill.py [--runs 3]

Taking turns in the same run, times as whole commands on a copy of the notebook under bench/.work (a
throwaway NBMLOPS_HOME each run, so no step comes from the cache):
  - `nbmlops run churn.ipynb` (local backend, in-process),
  - `nbmlops run churn.ipynb --backend papermill` (a pool of warm kernels, reused between steps),
  - `nbmlops run churn.ipynb --backend papermill --fresh-kernel` (a new kernel for every step),
  - `papermill churn.ipynb out.ipynb -k python3`: the whole notebook as one papermill run, the tool users
    would otherwise pick (one kernel, no per-step notebooks, no step outputs saved).
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys

from _common import ROOT, WORK, Command, fresh_dir, machine, paired_ratio, time_interleaved, timing_table, tool


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=3, help="counted rounds (each runs every command once)")
    parser.add_argument("--workers", type=int, default=None, help="papermill backend --workers")
    args = parser.parse_args()

    work = fresh_dir(WORK / "backends_papermill")
    notebook = work / "churn.ipynb"
    shutil.copy(ROOT / "example_notebooks" / "churn.ipynb", notebook)
    homes = work / "homes"

    def throwaway_home(number: int) -> dict[str, str]:
        return {"NBMLOPS_HOME": str(fresh_dir(homes / f"run{number}"))}

    run = [tool("nbmlops"), "run", notebook.name]
    workers = ["--workers", str(args.workers)] if args.workers else []
    local = Command("nbmlops run (local)", run, cwd=work, before=throwaway_home)
    warm = Command(
        "nbmlops run --backend papermill (warm pool)",
        [*run, "--backend", "papermill", *workers],
        cwd=work,
        before=throwaway_home,
    )
    fresh = Command(
        "nbmlops run --backend papermill --fresh-kernel",
        [*run, "--backend", "papermill", "--fresh-kernel", *workers],
        cwd=work,
        before=throwaway_home,
    )
    plain = Command(
        "papermill churn.ipynb out.ipynb -k python3",
        [tool("papermill"), notebook.name, "out.ipynb", "-k", "python3", "--no-progress-bar"],
        cwd=work,
    )
    commands = [local, warm, fresh, plain]

    print(f"machine: {machine()}")
    print(f"notebook: {notebook} (copy of example_notebooks/churn.ipynb)")
    time_interleaved(commands, args.runs)
    print()
    timing_table(commands)
    print()
    med = {c.label: statistics.median(c.times) for c in commands}
    for label, other in ((warm, local), (fresh, local), (warm, plain), (fresh, plain), (fresh, warm)):
        print(
            f"{label.label} / {other.label}: {med[label.label] / med[other.label]:.2f}x (medians), "
            f"{paired_ratio(label, other):.2f}x (median of per-round ratios)"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
