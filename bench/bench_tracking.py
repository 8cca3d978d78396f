"""Tracking and registry: nbmlops vs MLflow (SQLite backend), same workloads, same run, ratios printed.

MLflow pins versions that clash with ours, so it lives in its own virtualenv, bench/.peers/mlflow (made on
first use), and both tools run each workload in a fresh subprocess with a fresh store:
  1. log_metric 10,000 times, one call each            (ms per call)
  2. log 10,000 metrics in one batch call               (s)
  3. create runs with 5 params and 5 metrics            (runs per second; MLflow gets fewer runs: it is slow)
  4. a filtered search over 2,000 runs                  (s)
  5. register a scikit-learn model and load it back     (s each)
Usage: .venv/bin/python bench/bench_tracking.py [--runs-nbmlops 10000] [--runs-mlflow 1000]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

from _common import BENCH, machine, print_table, verdict

PEER = BENCH / ".peers" / "mlflow"

NBMLOPS = textwrap.dedent("""
    import json, os, sys, time
    workload, n = sys.argv[1], int(sys.argv[2])
    os.environ["NBMLOPS_HOME"] = os.path.join(os.getcwd(), ".nbmlops")
    import nbmlops
    from nbmlops.store import open_store
    out = {}
    if workload == "log_metric":
        with nbmlops.start_run("bench", capture=False):
            t = time.perf_counter()
            for i in range(n):
                nbmlops.log_metric("loss", i * 0.001, step=i)
            out["seconds"] = time.perf_counter() - t
    elif workload == "log_batch":
        with nbmlops.start_run("bench", capture=False):
            values = {f"m{i}": i * 0.5 for i in range(n)}
            t = time.perf_counter()
            nbmlops.log_metrics(values)
            out["seconds"] = time.perf_counter() - t
    elif workload in ("create_runs", "search"):
        t = time.perf_counter()
        for i in range(n):
            with nbmlops.start_run(f"r{i}", params={f"p{k}": (i + k) % 7 for k in range(5)}, capture=False):
                nbmlops.log_metrics({f"m{k}": ((i * 31 + k) % 100) / 100 for k in range(5)})
        out["seconds"] = time.perf_counter() - t
        if workload == "search":
            store = open_store()
            t = time.perf_counter()
            found = store.list_runs(where=["metrics.m0 > 0.5", "params.p1 = 3"], order_by=["-metrics.m1"])
            out["search_seconds"] = time.perf_counter() - t
            out["found"] = len(found)
    elif workload == "registry":
        from sklearn.datasets import load_breast_cancer
        from sklearn.linear_model import LogisticRegression
        import pandas as pd
        data = load_breast_cancer(as_frame=True)
        model = LogisticRegression(max_iter=200).fit(data.data, data.target)
        with nbmlops.start_run("train", capture=False) as run:
            t = time.perf_counter()
            version = nbmlops.register_model(model, "bench", run=run, input_example=data.data.head(5))
            out["register_seconds"] = time.perf_counter() - t
        t = time.perf_counter()
        loaded = nbmlops.load_model(f"bench:{version.version}")
        out["load_seconds"] = time.perf_counter() - t
        assert (loaded.predict(data.data) == model.predict(data.data)).all()
    print(json.dumps(out))
""")

MLFLOW = textwrap.dedent("""
    import json, os, sys, time, warnings, logging
    warnings.filterwarnings("ignore")
    logging.disable(logging.WARNING)
    workload, n = sys.argv[1], int(sys.argv[2])
    import mlflow
    from mlflow.tracking import MlflowClient
    mlflow.set_tracking_uri("sqlite:///" + os.path.join(os.getcwd(), "mlflow.db"))
    mlflow.set_experiment("bench")
    out = {}
    if workload == "log_metric":
        with mlflow.start_run():
            t = time.perf_counter()
            for i in range(n):
                mlflow.log_metric("loss", i * 0.001, step=i)
            out["seconds"] = time.perf_counter() - t
    elif workload == "log_batch":
        with mlflow.start_run():
            values = {f"m{i}": i * 0.5 for i in range(n)}
            t = time.perf_counter()
            mlflow.log_metrics(values)
            out["seconds"] = time.perf_counter() - t
    elif workload in ("create_runs", "search"):
        t = time.perf_counter()
        for i in range(n):
            with mlflow.start_run(run_name=f"r{i}"):
                mlflow.log_params({f"p{k}": (i + k) % 7 for k in range(5)})
                mlflow.log_metrics({f"m{k}": ((i * 31 + k) % 100) / 100 for k in range(5)})
        out["seconds"] = time.perf_counter() - t
        if workload == "search":
            t = time.perf_counter()
            found = mlflow.search_runs(filter_string="metrics.m0 > 0.5 and params.p1 = '3'",
                                       order_by=["metrics.m1 DESC"], max_results=50000)
            out["search_seconds"] = time.perf_counter() - t
            out["found"] = len(found)
    elif workload == "registry":
        from sklearn.datasets import load_breast_cancer
        from sklearn.linear_model import LogisticRegression
        data = load_breast_cancer(as_frame=True)
        model = LogisticRegression(max_iter=200).fit(data.data, data.target)
        with mlflow.start_run():
            t = time.perf_counter()
            mlflow.sklearn.log_model(model, name="model", input_example=data.data.head(5),
                                     registered_model_name="bench")
            out["register_seconds"] = time.perf_counter() - t
        t = time.perf_counter()
        loaded = mlflow.sklearn.load_model("models:/bench/1")
        out["load_seconds"] = time.perf_counter() - t
        assert (loaded.predict(data.data) == model.predict(data.data)).all()
    print(json.dumps(out))
