"""RunsBrowser over a large store: its first page, a filtered and sorted first page, and comparing 50 runs, against
`nbmlops runs ls --json` for the same query and MLflow's `search_runs` (the query behind MLflow's run table) on the
same runs in its own SQLite store.

A store of N runs (default 10,000), each with 5 params and 5 metrics, is made once per tool. Each measure runs in a
fresh subprocess: "cold" is the whole process (interpreter, imports, opening the store, the page), "warm" the call
alone after the imports and a first open (what a kernel that already imported nbmlops pays), median of 5.
Usage: .venv/bin/python bench/bench_widgets.py [--runs 10000] [--no-mlflow]
MLflow lives in bench/.peers/mlflow (made on first use; `bench_tracking.py` makes the same one).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import textwrap
import time
from pathlib import Path

from _common import BENCH, WORK, machine, print_table, tool

PEER = BENCH / ".peers" / "mlflow"
FILTER = "metrics.m0 > 0.5 and params.p1 = 3"
ORDER = "-metrics.m1"
REPEATS = 5

MAKE = textwrap.dedent('''
    import sys, time
    from nbmlops.store import open_store
    n = int(sys.argv[1])
    store = open_store(sys.argv[2])
    t0 = time.time() - n
    for i in range(n):
        run = store.create_run(name=f"r{i}", pipeline="bench", params={f"p{k}": (i + k) % 7 for k in range(5)},
                               started_at=t0 + i)
        store.log_metrics(run, {f"m{k}": ((i * 31 + k) % 100) / 100 for k in range(5)})
        store.finish_run(run, ended_at=t0 + i + 1)
''')

WIDGET = textwrap.dedent('''
    import json, statistics, sys, time
    t_start = time.perf_counter()
    from nbmlops.store import open_store
    from nbmlops.widgets import RunsBrowser
    home, what, repeats = sys.argv[1], sys.argv[2], int(sys.argv[3])
    kwargs = {"filter": sys.argv[4], "order_by": sys.argv[5]} if what == "query" else {}
    store = open_store(home)
    browser = RunsBrowser(store=store, **kwargs)
    cold = time.perf_counter() - t_start
    assert browser.message is None and len(browser.page.runs) == min(50, browser.page.total), browser.message
    warm = []
    for _ in range(repeats):
        t = time.perf_counter()
        if what == "compare":
            browser.select(*[r.id for r in browser.page.runs[:50]])
            assert len(browser.comparison.columns) == 52 and browser.compare_figure is not None
            browser.select()
        else:
            again = RunsBrowser(store=store, **kwargs)
            assert len(again.page.runs) == len(browser.page.runs)
        warm.append(time.perf_counter() - t)
    print(json.dumps({"cold": cold, "warm": statistics.median(warm), "total": browser.page.total}))
''')

MLFLOW = textwrap.dedent('''
    import json, os, statistics, sys, time
    t_start = time.perf_counter()
    what, n, repeats = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    os.environ.setdefault("MLFLOW_ENABLE_ASYNC_LOGGING", "false")
    import mlflow
    from mlflow.entities import Metric, Param, RunTag
    from mlflow.tracking import MlflowClient
    mlflow.set_tracking_uri("sqlite:///" + os.path.join(os.getcwd(), "mlflow.db"))
    client = MlflowClient()
    if what == "make":
        exp = client.create_experiment("bench")
        for i in range(n):
            run = client.create_run(exp, run_name=f"r{i}")
            now = int(time.time() * 1000)
            client.log_batch(run.info.run_id, metrics=[Metric(f"m{k}", ((i * 31 + k) % 100) / 100, now, 0)
                                                     for k in range(5)],
                             params=[Param(f"p{k}", str((i + k) % 7)) for k in range(5)])
            client.set_terminated(run.info.run_id)
        print(json.dumps({}))
        sys.exit(0)
    exp = client.get_experiment_by_name("bench").experiment_id
    kwargs = ({"filter_string": "metrics.m0 > 0.5 and params.p1 = '3'", "order_by": ["metrics.m1 DESC"]}
              if what == "query" else {})
    found = client.search_runs([exp], max_results=50, **kwargs)
    cold = time.perf_counter() - t_start
    warm = []
    for _ in range(repeats):
        t = time.perf_counter()
        if what == "compare":  # what a compare view reads: each run and the history of each of its metrics
            for run in found[:50]:
                client.get_run(run.info.run_id)
                for key in run.data.metrics:
                    client.get_metric_history(run.info.run_id, key)
        else:
            client.search_runs([exp], max_results=50, **kwargs)
        warm.append(time.perf_counter() - t)
    print(json.dumps({"cold": cold, "warm": statistics.median(warm), "total": len(found)}))
''')


def run_json(argv: list[str], cwd: Path, env: dict[str, str] | None = None) -> dict:
    done = subprocess.run(argv, cwd=cwd, capture_output=True, text=True, env={**os.environ, **(env or {})},
                          timeout=3600)
    if done.returncode != 0:
        sys.exit(f"bench: {' '.join(argv[:3])} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1] or "{}")


def time_cli(argv: list[str], cwd: Path, env: dict[str, str]) -> tuple[float, int]:
    """Median wall time of the whole `nbmlops runs ls` command and how many runs it printed."""
    times, count = [], 0
    for _ in range(REPEATS):
        t = time.perf_counter()
        done = subprocess.run(argv, cwd=cwd, capture_output=True, text=True, env={**os.environ, **env}, timeout=600)
        times.append(time.perf_counter() - t)
        if done.returncode != 0:
            sys.exit(f"bench: {' '.join(argv)} failed:\n{done.stderr[-2000:]}")
        count = len(json.loads(done.stdout))
    return statistics.median(times), count


def ensure_peer() -> Path | None:
    python = PEER / "bin" / "python"
    if python.exists() and subprocess.run([str(python), "-c", "import mlflow"], capture_output=True).returncode == 0:
        return python
    print(f"making {PEER} (MLflow 3; a few minutes, once)")
    subprocess.run([sys.executable, "-m", "venv", str(PEER)], check=True)
    subprocess.run([str(python), "-m", "pip", "install", "-q", "mlflow>=3,<4"], check=True)
    return python


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=10_000)
    parser.add_argument("--no-mlflow", action="store_true")
    args = parser.parse_args()
    work = WORK / "widgets"
    home = work / "nbmlops" / ".nbmlops"
    marker = work / f"nbmlops-{args.runs}.done"
    python = sys.executable
    if not marker.exists():
        shutil.rmtree(work / "nbmlops", ignore_errors=True)
        home.mkdir(parents=True)
        t = time.perf_counter()
        run_json([python, "-c", MAKE + "\nprint('{}')", str(args.runs), str(home)], work)
        marker.write_text("")
        print(f"made {args.runs:,} nbmlops runs in {time.perf_counter() - t:.0f} s")
    print(f"machine: {machine()}\nstore: {args.runs:,} runs, 5 params and 5 metrics each (SQLite)\n")
    env = {"NBMLOPS_HOME": str(home)}
    results: dict[str, dict] = {}
    for what in ("first", "query", "compare"):
        results[what] = run_json([python, "-c", WIDGET, str(home), what, str(REPEATS), FILTER, ORDER], work, env)
    nbmlops = tool("nbmlops")
    cli_first = time_cli([nbmlops, "runs", "ls", "--json", "--limit", "50"], work, env)
    cli_query = time_cli([nbmlops, "runs", "ls", "--json", "--limit", "50", "--filter", FILTER,
                          "--order-by", ORDER], work, env)
    peer: dict[str, dict] = {}
    if not args.no_mlflow:
        mlflow_python = ensure_peer()
        folder = work / "mlflow"
        peer_marker = work / f"mlflow-{args.runs}.done"
        if not peer_marker.exists():
            shutil.rmtree(folder, ignore_errors=True)
            folder.mkdir(parents=True)
            t = time.perf_counter()
            run_json([str(mlflow_python), "-c", MLFLOW, "make", str(args.runs), "0"], folder)
            peer_marker.write_text("")
            print(f"made {args.runs:,} MLflow runs in {time.perf_counter() - t:.0f} s")
        for what in ("first", "query", "compare"):
            peer[what] = run_json([str(mlflow_python), "-c", MLFLOW, what, str(args.runs), str(REPEATS)], folder)

    def ms(seconds: float) -> str:
        return f"{seconds * 1000:,.0f} ms"

    rows = []
    labels = {"first": "first page (newest 50)", "query": f"first page of '{FILTER}' by {ORDER}",
              "compare": "compare 50 runs (params, metrics, curves)"}
    for what in ("first", "query", "compare"):
        mine = results[what]
        cli = {"first": cli_first, "query": cli_query}.get(what)
        theirs = peer.get(what)
        rows.append([labels[what], ms(mine["warm"]), ms(mine["cold"]), ms(cli[0]) if cli else "—",
                     f"{cli[0] / mine['cold']:.2f}x" if cli else "—",
                     ms(theirs["warm"]) if theirs else "—", ms(theirs["cold"]) if theirs else "—",
                     f"{theirs['warm'] / mine['warm']:.1f}x" if theirs else "—"])
    print_table(["query", "RunsBrowser warm", "RunsBrowser cold", "runs ls --json", "CLI / widget cold",
                 "MLflow warm", "MLflow cold", "MLflow / widget warm"], rows)
    print(f"\nmatching runs: {results['query']['total']:,} of {args.runs:,}; target: first page < 1 s "
          f"({'MET' if results['first']['cold'] < 1 else 'NOT MET'} cold, "
          f"{'MET' if results['first']['warm'] < 1 else 'NOT MET'} warm)")


if __name__ == "__main__":
    main()
