"""Rerun after editing the last step: a cached rerun vs a full rerun, as whole `nbmlops run` commands.

The notebook's upstream step takes about 5 s (as loading real data does); editing the last step must rerun only
that step. Target (issue 4): the cached rerun at least 10x faster than the full rerun.

    .venv/bin/python bench/bench_cache.py [--runs 3] [--seconds 5]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path

from _common import WORK, Command, fresh_dir, machine, print_table, stats_row, tool, verdict

TARGET = 10.0


def notebook(seconds: float, last: str) -> dict:
    cells = [
        ("import time", ["setup"]),
        (
            f"time.sleep({seconds})  # stands for reading and parsing the raw data\nraw = list(range(100_000))",
            ["step:load"],
        ),
        ("features = [x % 97 for x in raw]", ["step:features"]),
        ("model = sum(features) / len(features)", ["step:train"]),
        (last, ["step:report"]),
    ]
    return {
        "nbformat": 4,
        "nbformat_minor": 5,
        "metadata": {"kernelspec": {"name": "python3"}},
        "cells": [
            {"cell_type": "code", "metadata": {"tags": tags}, "source": src, "outputs": [], "execution_count": None}
            for src, tags in cells
        ],
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=5.0)
    args = parser.parse_args()
    work = fresh_dir(WORK / "cache")
    path = work / "edit.ipynb"
    home = {"NBMLOPS_HOME": str(work / ".nbmlops")}
    edits = iter(range(1_000_000))

    def edit_last_step(_number: int) -> None:
        path.write_text(json.dumps(notebook(args.seconds, f"print('model', model, {next(edits)})")))

    path.write_text(json.dumps(notebook(args.seconds, "print('model', model)")))
    nbmlops = tool("nbmlops")
    Command("first run", [nbmlops, "run", str(path)], cwd=work, env=home).once(0)  # fills the cache
    full = Command("full rerun (--no-cache)", [nbmlops, "run", str(path), "--no-cache"], cwd=work, env=home)
    cached = Command(
        "rerun after editing the last step",
        [nbmlops, "run", str(path)],
        cwd=work,
        env=home,
        before=lambda n: edit_last_step(n),
    )
    for number in range(args.runs):
        full.times.append(full.once(number))
        cached.times.append(cached.once(number))
    print(machine())
    print_table(
        ["command", "runs", "min s", "median s", "max s"], [stats_row(c.label, c.times) for c in (full, cached)]
    )
    ratio = statistics.median(full.times) / statistics.median(cached.times)
    print(
        f"full / cached rerun: {ratio:.1f}x (target >= {TARGET:g}x with a {args.seconds:g} s upstream step): "
        f"{verdict(ratio >= TARGET)}"
    )
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    sys.exit(main())
