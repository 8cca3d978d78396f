"""Ray's warm-up tax on the churn example: `nbmlops run churn.ipynb --backend ray`, twice, as whole commands.

    .venv/bin/python bench/bench_ray_startup.py [--rounds 1]

  - before: no cluster running, so each run starts Ray in its own process (`ray.init()`) and stops it at exit;
  - after: `nbmlops ray start` once (timed on its own), then each run joins that local cluster.

Every run has a throwaway NBMLOPS_HOME (no step comes from the cache), so the difference is Ray's start-up.
The Ray processes get the rfc3987-syntax shim (`--no-shim` to leave it out): with that package installed,
jsonschema compiles its grammar for seconds at import in every Ray agent, and on a loaded machine the raylet
then gives up waiting for them (see the Ray section of RESULTS.md).
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import tempfile
import time

from _common import ROOT, WORK, command_env, fresh_dir, machine, tool


def timed(argv: list[str], cwd: str, env: dict[str, str]) -> float:
    began = time.perf_counter()
    done = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=1200)
    seconds = time.perf_counter() - began
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} failed:\n{done.stdout[-2000:]}\n{done.stderr[-3000:]}")
    return seconds


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=1, help="before/after rounds (each: two runs of each kind)")
    parser.add_argument("--no-shim", action="store_true", help="don't hide rfc3987_syntax from Ray's processes")
    args = parser.parse_args()

    work = fresh_dir(WORK / "ray_startup")
    shutil.copy(ROOT / "example_notebooks" / "churn.ipynb", work / "churn.ipynb")
    env = command_env()
    env.pop("NBMLOPS_RAY_ADDRESS", None)
    if not args.no_shim:
        shim = work / "shim"
        shim.mkdir()
        (shim / "rfc3987_syntax.py").write_text('raise ImportError("hidden from Ray\'s agents")\n')
        env["PYTHONPATH"] = os.pathsep.join(p for p in (str(shim), env.get("PYTHONPATH")) if p)
    ray_dir = tempfile.mkdtemp(prefix="nbr-bench-")  # short: Ray's socket paths
    env["NBMLOPS_RAY_DIR"] = ray_dir
    nbmlops = tool("nbmlops")
    run = [nbmlops, "run", "churn.ipynb", "--backend", "ray"]
    count = 0

    def one_run() -> float:
        nonlocal count
        count += 1
        return timed(run, str(work), {**env, "NBMLOPS_HOME": str(fresh_dir(work / "homes" / f"run{count}"))})

    rows: list[tuple[str, float]] = []
    try:
        for _ in range(args.rounds):
            rows += [("before: first run (starts Ray)", one_run()), ("before: second run (starts Ray)", one_run())]
            rows.append(("nbmlops ray start", timed([nbmlops, "ray", "start"], str(work), env)))
            rows += [("after: first run (joins it)", one_run()), ("after: second run (joins it)", one_run())]
            timed([nbmlops, "ray", "stop"], str(work), env)
    finally:
        subprocess.run([nbmlops, "ray", "stop"], cwd=work, env=env, capture_output=True, timeout=120)
        shutil.rmtree(ray_dir, ignore_errors=True)
    print(f"machine: {machine()}; load average {os.getloadavg()[0]:.1f}; rfc3987 shim: {not args.no_shim}")
    print("| measurement | s |\n|---|---|")
    for label, seconds in rows:
        print(f"| {label} | {seconds:.2f} |")
    before = [s for label, s in rows if label.startswith("before")]
    after = [s for label, s in rows if label.startswith("after")]
    print(
        f"before / after, mean of the runs: {sum(before) / len(before):.2f} s / {sum(after) / len(after):.2f} s"
        f" = {sum(before) / sum(after):.2f}x"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
