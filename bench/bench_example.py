"""The real example: example_notebooks/churn.ipynb (7 steps, pandas + scikit-learn).

    .venv/bin/python bench/bench_example.py [--runs 5] [--no-papermill]

Taking turns in the same run, times as whole commands on a copy of the notebook under bench/.work:
  - `nbmlops run churn.ipynb` (local backend, a throwaway NBMLOPS_HOME for every run),
  - `python churn.py`: the notebook's code cells concatenated (setup + parameters + step cells; `skip`
    cells left out), the same work with no pipeline around it,
  - `nbmlops run churn.ipynb --no-cache` with one home kept across runs (steady state: the database already
    exists; --no-cache so every step runs again instead of coming from the step cache),
  - `papermill churn.ipynb out.ipynb -k python3` for reference (the tool users would otherwise pick).
Target: nbmlops / script at most 1.3x.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys

from _common import (
    ROOT,
    WORK,
    Command,
    fresh_dir,
    machine,
    paired_ratio,
    script_of_notebook,
    time_interleaved,
    timing_table,
    tool,
    verdict,
)

TARGET_RATIO = 1.3


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=5, help="counted rounds (each runs every command once)")
    parser.add_argument("--no-papermill", action="store_true", help="leave papermill out (faster)")
    args = parser.parse_args()

    work = fresh_dir(WORK / "example")
    notebook = work / "churn.ipynb"
    shutil.copy(ROOT / "example_notebooks" / "churn.ipynb", notebook)
    script = work / "churn.py"
    script.write_text(script_of_notebook(notebook))
    homes = work / "homes"

    def throwaway_home(number: int) -> dict[str, str]:
        return {"NBMLOPS_HOME": str(fresh_dir(homes / f"run{number}"))}

    nbmlops = Command(
        "nbmlops run churn.ipynb", [tool("nbmlops"), "run", notebook.name], cwd=work, before=throwaway_home
    )
    reused = Command(
        "nbmlops run churn.ipynb --no-cache (home reused)",
        [tool("nbmlops"), "run", notebook.name, "--no-cache"],
        cwd=work,
        env={"NBMLOPS_HOME": str(fresh_dir(homes / "kept"))},
    )
    plain = Command("python churn.py", [sys.executable, script.name], cwd=work)
    commands = [nbmlops, plain, reused]
    papermill = None
    if not args.no_papermill:
        papermill = Command(
            "papermill churn.ipynb out.ipynb -k python3",
            [tool("papermill"), notebook.name, "out.ipynb", "-k", "python3", "--no-progress-bar"],
            cwd=work,
        )
        commands.append(papermill)

    print(f"machine: {machine()}")
    print(f"notebook: {notebook} (copy of example_notebooks/churn.ipynb); script: {script}")
    time_interleaved(commands, args.runs)

    print()
    timing_table(commands)
    med_nb, med_py = statistics.median(nbmlops.times), statistics.median(plain.times)
    ratio = med_nb / med_py
    print()
    print(
        f"nbmlops / python script: {ratio:.2f}x (medians), {paired_ratio(nbmlops, plain):.2f}x "
        f"(median of per-round ratios); target <= {TARGET_RATIO}x -> {verdict(ratio <= TARGET_RATIO)}"
    )
    print(f"nbmlops overhead over the script: {med_nb - med_py:.3f} s")
    med_reused = statistics.median(reused.times)
    print(
        f"with a project home that already exists (steady state): nbmlops / script {med_reused / med_py:.2f}x "
        f"(medians), {paired_ratio(reused, plain):.2f}x (per-round); target <= {TARGET_RATIO}x -> "
        f"{verdict(med_reused / med_py <= TARGET_RATIO)}"
    )
    if papermill is not None:
        med_pm = statistics.median(papermill.times)
        print(
            f"papermill / nbmlops: {med_pm / med_nb:.2f}x (medians), {paired_ratio(papermill, nbmlops):.2f}x "
            "(median of per-round ratios)"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
