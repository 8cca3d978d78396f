"""The Ray backend against the local one on the real example (example_notebooks/churn.ipynb, 7 steps).

    .venv/bin/python bench/bench_backends_ray.py [--rounds 3] [--points 8] [--num-cpus 2]

In one process, with Ray started once (its start-up is timed and reported apart) and warmed by one run:
  1. one pipeline run, local vs ray, taking turns (`--rounds`), cache off;
  2. 8 points of C: 8 pipeline runs on Ray at the same time (what a Ray sweep's children do) against the
     same 8 runs one after another on the local backend, cache off. (sweep_pipeline itself is not used yet:
     its children collide writing one cache entry from threads, see bench/RESULTS.md.)
Every measurement gets a fresh project home under bench/.work, so no cache carries over between them.
Target (issue 4): the Ray sweep at least 1.7x faster than the 8 local runs one after another, on 2 cores.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from _common import ROOT, WORK, fresh_dir, machine, print_table, stats_row, verdict

EXAMPLE = ROOT / "example_notebooks" / "churn.ipynb"
TARGET = 1.7


def timed(action: Callable[[], object]) -> float:
    began = time.perf_counter()
    action()
    return time.perf_counter() - began


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=3, help="rounds of the single-run comparison")
    parser.add_argument("--points", type=int, default=8, help="points of the sweep")
    parser.add_argument("--num-cpus", type=int, default=2, help="CPUs of the local Ray runtime")
    args = parser.parse_args()

    from nbmlops.pipeline import compile_notebook
    from nbmlops.runners import run_pipeline, sweep_pipeline
    from nbmlops.runners.ray_backend import init_ray

    work = fresh_dir(WORK / "ray")
    shutil.copy(EXAMPLE, work / "churn.ipynb")
    os.chdir(work)
    spec = compile_notebook(work / "churn.ipynb")
    homes = iter(range(10_000))

    def home() -> Path:
        return work / f"home{next(homes)}" / ".nbmlops"

    print(machine())
    startup = timed(lambda: init_ray(num_cpus=args.num_cpus, log_to_driver=False))
    # warm both: imports in this process (local) and in Ray's workers (sklearn, pandas)
    run_pipeline(spec, home=home(), use_cache=False)
    warm = timed(lambda: run_pipeline(spec, home=home(), backend="ray", use_cache=False))

    local_t: list[float] = []
    ray_t: list[float] = []
    for _ in range(args.rounds):
        local_t.append(timed(lambda: run_pipeline(spec, ["C=0.5"], home=home(), use_cache=False)))
        ray_t.append(timed(lambda: run_pipeline(spec, ["C=0.5"], home=home(), backend="ray", use_cache=False)))

    values = [f"C={0.05 * 2**i:g}" for i in range(args.points)]

    def whole_local_runs() -> None:
        for point in values:
            run_pipeline(spec, [point], home=home(), use_cache=False)

    def concurrent_ray_runs() -> None:
        # what a sweep on Ray does (children at once, in threads); a home each, as run_sweep's children would
        # share one cache (see RESULTS: concurrent writes of one cache entry collide at 29a51eb)
        with ThreadPoolExecutor(max_workers=len(values)) as pool:
            list(pool.map(lambda p: run_pipeline(spec, [p], home=home(), backend="ray", use_cache=False), values))

    points = [f"C={','.join(v.split('=')[1] for v in values)}"]

    def sweep_on(backend: str) -> Callable[[], None]:
        # the real sweep: shared upstream steps once in the parent, children at once on Ray
        return lambda: sweep_pipeline(spec, points, home=home(), backend=backend)

    sweep_ray = timed(concurrent_ray_runs)
    eight_local = timed(whole_local_runs)
    real_sweep_ray = timed(sweep_on("ray"))
    real_sweep_local = timed(sweep_on("local"))

    print(f"\nRay start-up (once per process): {startup:.2f} s; first Ray run (workers importing): {warm:.2f} s")
    print_table(
        ["one churn run", "runs", "min s", "median s", "max s"],
        [stats_row("local backend", local_t), stats_row("ray backend", ray_t)],
    )
    single = statistics.median(ray_t) / statistics.median(local_t)
    print(f"ray / local, one run: {single:.2f}x")
    rows = [
        [f"{args.points} runs of the pipeline on Ray, at once", f"{sweep_ray:.2f}"],
        [f"the same {args.points} runs on local, one after another", f"{eight_local:.2f}"],
    ]
    print_table(["8 points of C, cache off", "s"], rows)
    speedup = eight_local / sweep_ray
    print(f"local one after another / ray at once: {speedup:.2f}x (target >= {TARGET}x): {verdict(speedup >= TARGET)}")
    rows = [
        [f"sweep_pipeline on Ray ({args.points} children at once, shared steps once)", f"{real_sweep_ray:.2f}"],
        [
            f"sweep_pipeline on local ({args.points} children one after another, shared steps once)",
            f"{real_sweep_local:.2f}",
        ],
        [f"{args.points} whole pipelines on local, one after another", f"{eight_local:.2f}"],
    ]
    print_table([f"{args.points}-point sweep of C", "s"], rows)
    real = eight_local / real_sweep_ray
    print(f"8 whole local runs / Ray sweep: {real:.2f}x (target >= {TARGET}x): {verdict(real >= TARGET)}")
    print(f"8 whole local runs / local sweep (sharing the upstream steps alone): {eight_local / real_sweep_local:.2f}x")
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    sys.exit(main())
