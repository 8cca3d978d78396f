"""The scheduler: one pass over 1,000 schedules, the delay from an occurrence's due time to its start (nbmlops vs
APScheduler 3 with its SQLAlchemy job store, same machine, same run), and 8 schedulers racing on PostgreSQL: 0
duplicate occurrences over 10,000 claims.

1. Pass over 1,000 cron schedules (SQLite store): nothing due (the steady state of every wake-up), then all 1,000
   due at one instant (each claimed: plan + insert-that-only-one-wins + cursor in one transaction); the claim is
   timed per occurrence from its due time. Workers are not started in this part (1,000 pipeline processes at once
   would measure the machine, not the scheduler).
2. Due -> start with real runs: 1,000 schedules in the store, 8 of them due at the next minute; `Scheduler.
   run_forever` on the real clock; per occurrence the time from due to the worker's start (claim) and to the
   pipeline run's start in the store (process start, imports, compile cache, run record). APScheduler gets the
   same 1,000 cron jobs (8 due then) in an SQLAlchemyJobStore on SQLite, a thread pool of 8, a job that records
   when it was called: its due -> call delay.
3. 8 scheduler processes on one PostgreSQL database claim the same 100 schedules x 100 minutely occurrences
   (10,000) in batches of 10; every claim a process reports is counted, then the rows: duplicates = claims - rows.
Usage: .venv/bin/python bench/bench_scheduler.py [--schedules 1000] [--pg URL] [--no-peer]
(PostgreSQL: --pg or NBMLOPS_TEST_PG_URL; a fresh schema is made and dropped.)
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import statistics
import subprocess
import sys
import textwrap
import time
from dataclasses import replace
from pathlib import Path

from _common import BENCH, WORK, fresh_dir, machine, print_table, verdict

PEER = BENCH / ".peers" / "apscheduler"
NOTEBOOK = {
    "nbformat": 4,
    "nbformat_minor": 5,
    "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}},
    "cells": [
        {
            "cell_type": "code",
            "metadata": {"tags": ["parameters"]},
            "execution_count": None,
            "outputs": [],
            "source": "x = 1",
        },
        {
            "cell_type": "code",
            "metadata": {"tags": ["step:work"]},
            "execution_count": None,
            "outputs": [],
            "source": "y = x * 2",
        },
    ],
}


def project(name: str) -> Path:
    root = fresh_dir(WORK / name)
    (root / "job.ipynb").write_text(json.dumps(NOTEBOOK))
    os.environ["NBMLOPS_HOME"] = str(root / ".nbmlops")
    os.chdir(root)
    return root


def add_many(store, root: Path, crons: list[str], start: float) -> None:
    from nbmlops.scheduling import build_schedule
    from nbmlops.scheduling.repository import SCHEDULE_COLUMNS
    from nbmlops.store import sql

    first = build_schedule(str(root / "job.ipynb"), home=store.settings.home, cron=crons[0], name="s0000")
    rows = [replace(first, name=f"s{i:04d}", cron=cron, cron_cursor=start).to_row() for i, cron in enumerate(crons)]
    store.db.transaction(lambda tx: tx.executemany(sql.insert("schedules", SCHEDULE_COLUMNS), rows))


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


# -- 1. one pass ---------------------------------------------------------------------------------------------
def bench_pass(n: int) -> dict:
    from nbmlops.scheduling import Scheduler, parse_time
    from nbmlops.store import open_store

    root = project("scheduler-pass")
    store = open_store()
    t0 = parse_time("2027-01-01T00:00:00Z")
    add_many(store, root, ["0 3 * * *"] * n, t0)
    due = parse_time("2027-01-01T03:00:00Z")
    claimed_at: list[float] = []

    class ClaimOnly(Scheduler):
        def _start(self, occurrence) -> int:  # claimed: record when, start nothing
            claimed_at.append(self.clock.now())
            return 1

    idle = []
    for _ in range(5):
        runner = ClaimOnly(store, max_parallel=n, at=due - 3600, log=lambda line: None)
        started = time.perf_counter()
        runner.run_pass()
        idle.append(time.perf_counter() - started)
    runner = ClaimOnly(store, max_parallel=n, at=due, log=lambda line: None)
    started = time.perf_counter()
    count = runner.run_pass()
    seconds = time.perf_counter() - started
    rows = store.db.query("SELECT count(*) AS n FROM schedule_occurrences")[0]["n"]
    store.close()
    delays = [at - due for at in claimed_at]
    return {
        "n": n,
        "idle_s": statistics.median(idle),
        "due_pass_s": seconds,
        "claimed": count,
        "rows": rows,
        "claim_p50": pct(delays, 0.5),
        "claim_p99": pct(delays, 0.99),
        "claim_max": max(delays),
    }


# -- 2. due -> start with real runs ----------------------------------------------------------------------------
def next_minute(lead: float = 8.0) -> float:
    now = time.time()
    minute = (int(now) // 60 + 1) * 60
    return minute if minute - now >= lead else minute + 60


def bench_due_to_start(n: int, due_count: int) -> dict:
    import threading

    from nbmlops.scheduling import Scheduler
    from nbmlops.store import open_store

    root = project("scheduler-delay")
    store = open_store()
    due = next_minute()
    hh, mm = time.gmtime(due).tm_hour, time.gmtime(due).tm_min
    other = [f"{(mm + 1 + i % 50) % 60} {(hh + 1 + i // 50) % 24} * * *" for i in range(n - due_count)]
    add_many(store, root, [f"{mm} {hh} * * *"] * due_count + other, time.time())
    runner = Scheduler(store, max_parallel=due_count, poll_s=30, log=lambda line: None)
    stop = threading.Event()
    thread = threading.Thread(target=runner.run_forever, args=(stop,), daemon=True)
    thread.start()
    deadline = time.time() + (due - time.time()) + 300
    while time.time() < deadline:
        rows = store.db.query("SELECT status FROM schedule_occurrences")
        if len(rows) == due_count and all(r["status"] != "running" for r in rows):
            break
        time.sleep(0.2)
    stop.set()
    thread.join(timeout=120)
    occurrences = store.db.query("SELECT started_at, run_id, status FROM schedule_occurrences")
    runs = {r.id: r for r in store.list_runs(limit=1000, check_stale=False)}
    store.close()
    claim = [o["started_at"] - due for o in occurrences]
    run_start = [runs[o["run_id"]].started_at - due for o in occurrences if o["run_id"] in runs]
    return {
        "due": due_count,
        "succeeded": sum(o["status"] == "succeeded" for o in occurrences),
        "claim_p50": pct(claim, 0.5),
        "claim_max": max(claim),
        "run_p50": pct(run_start, 0.5),
        "run_max": max(run_start),
    }


PEER_SCRIPT = textwrap.dedent("""
    import json, sys, threading, time
    from apscheduler.schedulers.background import BackgroundScheduler
    from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
    from apscheduler.executors.pool import ThreadPoolExecutor
    from apscheduler.triggers.cron import CronTrigger
    n, due_count, due, db, out = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3]), sys.argv[4], sys.argv[5]
    import bench_job
    tm = time.gmtime(due)
    scheduler = BackgroundScheduler(jobstores={"default": SQLAlchemyJobStore(url=db)},
                                    executors={"default": ThreadPoolExecutor(due_count)}, timezone="UTC")
    scheduler.start(paused=True)
    for i in range(n):
        if i < due_count:
            minute, hour = tm.tm_min, tm.tm_hour
        else:
            minute, hour = (tm.tm_min + 1 + (i - due_count) % 50) % 60, (tm.tm_hour + 1 + (i - due_count) // 50) % 24
        scheduler.add_job(bench_job.record, CronTrigger(minute=minute, hour=hour, timezone="UTC"), args=[out, i],
                          id=f"s{i:04d}", misfire_grace_time=60)
    scheduler.resume()
    end = due + 120
    while time.time() < end:
        try:
            with open(out) as handle:
                if len(handle.read().splitlines()) >= due_count:
                    break
        except FileNotFoundError:
            pass
        time.sleep(0.2)
    scheduler.shutdown()
""")
PEER_JOB = textwrap.dedent("""
    import time
    def record(path, i):
        called = time.time()
        with open(path, "a") as handle:
            handle.write(f"{i} {called}\\n")
""")


def ensure_peer() -> Path:
    python = PEER / "bin" / "python"
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(PEER)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "-q", "apscheduler>=3.10,<4", "sqlalchemy>=2"], check=True)
    return python


def bench_peer(n: int, due_count: int) -> dict:
    python = ensure_peer()
    folder = fresh_dir(WORK / "scheduler-apscheduler")
    (folder / "bench_job.py").write_text(PEER_JOB)
    (folder / "peer.py").write_text(PEER_SCRIPT)
    out = folder / "called.txt"
    due = next_minute(lead=20.0)  # adding 1,000 jobs to its store takes a few seconds
    subprocess.run(
        [str(python), "peer.py", str(n), str(due_count), str(due), f"sqlite:///{folder / 'jobs.db'}", str(out)],
        cwd=folder,
        check=True,
        timeout=600,
    )
    called = [float(line.split()[1]) - due for line in out.read_text().splitlines()]
    version = subprocess.run(
        [str(python), "-c", "import apscheduler; print(apscheduler.__version__)"], capture_output=True, text=True
    ).stdout.strip()
    return {"version": version, "called": len(called), "p50": pct(called, 0.5), "max": max(called)}


# -- 3. 8 schedulers on PostgreSQL -----------------------------------------------------------------------------
RACER = textwrap.dedent("""
    import json, os, sys, time
    from nbmlops.scheduling import World, list_schedules
    from nbmlops.scheduling.claims import claim_due
    from nbmlops.store import open_store
    at, go = float(sys.argv[1]), float(sys.argv[2])
    store = open_store()
    names = [s.name for s in list_schedules(store.db)]
    while time.time() < go:
        time.sleep(0.001)
    won, started = [], time.perf_counter()
    for name in names:
        while True:
            got = claim_due(store.db, name, at, World(), f"racer-{os.getpid()}", 30, 10)
            won += [(o.schedule, o.key) for o in got]
            if not got:
                break
    print(json.dumps({"won": won, "seconds": time.perf_counter() - started}))
""")


def bench_race(pg_url: str, schedulers: int, n_schedules: int, per: int) -> dict:
    import sqlalchemy as sa

    from nbmlops.scheduling import parse_time
    from nbmlops.store import open_store

    schema = f"bench_{secrets.token_hex(4)}"
    admin = sa.create_engine(pg_url)
    with admin.begin() as conn:
        conn.exec_driver_sql(f"CREATE SCHEMA {schema}")
    url = sa.engine.make_url(pg_url).update_query_dict({"options": f"-csearch_path={schema}"})
    url_text = url.render_as_string(hide_password=False)
    try:
        root = project("scheduler-race")
        os.environ["NBMLOPS_DB_URL"] = url_text
        store = open_store()
        t0 = parse_time("2027-01-01T00:00:00Z")
        add_many(store, root, ["* * * * *"] * n_schedules, t0)
        store.db.execute("UPDATE schedules SET catchup = 'all'")
        script = WORK / "scheduler-race" / "racer.py"
        script.write_text(RACER)
        go = time.time() + 8
        procs = [
            subprocess.Popen(
                [sys.executable, str(script), str(t0 + per * 60), str(go)],
                stdout=subprocess.PIPE,
                text=True,
                env=os.environ.copy(),
            )
            for _ in range(schedulers)
        ]
        results = [json.loads(p.communicate(timeout=900)[0]) for p in procs]
        rows = store.db.query("SELECT count(*) AS n FROM schedule_occurrences")[0]["n"]
        store.close()
    finally:
        os.environ.pop("NBMLOPS_DB_URL", None)
        with admin.begin() as conn:
            conn.exec_driver_sql(f"DROP SCHEMA {schema} CASCADE")
        admin.dispose()
    claims = sum(len(r["won"]) for r in results)
    distinct = len({tuple(k) for r in results for k in r["won"]})
    return {
        "schedulers": schedulers,
        "claims": claims,
        "distinct": distinct,
        "rows": rows,
        "duplicates": claims - distinct,
        "per_process": [len(r["won"]) for r in results],
        "seconds": max(r["seconds"] for r in results),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--schedules", type=int, default=1000)
    parser.add_argument("--due", type=int, default=8, help="schedules due at once in part 2")
    parser.add_argument("--pg", default=os.environ.get("NBMLOPS_TEST_PG_URL"))
    parser.add_argument("--schedulers", type=int, default=8)
    parser.add_argument("--no-peer", action="store_true")
    args = parser.parse_args()
    print(f"machine: {machine()}")

    one = bench_pass(args.schedules)
    print(f"\n1. one pass over {one['n']} cron schedules (SQLite)")
    print_table(
        ["measure", "value"],
        [
            ["pass, nothing due (median of 5)", f"{one['idle_s'] * 1000:.1f} ms"],
            [
                f"pass, all {one['n']} due: claimed",
                f"{one['claimed']} ({one['rows']} rows) in {one['due_pass_s']:.2f} s",
            ],
            [
                "due -> claimed, p50 / p99 / max",
                f"{one['claim_p50']:.2f} / {one['claim_p99']:.2f} / {one['claim_max']:.2f} s",
            ],
        ],
    )

    delay = bench_due_to_start(args.schedules, args.due)
    print(f"\n2. due -> start, {args.due} of {args.schedules} schedules due at one minute, real runs")
    rows = [
        ["nbmlops: due -> worker started (claim)", f"{delay['claim_p50']:.3f} s", f"{delay['claim_max']:.3f} s"],
        ["nbmlops: due -> pipeline run started", f"{delay['run_p50']:.3f} s", f"{delay['run_max']:.3f} s"],
    ]
    peer = None
    if not args.no_peer:
        peer = bench_peer(args.schedules, args.due)
        rows.append(
            [f"APScheduler {peer['version']}: due -> job called", f"{peer['p50']:.3f} s", f"{peer['max']:.3f} s"]
        )
    print_table(["", "p50", "max"], rows)
    print(f"nbmlops runs succeeded: {delay['succeeded']} of {args.due}")
    if peer:
        print(f"ratio (nbmlops claim / APScheduler call, p50): {delay['claim_p50'] / max(peer['p50'], 1e-6):.2f}x")

    if args.pg:
        race = bench_race(args.pg, args.schedulers, 100, 100)
        print(f"\n3. {race['schedulers']} schedulers racing on PostgreSQL over 100 schedules x 100 occurrences")
        print_table(
            ["measure", "value"],
            [
                ["claims reported", str(race["claims"])],
                ["distinct occurrences", str(race["distinct"])],
                ["rows stored", str(race["rows"])],
                ["duplicates", str(race["duplicates"])],
                ["claims per process", ", ".join(map(str, race["per_process"]))],
                [
                    "wall time (slowest process)",
                    f"{race['seconds']:.1f} s ({race['claims'] / race['seconds']:.0f} claims/s)",
                ],
            ],
        )
        print(f"0 duplicates over 10,000 claims: {verdict(race['duplicates'] == 0 and race['rows'] == 10000)}")
    else:
        print("\n3. skipped: no PostgreSQL (--pg or NBMLOPS_TEST_PG_URL)")


if __name__ == "__main__":
    main()
