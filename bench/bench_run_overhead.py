"""What nbmlops adds around the user's code: a 10-step notebook of trivial steps.

    .venv/bin/python bench/bench_run_overhead.py [--runs 7]

Each step reads the previous step's small value and defines a new one. In the same run, taking turns,
this times three whole commands on the same code:
  - `nbmlops run NB` (local backend; a throwaway NBMLOPS_HOME under bench/.work for every run),
  - `papermill NB out.ipynb -k python3` (papermill's own CLI, a Jupyter kernel),
  - `python script.py` (the code cells concatenated: the floor),
  - `nbmlops run` of a 1-step version, to split nbmlops's overhead into a fixed and a per-step part,
  - `nbmlops run NB --no-cache` with one home kept across runs (the steady state: database already made;
    --no-cache so the steps run instead of coming from the step cache),
  - `nbmlops run NB` with the per-user spec cache emptied before every run (as after editing the notebook:
    the compiler is imported and runs).
The per-user cache (package versions, schema template, compiled specs) lives in bench/.work for every command.
Targets: papermill / nbmlops >= 5x; nbmlops's per-step overhead (nbmlops - script) / 10 < 20 ms.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
from pathlib import Path

import nbformat
from _common import (
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

STEPS = 10
TARGET_RATIO = 5.0
TARGET_PER_STEP_MS = 20.0


def generate(path: Path, steps: int = STEPS) -> None:
    notebook = nbformat.v4.new_notebook()
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    notebook.cells.append(nbformat.v4.new_code_cell("start = 1", metadata={"tags": ["parameters"]}))
    notebook.cells.append(nbformat.v4.new_code_cell("value_0 = start * 2", metadata={"tags": ["step:step_0"]}))
    for k in range(1, steps):
        source = f"value_{k} = value_{k - 1} + {k}"
        notebook.cells.append(nbformat.v4.new_code_cell(source, metadata={"tags": [f"step:step_{k}"]}))
    notebook.cells.append(nbformat.v4.new_code_cell(f"print(value_{steps - 1})"))
    nbformat.write(notebook, path)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=7, help="counted rounds (each runs all three commands)")
    args = parser.parse_args()

    work = fresh_dir(WORK / "run_overhead")
    notebook = work / "trivial.ipynb"
    generate(notebook)
    one_step = work / "one_step.ipynb"
    generate(one_step, 1)
    script = work / "trivial.py"
    script.write_text(script_of_notebook(notebook))
    homes = work / "homes"

    cache = fresh_dir(work / "user_cache")

    def throwaway_home(number: int) -> dict[str, str]:
        return {"NBMLOPS_HOME": str(fresh_dir(homes / f"run{number}")), "NBMLOPS_CACHE_DIR": str(cache)}

    def no_cached_spec(number: int) -> dict[str, str]:
        shutil.rmtree(cache / "specs", ignore_errors=True)
        return throwaway_home(number)

    nbmlops = Command("nbmlops run NB", [tool("nbmlops"), "run", notebook.name], cwd=work, before=throwaway_home)
    papermill = Command(
        "papermill NB out.ipynb -k python3",
        [tool("papermill"), notebook.name, "out.ipynb", "-k", "python3", "--no-progress-bar"],
        cwd=work,
    )
    plain = Command("python script.py", [sys.executable, script.name], cwd=work)
    kept_home = {"NBMLOPS_HOME": str(fresh_dir(homes / "kept")), "NBMLOPS_CACHE_DIR": str(cache)}
    reused = Command(
        "nbmlops run NB --no-cache (home reused)",
        [tool("nbmlops"), "run", notebook.name, "--no-cache"],
        cwd=work,
        env=kept_home,
    )
    single = Command(
        "nbmlops run NB1 (same, 1 step)", [tool("nbmlops"), "run", one_step.name], cwd=work, before=throwaway_home
    )
    compiled = Command(
        "nbmlops run NB (compiled again)", [tool("nbmlops"), "run", notebook.name], cwd=work, before=no_cached_spec
    )
    commands = [nbmlops, papermill, plain, single, reused, compiled]
    print(f"machine: {machine()}")
    print(f"notebook: {notebook} ({STEPS} steps)")
    time_interleaved(commands, args.runs)

    print()
    timing_table(commands)
    med_nb, med_pm, med_py = (statistics.median(c.times) for c in (nbmlops, papermill, plain))
    ratio = med_pm / med_nb
    per_step_ms = (med_nb - med_py) / STEPS * 1000
    print()
    print(
        f"papermill / nbmlops: {ratio:.2f}x (medians), {paired_ratio(papermill, nbmlops):.2f}x "
        f"(median of per-round ratios); target >= {TARGET_RATIO:.0f}x -> {verdict(ratio >= TARGET_RATIO)}"
    )
    print(
        f"nbmlops / python script: {med_nb / med_py:.2f}x (medians), {paired_ratio(nbmlops, plain):.2f}x "
        f"(median of per-round ratios)"
    )
    print(
        f"nbmlops per-step overhead: ({med_nb:.3f} - {med_py:.3f}) s / {STEPS} = {per_step_ms:.1f} ms; "
        f"target < {TARGET_PER_STEP_MS:.0f} ms -> {verdict(per_step_ms < TARGET_PER_STEP_MS)}"
    )
    marginal_ms = (med_nb - statistics.median(single.times)) / (STEPS - 1) * 1000
    fixed_s = statistics.median(single.times) - med_py
    print(
        f"  of which: fixed cost of one `nbmlops run` beyond the script (1-step notebook) {fixed_s:.3f} s; "
        f"marginal cost per extra step (10-step - 1-step) / 9 = {marginal_ms:.1f} ms"
    )
    med_compiled = statistics.median(compiled.times)
    print(
        f"after an edit (no cached spec: the compiler imported and run): {med_compiled:.3f} s, per-step overhead "
        f"{(med_compiled - med_py) / STEPS * 1000:.1f} ms"
    )
    med_reused = statistics.median(reused.times)
    print(
        f"with a project home that already exists (database made, schema at head; steady state): "
        f"{med_reused:.3f} s, per-step overhead {(med_reused - med_py) / STEPS * 1000:.1f} ms, "
        f"papermill / nbmlops {med_pm / med_reused:.2f}x; first run in a fresh home costs "
        f"{med_nb - med_reused:+.3f} s more"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
