"""What one run asks of the shared store: SQL statements and commits per run and per step, and bytes written
per step (the step values a remote artifact root would receive), measured on the churn example against a real
PostgreSQL — the figures the 16-node estimate in RESULTS.md is built on.

    NBMLOPS_BENCH_PG_URL=postgresql+psycopg://... .venv/bin/python bench/bench_store_load.py [--runs 3]

Each run gets a fresh project home and cache off (every step executes and logs); a schema of its own in the
database, dropped at the end. Statements are counted at SQLAlchemy's engine (every statement nbmlops sends).
"""

from __future__ import annotations

import argparse
import os
import secrets
import shutil
import statistics
import time

import sqlalchemy as sa
from _common import ROOT, WORK, fresh_dir, machine


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    base = os.environ.get("NBMLOPS_BENCH_PG_URL") or os.environ.get("NBMLOPS_TEST_PG_URL")
    if not base:
        raise SystemExit("set NBMLOPS_BENCH_PG_URL to a PostgreSQL URL")
    schema = f"bench_{secrets.token_hex(4)}"
    admin = sa.create_engine(base)
    with admin.begin() as conn:
        conn.exec_driver_sql(f"CREATE SCHEMA {schema}")
    url = sa.engine.make_url(base).update_query_dict({"options": f"-csearch_path={schema}"})
    os.environ["NBMLOPS_DB_URL"] = url.render_as_string(hide_password=False)

    counts = {"statements": 0, "commits": 0}

    @sa.event.listens_for(sa.engine.Engine, "before_cursor_execute")
    def _statement(*_args: object) -> None:
        counts["statements"] += 1

    @sa.event.listens_for(sa.engine.Engine, "commit")
    def _commit(*_args: object) -> None:
        counts["commits"] += 1

    from nbmlops.pipeline import compile_notebook
    from nbmlops.runners import RunDir, run_pipeline

    work = fresh_dir(WORK / "store_load")
    shutil.copy(ROOT / "example_notebooks" / "churn.ipynb", work / "churn.ipynb")
    os.chdir(work)
    spec = compile_notebook(work / "churn.ipynb")
    rows = []
    try:
        for number in range(args.runs + 1):  # the first opens the store (schema made): not counted
            home = fresh_dir(work / "homes" / f"run{number}")
            os.environ["NBMLOPS_HOME"] = str(home)
            counts.update(statements=0, commits=0)
            began = time.perf_counter()
            result = run_pipeline(spec, ["C=0.5"], home=home, use_cache=False)
            seconds = time.perf_counter() - began
            run = RunDir(result.run_dir)
            sizes = [sum(s.size for s in run.stored_outputs(step).values()) for step in result.steps]
            if number:
                rows.append((counts["statements"], counts["commits"], seconds, sizes))
    finally:
        with admin.begin() as conn:
            conn.exec_driver_sql(f"DROP SCHEMA {schema} CASCADE")
        admin.dispose()
    steps = len(spec.steps)
    statements = statistics.median(r[0] for r in rows)
    commits = statistics.median(r[1] for r in rows)
    seconds = statistics.median(r[2] for r in rows)
    sizes = rows[-1][3]
    print(f"machine: {machine()}; load average {os.getloadavg()[0]:.1f}; {args.runs} runs of churn ({steps} steps)")
    print("| per run (median) | value |\n|---|---|")
    print(f"| SQL statements | {statements:.0f} ({statements / steps:.1f} per step) |")
    print(f"| commits | {commits:.0f} ({commits / steps:.1f} per step) |")
    print(f"| run time, local backend | {seconds:.2f} s |")
    print(f"| bytes of step values written | {sum(sizes):,} (largest step {max(sizes):,}; per step {sizes}) |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
