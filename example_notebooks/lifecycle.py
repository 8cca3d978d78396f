"""`make demo`: the whole lifecycle on the embedded defaults (SQLite, local files, this machine), end to end.

    features.ipynb → train.ipynb (a sweep, the best registered as churn@staging) → serve_and_monitor.ipynb
    (promote, serve over HTTP, drifting traffic, late labels, drift report, retraining on drift, schedules)

Every stage is a real `nbmlops` command on copies of the example notebooks in build/demo/ (a fresh project each
time, so the demo never touches your own), with one progress line per stage and, at the end, where to look.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
WORK = Path(os.environ.get("NBMLOPS_DEMO_DIR", HERE.parent / "build" / "demo")).resolve()
NBMLOPS = str(Path(sys.executable).with_name("nbmlops"))
NOTEBOOKS = ("features.ipynb", "train.ipynb", "serve_and_monitor.ipynb")
SWEEP = ["-p", "family=logreg,forest", "-p", "strength=0.3,1,3", "--objective", "metrics.roc_auc:max"]


def nbmlops(*args: str) -> str:
    """Run one nbmlops command in the demo project; its output is kept for the summary, shown if it fails."""
    done = subprocess.run([NBMLOPS, *args], cwd=WORK, env={**os.environ, "NBMLOPS_HOME": str(WORK / ".nbmlops")},
                          capture_output=True, text=True)
    if done.returncode != 0:
        sys.exit(f"`nbmlops {' '.join(args)}` failed (exit {done.returncode}):\n{done.stdout}{done.stderr}")
    return done.stdout


def stage(number: int, what: str, *args: str) -> str:
    started = time.perf_counter()
    print(f"[{number}/5] {what} ...", flush=True)
    out = nbmlops(*args)
    print(f"      done in {time.perf_counter() - started:.0f} s", flush=True)
    return out


def runs() -> list[dict]:
    return json.loads(nbmlops("runs", "ls", "--json", "--limit", "200"))


def main() -> None:
    shutil.rmtree(WORK, ignore_errors=True)
    WORK.mkdir(parents=True)
    for name in NOTEBOOKS:
        shutil.copy(HERE / name, WORK / name)

    stage(1, "features: raw events → feature sets, ingested (features.ipynb)", "run", "features.ipynb")
    stage(2, "train: a sweep over two model families (train.ipynb)", "run", "train.ipynb", *SWEEP,
          "-p", "register=False")
    listed = runs()
    sweep = next(r for r in listed if r["tags"].get("sweep") == "parent")
    best = next(r for r in listed if r["id"] == sweep["tags"]["best_child"])  # ranked by the sweep's objective
    chosen = [f"{k}={best['params'][k]}" for k in ("family", "strength")]
    stage(3, f"register the best child ({', '.join(chosen)}) as churn@staging", "run", "train.ipynb",
          *[arg for pair in chosen for arg in ("-p", pair)])
    stage(4, "serve, drifting traffic, late labels, monitor, retrain on drift (serve_and_monitor.ipynb)",
          "run", "serve_and_monitor.ipynb")
    stage(5, "what the project holds now", "models", "ls")

    serve_run = next(r for r in runs() if r["pipeline"] == "serve_and_monitor")
    step_out = (WORK / ".nbmlops" / "runs" / serve_run["id"] / "steps" / "traffic" / "stdout.txt").read_text()
    versions = json.loads(nbmlops("models", "ls", "churn", "--json"))
    print()
    print("Where to look")
    features_run = next(r for r in runs() if r["pipeline"] == "features")
    print(f"  runs              features {features_run['id']}, sweep {sweep['id']} (best {best['id']}, roc_auc "
          f"{best['metrics']['roc_auc']}), serve_and_monitor {serve_run['id']}")
    for version in versions:
        aliases = ", ".join(f"@{a}" for a in version.get("aliases", [])) or "-"
        print(f"  model version     churn:{version['version']}  {aliases}  run {version.get('run_id')}")
    print(f"  drift report      {WORK / 'drift_report.html'}")
    print(f"  server            {step_out.strip().splitlines()[-1]}")
    print(f"  project           {WORK} (nbmlops runs ls, nbmlops models ls, nbmlops schedule ls there)")
    print(f"  notebooks         jupyter lab {WORK}")


if __name__ == "__main__":
    main()
