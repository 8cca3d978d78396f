"""How long compiling a large notebook takes: a generated 500-cell, 50-step notebook.

    .venv/bin/python bench/bench_compile.py [--runs 20] [--cli-runs 10]

Times `compile_notebook` in this process (median of --runs calls, after one warm-up call) and
`nbmlops compile NB -o pipeline.json` as a whole command (start-up and imports included).
Target: under 0.3 s for both.

Then where the in-process time goes: each phase of compiling timed alone over the same cells (min and
median of --runs rounds, the cyclic GC paused as compile_notebook pauses it). `ast.parse` is the floor: no
analysis can be faster than parsing the cells once. The load average is printed before and after: on a
shared machine the medians move with it, the minimums much less.
"""

from __future__ import annotations

import argparse
import ast
import gc
import os
import statistics
import sys
import time
from pathlib import Path

import nbformat
from _common import WORK, Command, fresh_dir, machine, print_table, stats_row, time_interleaved, tool, verdict

TARGET_S = 0.3
STEPS = 50
CELLS = 500

SETUP = '''import json
import math
import re
from collections import Counter, defaultdict
from pathlib import Path

import numpy as np
import pandas as pd


def summarize(frame, column):
    """Mean and spread of one column."""
    values = frame[column]
    return {"mean": float(values.mean()), "std": float(values.std() or 1.0)}
'''

PARAMETERS = """n_rows = 1000
seed = 0
threshold = 0.5
label = "target"
windows = [3, 7, 28]
out_dir = "reports"
"""


def step_cells(k: int, n_code: int) -> list[tuple[str, list[str]]]:
    """The code cells of step k (source, tags): assignments, functions, a class, pandas-like chains,
    comprehensions, lambdas, try/except, with, f-strings; reads of earlier steps' variables."""
    if k == 0:
        first = f"""rng = np.random.default_rng(seed)
frame_{k} = pd.DataFrame({{
    "segment": rng.choice(["seg_1", "seg_2", "seg_3", "seg_4"], size=n_rows),
    "value": rng.normal(10.0, 2.0, size=n_rows),
    "count": rng.poisson(3, size=n_rows),
}})
frame_{k}["f_{k}"] = frame_{k}["value"] * {k + 1} + np.log1p(frame_{k}["count"])"""
    else:
        first = f"""# step {k}: start from the previous step's frame
frame_{k} = frame_{k - 1}.copy()
frame_{k}["f_{k}"] = frame_{k}["value"] * {k + 1} + np.log1p(frame_{k}["count"])
frame_{k}["rolling_{k}"] = frame_{k}["value"].rolling(windows[{k % 3}], min_periods=1).mean()"""
    extra_read = f'frame_{k}["seg_mean_{k}"] = frame_{k}["segment"].map(lookup_{k - 3}).fillna(0.0)\n' if k >= 3 else ""
    total = f"total_{k}" if k % 5 != 4 else "0.0"  # cell 7 is a skip cell in every fifth step
    drift = f'stats_{k}["drift"] = abs(stats_{k}["mean"] - stats_{k // 2}["mean"])\n' if k > 0 else ""
    cells = [
        (first, [f"step:s{k:02d}"]),
        (
            f'''def transform_{k}(frame, factor=1.5):
    """Clip and scale the engineered columns."""
    out = frame.copy()
    columns = [c for c in out.columns if c.startswith("f_")]
    for column in columns:
        out[column] = out[column].clip(lower=0) * factor
    return out''',
            [],
        ),
        (
            f"""grouped_{k} = (
    frame_{k}.groupby("segment")["value"]
    .agg(["mean", "std", "count"])
    .reset_index()
    .rename(columns={{"mean": "value_mean", "std": "value_std"}})
)
lookup_{k} = {{row.segment: row.value_mean for row in grouped_{k}.itertuples()}}
{extra_read}""",
            [],
        ),
        (
            f"""frame_{k}["value"] = frame_{k}.groupby("segment")["value"].transform(lambda s: s.fillna(s.median()))
frame_{k} = transform_{k}(frame_{k}, factor=threshold + {k})
frame_{k} = frame_{k}[frame_{k}["count"] >= 0].reset_index(drop=True)""",
            [],
        ),
        (
            f"""counts_{k} = Counter(frame_{k}["segment"].tolist())
rare_{k} = {{name for name, n in counts_{k}.items() if n < n_rows * 0.01}}
weights_{k} = {{name: 1.0 / max(n, 1) for name, n in counts_{k}.items()}}
by_size_{k} = defaultdict(list)
for name, n in counts_{k}.items():
    by_size_{k}[n // 100].append(name)""",
            [],
        ),
        (
            f"""class Scaler{k}:
    def __init__(self, columns):
        self.columns = list(columns)
        self.params = {{}}

    def fit(self, frame):
        self.params = {{c: (frame[c].mean(), frame[c].std() or 1.0) for c in self.columns}}
        return self

    def transform(self, frame):
        out = frame.copy()
        for c, (mean, std) in self.params.items():
            out[c] = (out[c] - mean) / std
        return out


scaler_{k} = Scaler{k}([c for c in frame_{k}.columns if c.startswith("f_")]).fit(frame_{k})""",
            [],
        ),
        (
            f"""stats_{k} = summarize(frame_{k}, "value")
{drift}try:
    ratio_{k} = stats_{k}["std"] / stats_{k}["mean"]
except ZeroDivisionError:
    ratio_{k} = math.nan
print(f"step {k}: mean={{stats_{k}['mean']:.3f}} ratio={{ratio_{k}:.3f}}")""",
            [],
        ),
        (
            f"""total_{k} = 0.0
for i, (name, weight) in enumerate(sorted(weights_{k}.items())):
    scaled = weight * (i + 1)
    if scaled > threshold:
        total_{k} += scaled
matches_{k} = [s for s in lookup_{k} if re.match(r"seg_[0-9]", str(s))]""",
            [],
        ),
        (
            f"""frame_{k} = scaler_{k}.transform(frame_{k})
summary_{k} = {{"rows": len(frame_{k}), "total": {total}, "rare": sorted(rare_{k}), **stats_{k}}}
report_{k} = Path(out_dir) / "step_{k}.json"
text_{k} = json.dumps(summary_{k}, indent=2, default=str)""",
            [],
        ),
    ]
    if k % 5 == 4:  # an exploration cell left out of the pipeline
        cells[7] = (f'frame_{k}.describe(include="all")', ["skip"])
    return cells[:n_code]