""")


def ensure_peer() -> Path:
    python = PEER / "bin" / "python"
    check = subprocess.run([str(python), "-c", "import mlflow"], capture_output=True) if python.exists() else None
    if check is None or check.returncode != 0:
        print("bench: installing MLflow into bench/.peers/mlflow (once)", file=sys.stderr)
        subprocess.run([sys.executable, "-m", "venv", str(PEER)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "-q", "mlflow>=3,<4", "scikit-learn"], check=True)
    return python


def measure(python: Path, code: str, workload: str, n: int) -> dict:
    with tempfile.TemporaryDirectory(dir=BENCH / ".work") as folder:
        env = {**os.environ, "PYTHONWARNINGS": "ignore", "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR": "false"}
        env.pop("NBMLOPS_HOME", None)
        done = subprocess.run(
            [str(python), "-c", code, workload, str(n)],
            cwd=folder,
            env=env,
            capture_output=True,
            text=True,
            timeout=3600,
        )
        if done.returncode != 0:
            sys.exit(f"bench: {workload} failed under {python}:\n{done.stderr[-3000:]}")
        return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--metrics", type=int, default=10_000)
    parser.add_argument("--runs-nbmlops", type=int, default=10_000)
    parser.add_argument("--runs-mlflow", type=int, default=1_000)
    parser.add_argument("--search-runs", type=int, default=2_000)
    args = parser.parse_args()
    (BENCH / ".work").mkdir(exist_ok=True)
    peer = ensure_peer()
    ours = Path(sys.executable)
    version = subprocess.run(
        [str(peer), "-c", "import mlflow; print(mlflow.__version__)"], capture_output=True, text=True
    ).stdout.strip()
    print(f"machine: {machine()}\nMLflow {version} (SQLite backend) in {PEER}\n")
    rows = []

    def row(label: str, mine: float, theirs: float, unit: str, lower_is_better: bool = True) -> None:
        ratio = theirs / mine if lower_is_better else mine / theirs
        rows.append([label, f"{mine:.4g} {unit}", f"{theirs:.4g} {unit}", f"{ratio:.1f}x", verdict(ratio >= 10)])

    a, b = measure(ours, NBMLOPS, "log_metric", args.metrics), measure(peer, MLFLOW, "log_metric", args.metrics)
    row(
        f"log_metric x{args.metrics}, per call",
        a["seconds"] / args.metrics * 1e3,
        b["seconds"] / args.metrics * 1e3,
        "ms",
    )
    a, b = measure(ours, NBMLOPS, "log_batch", args.metrics), measure(peer, MLFLOW, "log_batch", args.metrics)
    row(f"{args.metrics} metrics in one batch", a["seconds"], b["seconds"], "s")
    a = measure(ours, NBMLOPS, "create_runs", args.runs_nbmlops)
    b = measure(peer, MLFLOW, "create_runs", args.runs_mlflow)
    row(
        f"create runs (ours {args.runs_nbmlops}, MLflow {args.runs_mlflow})",
        args.runs_nbmlops / a["seconds"],
        args.runs_mlflow / b["seconds"],
        "runs/s",
        lower_is_better=False,
    )
    a, b = measure(ours, NBMLOPS, "search", args.search_runs), measure(peer, MLFLOW, "search", args.search_runs)
    if a["found"] != b["found"]:
        sys.exit(f"bench: the searches disagree: nbmlops found {a['found']}, MLflow {b['found']}")
    row(
        f"filtered search over {args.search_runs} runs ({a['found']} found)",
        a["search_seconds"],
        b["search_seconds"],
        "s",
    )
    a, b = measure(ours, NBMLOPS, "registry", 0), measure(peer, MLFLOW, "registry", 0)
    row("register a model", a["register_seconds"], b["register_seconds"], "s")
    row("load it back", a["load_seconds"], b["load_seconds"], "s")
    print_table(["workload", "nbmlops", "MLflow", "ratio", "target 10x"], rows)
    print(
        "\nnbmlops guarantee: each log_* call is committed (SQLite WAL, synchronous=NORMAL) before it returns:"
        "\nnothing is lost if the process dies right after; only an OS crash can drop the last commits."
    )


if __name__ == "__main__":
    main()
