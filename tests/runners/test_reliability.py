"""Many writers on one SQLite store, and runs whose process is killed."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

from nbmlops.store import open_store

WRITERS = 8
METRICS = 5000

WRITER = textwrap.dedent("""
    import sys
    import nbmlops.tracking as t
    sys.stdin.readline()  # start together: the point is contention
    with t.start_run(f"writer-{sys.argv[1]}", capture=False) as run:
        for i in range(int(sys.argv[2])):
            t.log_metric("m", float(i), step=i)
    print(run.id)
""")

# A pipeline run that finishes step 'load' (its output stored as an artifact), then dies inside step 'train'.
VICTIM = textwrap.dedent("""
    import time
    import nbmlops.tracking as t
    run = t.start_run(kind="pipeline", pipeline="churn", capture=False)
    store = t.get_store()
    store.start_step(run.id, "load")
    with t.attach(run.id, "load"):
        blob = t.log_artifact(b"the loaded data", "df.parquet")[0]
    store.finish_step(run.id, "load", outputs={"df": blob.sha256})
    store.start_step(run.id, "train", inputs={"df": blob.sha256})
    with t.attach(run.id, "train"):
        t.log_metric("loss", 0.5, step=0)
        print(run.id, blob.sha256, flush=True)
        time.sleep(600)
""")


def _env(home: Path) -> dict[str, str]:
    return {**os.environ, "NBMLOPS_HOME": str(home), "NBMLOPS_HEARTBEAT_S": "0.2"}


def test_concurrent_writers_lose_nothing(home: Path) -> None:
    open_store(home).close()  # create the schema up front, like any earlier command would
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", WRITER, str(i), str(METRICS)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=_env(home),
        )
        for i in range(WRITERS)
    ]
    for proc in procs:
        proc.stdin.write("go\n")
        proc.stdin.flush()
    results = [proc.communicate(timeout=300) for proc in procs]
    for proc, (_out, err) in zip(procs, results, strict=True):
        assert "locked" not in err.lower(), err
        assert proc.returncode == 0, err
    run_ids = [out.strip() for out, _ in results]
    with open_store(home) as store:
        for run_id in run_ids:
            points = store.metric_history(run_id, "m")
            assert sorted(p.step for p in points) == list(range(METRICS))
            assert store.get_run(run_id).status == "succeeded"
        with store.db.engine.connect() as conn:
            assert conn.exec_driver_sql("SELECT count(*) FROM metrics").scalar() == WRITERS * METRICS


def test_killed_run_is_failed_and_keeps_finished_outputs(home: Path) -> None:
    proc = subprocess.Popen([sys.executable, "-c", VICTIM], stdout=subprocess.PIPE, text=True, env=_env(home))
    try:
        run_id, sha = proc.stdout.readline().split()
        with open_store(home) as store:
            assert store.get_run(run_id).status == "running"  # alive: not touched by the stale check
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
        proc.stdout.close()

    with open_store(home) as store:
        info = store.list_runs(pipeline="churn")[0]  # listing runs applies the stale check
        assert info.id == run_id and info.status == "failed"
        assert f"process {proc.pid}" in info.error and info.ended_at is not None
        steps = {s.name: s for s in store.steps(run_id)}
        assert steps["load"].status == "succeeded" and steps["load"].outputs == {"df": sha}
        assert steps["train"].status == "failed"
        assert store.artifacts.verify(sha) and store.artifacts.get_bytes(sha) == b"the loaded data"
        assert [p.value for p in store.metric_history(run_id, "loss")] == [0.5]  # committed before the kill


def test_metrics_survive_a_kill_right_after_the_call(home: Path) -> None:
    """The durability promise: once log_metric returns the row is committed (SQLite WAL, synchronous=NORMAL),
    so a process killed the instant after loses nothing."""
    code = textwrap.dedent("""
        import os, signal
        import nbmlops.tracking as t
        run = t.start_run("doomed", capture=False)
        print(run.id, flush=True)
        for i in range(1000):
            t.log_metric("m", float(i), step=i)
        os.kill(os.getpid(), signal.SIGKILL)
    """)
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=_env(home))
    assert proc.returncode == -signal.SIGKILL
    with open_store(home) as store:
        run_id = proc.stdout.strip()
        assert [p.step for p in store.metric_history(run_id, "m")] == list(range(1000))
        assert store.get_run(run_id).status == "failed"