def generate(path: Path) -> tuple[int, int]:
    notebook = nbformat.v4.new_notebook()
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    notebook.cells.append(nbformat.v4.new_code_cell(SETUP, metadata={"tags": ["setup"]}))
    notebook.cells.append(nbformat.v4.new_code_cell(PARAMETERS, metadata={"tags": ["parameters"]}))
    per_step = (CELLS - 2) // STEPS  # 9 cells (1 markdown + 8/9 code) per step, the rest spread over the first
    spare = (CELLS - 2) - per_step * STEPS
    for k in range(STEPS):
        size = per_step + (1 if k < spare else 0)
        notebook.cells.append(nbformat.v4.new_markdown_cell(f"## Step {k}\nDerive the features of stage {k}."))
        for source, tags in step_cells(k, size - 1):
            notebook.cells.append(nbformat.v4.new_code_cell(source, metadata={"tags": tags}))
    nbformat.write(notebook, path)
    return len(notebook.cells), sum(1 for c in notebook.cells if c.cell_type == "code")


def load() -> str:
    one, five, _ = os.getloadavg()
    return f"load average {one:.2f} (1 min), {five:.2f} (5 min)"


def phase_times(path: Path, rounds: int) -> list[list[str]]:
    """Each phase of compile_notebook alone, over the bench notebook's code cells."""
    from nbmlops.notebook import cell_events, cell_role, read_notebook, to_python
    from nbmlops.pipeline import compile_notebook

    notebook = read_notebook(path)
    cells = [c for c in notebook.cells if c.cell_type == "code"]
    codes = [to_python(cell_role(c, str(path)).code) for c in cells]
    trees = [ast.parse(code) for code in codes]
    spec = compile_notebook(notebook)
    phases = {
        "read_notebook (JSON, SHA-256)": lambda: read_notebook(path),
        "grammar + IPython syntax (cell_role, to_python)": lambda: [
            to_python(cell_role(c, str(path)).code) for c in cells
        ],
        "ast.parse, every code cell once": lambda: [ast.parse(code) for code in codes],
        "dataflow (cell_events)": lambda: [cell_events(tree) for tree in trees],
        "compile_notebook (everything, from the parsed file)": lambda: compile_notebook(notebook),
        "spec.save (pipeline.json)": lambda: spec.save(path.with_name("phases.json")),
    }
    times: dict[str, list[float]] = {name: [] for name in phases}
    paused = gc.isenabled()
    gc.disable()
    try:
        for _ in range(rounds):
            for name, phase in phases.items():
                began = time.perf_counter()
                phase()
                times[name].append(time.perf_counter() - began)
    finally:
        if paused:
            gc.enable()
    return [
        [name, str(rounds), f"{min(t) * 1000:.1f}", f"{statistics.median(t) * 1000:.1f}"] for name, t in times.items()
    ]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=20, help="in-process compile_notebook calls")
    parser.add_argument("--cli-runs", type=int, default=10, help="whole `nbmlops compile` commands")
    args = parser.parse_args()

    work = fresh_dir(WORK / "compile")
    path = work / "big.ipynb"
    cells, code = generate(path)
    print(f"machine: {machine()}")
    print(f"before: {load()}")
    print(f"notebook: {path} ({cells} cells, {code} code cells, {STEPS} steps, {path.stat().st_size // 1024} KiB)")

    began = time.perf_counter()
    from nbmlops.pipeline import compile_notebook

    import_s = time.perf_counter() - began
    first_began = time.perf_counter()
    spec = compile_notebook(path)
    first_s = time.perf_counter() - first_began
    inputs = sum(len(s.inputs) for s in spec.steps)
    print(f"compiled: {len(spec.steps)} steps, {inputs} step inputs, {len(spec.parameters)} parameters")
    if len(spec.steps) != STEPS:
        sys.exit(f"bench: expected {STEPS} steps, got {len(spec.steps)}")

    in_process = []
    for _ in range(args.runs):
        began = time.perf_counter()
        compile_notebook(path)
        in_process.append(time.perf_counter() - began)

    nbmlops = tool("nbmlops")
    cli = Command(
        "nbmlops compile NB -o pipeline.json",
        [nbmlops, "compile", str(path), "-o", str(work / "pipeline.json")],
        cwd=work,
    )
    floor = Command("nbmlops --help (CLI start-up floor)", [nbmlops, "--help"], cwd=work)
    python = Command("python -c pass (interpreter floor)", [sys.executable, "-c", "pass"], cwd=work)
    time_interleaved([cli, floor, python], args.cli_runs)

    print()
    print_table(
        ["what", "runs", "min s", "median s", "max s"],
        [
            ["import nbmlops.pipeline (this process)", "1", f"{import_s:.3f}", f"{import_s:.3f}", f"{import_s:.3f}"],
            ["compile_notebook, first call", "1", f"{first_s:.3f}", f"{first_s:.3f}", f"{first_s:.3f}"],
            stats_row("compile_notebook (in-process)", in_process),
            stats_row(cli.label, cli.times),
            stats_row(floor.label, floor.times),
            stats_row(python.label, python.times),
        ],
    )
    print()
    print_table(["phase (in-process)", "rounds", "min ms", "median ms"], phase_times(path, args.runs))
    print()
    print(f"after: {load()}")
    med_in = statistics.median(in_process)
    med_cli = statistics.median(cli.times)
    print()
    print(f"per cell (in-process): {med_in / cells * 1000:.2f} ms;  per step: {med_in / STEPS * 1000:.1f} ms")
    print(f"ratio whole command / in-process: {med_cli / med_in:.2f}x")
    print(
        f"target {TARGET_S} s, in-process: {med_in:.3f} s = {med_in / TARGET_S:.2f}x target -> "
        f"{verdict(med_in < TARGET_S)}"
    )
    print(
        f"target {TARGET_S} s, whole command: {med_cli:.3f} s = {med_cli / TARGET_S:.2f}x target -> "
        f"{verdict(med_cli < TARGET_S)}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
