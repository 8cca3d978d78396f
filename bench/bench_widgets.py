"""RunsBrowser over a large store: its first page, a filtered and sorted first page, and comparing 50 runs, against
`nbmlops runs ls --json` for the same query and MLflow's `search_runs` (the query behind MLflow's run table) on the
same runs in its own SQLite store.

A store of N runs (default 10,000), each with 5 params and 5 metrics, is made once (kept in bench/.work/widgets).
Each measure runs in a fresh subprocess: "cold" is the whole process (interpreter, imports, opening the store, the
page), "warm" the call alone after the imports and a first open (what a kernel that already imported nbmlops pays),
median of 5. MLflow writes about 4 runs a second here (10,000 would take 45 minutes), so the MLflow comparison runs
on its own store of --peer-runs (default 2,000) runs, against an nbmlops store of the same runs, in the same run of
this script; the 10,000-run rows are nbmlops and `runs ls` alone.
Usage: .venv/bin/python bench/bench_widgets.py [--runs 10000] [--peer-runs 2000] [--no-mlflow]
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

MAKE = textwrap.dedent("""
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
""")

WIDGET = textwrap.dedent("""
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
""")

MLFLOW = textwrap.dedent("""
    import json, os, statistics, sys, time
    t_start = time.perf_counter()
    what, n, repeats = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    os.environ.setdefault("MLFLOW_ENABLE_ASYNC_LOGGING", "false")
    import mlflow
    from mlflow.entities import Metric, Param, RunTag
    from mlflow.tracking import MlflowClient
    mlflow.set_tracking_uri("sqlite:///" + os.path.join(os.getcwd(), "mlflow.db"))
    client = MlflowClient()
    if what == "make":  # continues an interrupted make: the runs are made in order
        found = client.get_experiment_by_name("bench")
        exp = found.experiment_id if found else client.create_experiment("bench")
        done = len(client.search_runs([exp], max_results=50000))
        for i in range(done, n):
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
""")


def run_json(argv: list[str], cwd: Path, env: dict[str, str] | None = None) -> dict:
    done = subprocess.run(
        argv, cwd=cwd, capture_output=True, text=True, env={**os.environ, **(env or {})}, timeout=3600
    )
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


def nbmlops_store(work: Path, runs: int) -> Path:
    """The project home of an nbmlops store of `runs` runs (made once)."""
    home = work / f"nbmlops-{runs}" / ".nbmlops"
    marker = work / f"nbmlops-{runs}.done"
    if not marker.exists():
        shutil.rmtree(home.parent, ignore_errors=True)
        home.mkdir(parents=True)
        t = time.perf_counter()
        run_json([sys.executable, "-c", MAKE + "\nprint('{}')", str(runs), str(home)], work)
        marker.write_text("")
        print(f"made {runs:,} nbmlops runs in {time.perf_counter() - t:.0f} s")
    return home


def measure_nbmlops(work: Path, home: Path) -> tuple[dict[str, dict], tuple[float, int], tuple[float, int]]:
    env = {"NBMLOPS_HOME": str(home)}
    results = {
        what: run_json([sys.executable, "-c", WIDGET, str(home), what, str(REPEATS), FILTER, ORDER], work, env)
        for what in ("first", "query", "compare")
    }
    nbmlops = tool("nbmlops")
    cli_first = time_cli([nbmlops, "runs", "ls", "--json", "--limit", "50"], work, env)
    cli_query = time_cli(
        [nbmlops, "runs", "ls", "--json", "--limit", "50", "--filter", FILTER, "--order-by", ORDER], work, env
    )
    return results, cli_first, cli_query


def ms(seconds: float) -> str:
    return f"{seconds * 1000:,.0f} ms"


LABELS = {
    "first": "first page (newest 50)",
    "query": f"first page of '{FILTER}' by {ORDER}",
    "compare": "compare 50 runs (params, metrics, curves)",
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=10_000)
    parser.add_argument("--peer-runs", type=int, default=2_000)
    parser.add_argument("--no-mlflow", action="store_true")
    args = parser.parse_args()
    work = WORK / "widgets"
    work.mkdir(parents=True, exist_ok=True)
    print(f"machine: {machine()}\n")
    home = nbmlops_store(work, args.runs)
    results, cli_first, cli_query = measure_nbmlops(work, home)
    rows = []
    for what in ("first", "query", "compare"):
        cli = {"first": cli_first, "query": cli_query}.get(what)
        rows.append(
            [
                LABELS[what],
                ms(results[what]["warm"]),
                ms(results[what]["cold"]),
                ms(cli[0]) if cli else "—",
                f"{cli[0] / results[what]['cold']:.2f}x" if cli else "—",
            ]
        )
    print(
        f"{args.runs:,} runs, 5 params and 5 metrics each (SQLite); matching the filter: {results['query']['total']:,}"
    )
    print_table(["query", "RunsBrowser warm", "RunsBrowser cold", "runs ls --json", "runs ls / RunsBrowser cold"], rows)
    print(
        f"target: first page < 1 s: {'MET' if results['first']['cold'] < 1 else 'NOT MET'} cold "
        f"({ms(results['first']['cold'])}), {'MET' if results['first']['warm'] < 1 else 'NOT MET'} warm"
    )
    if args.no_mlflow:
        return
    mlflow_python = ensure_peer()
    folder = work / "mlflow"
    folder.mkdir(exist_ok=True)
    peer_marker = work / f"mlflow-{args.peer_runs}.done"
    if not peer_marker.exists():
        t = time.perf_counter()
        run_json([str(mlflow_python), "-c", MLFLOW, "make", str(args.peer_runs), "0"], folder)
        peer_marker.write_text("")
        print(f"made MLflow runs up to {args.peer_runs:,} in {time.perf_counter() - t:.0f} s")
    peer = {
        what: run_json([str(mlflow_python), "-c", MLFLOW, what, str(args.peer_runs), str(REPEATS)], folder)
        for what in ("first", "query", "compare")
    }
    small, _, _ = measure_nbmlops(work, nbmlops_store(work, args.peer_runs))
    rows = [
        [
            LABELS[what],
            ms(small[what]["warm"]),
            ms(peer[what]["warm"]),
            f"{peer[what]['warm'] / small[what]['warm']:.1f}x",
            ms(small[what]["cold"]),
            ms(peer[what]["cold"]),
            f"{peer[what]['cold'] / small[what]['cold']:.1f}x",
        ]
        for what in ("first", "query", "compare")
    ]
    version = subprocess.run(
        [str(mlflow_python), "-c", "import mlflow; print(mlflow.__version__)"], capture_output=True, text=True
    ).stdout.strip()
    print(f"\n{args.peer_runs:,} runs in each tool's own SQLite store (same params and metrics); MLflow {version}")
    print_table(
        [
            "query",
            "RunsBrowser warm",
            "MLflow warm",
            "MLflow / nbmlops",
            "RunsBrowser cold",
            "MLflow cold",
            "MLflow / nbmlops cold",
        ],
        rows,
    )


if __name__ == "__main__":
    main()
