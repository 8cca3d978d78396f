"""Exactly once with several schedulers on one database (SQLite and PostgreSQL), leases renewed while a run
lives, a scheduler killed with -9 taken over (run failed, occurrence retried), retries with back-off."""

from __future__ import annotations

import multiprocessing
import os
import signal
import time

import pytest

from nbmlops.scheduling import backoff, parse_time

T0 = "2027-01-01T00:00:00Z"


def _wait_for(condition, what: str, timeout: float = 120.0, every: float = 0.1):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        found = condition()
        if found:
            return found
        time.sleep(every)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


@pytest.mark.parametrize("schedulers", [2, 4])
def test_racing_schedulers_run_each_occurrence_once(any_db_project, schedulers: int) -> None:
    project = any_db_project
    for i in range(4):
        project.cli(
            "schedule",
            "add",
            "job.ipynb",
            "--cron",
            "*/10 * * * *",
            "--name",
            f"s{i}",
            "--catchup",
            "all",
            "--start",
            T0,
            "-p",
            f"x={i}",
        )
    at = "2027-01-01T00:30:00Z"  # three occurrences each: 00:10, 00:20, 00:30
    racing = [project.process("scheduler", "--once", "--at", at, "--max-parallel", "3") for _ in range(schedulers)]
    outputs = [p.communicate(timeout=600) for p in racing]
    assert all(p.returncode == 0 for p in racing), outputs
    occurrences = project.occurrences()
    assert len(occurrences) == 12 and len({(o["schedule"], o["key"]) for o in occurrences}) == 12
    assert all(o["status"] == "succeeded" and o["attempts"] == 1 for o in occurrences), occurrences
    runs = project.scheduled_runs()
    assert len(runs) == 12
    assert sorted(r.trigger["occurrence_id"] for r in runs) == sorted(o["id"] for o in occurrences)
    started = sum(err.count("started (pid") for _, err in outputs)
    assert started == 12  # and no scheduler started one another had claimed


def _claim_many(home: str, db_url: str | None, at: float, queue) -> None:
    os.environ["NBMLOPS_HOME"] = home
    if db_url:
        os.environ["NBMLOPS_DB_URL"] = db_url
    from nbmlops.scheduling import World, list_schedules
    from nbmlops.scheduling.claims import claim_due
    from nbmlops.store import open_store

    store = open_store(home)
    won = []
    for schedule in list_schedules(store.db):
        for _ in range(3):  # again and again: nothing is claimed twice
            won += [o.key for o in claim_due(store.db, schedule.name, at, World(), f"p{os.getpid()}", 30, 1000)]
    queue.put(won)


def test_claims_race_between_processes(any_db_project) -> None:
    project = any_db_project
    for i in range(3):
        project.cli(
            "schedule", "add", "job.ipynb", "--cron", "* * * * *", "--name", f"m{i}", "--catchup", "all", "--start", T0
        )
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    at = parse_time("2027-01-01T01:00:00Z")  # 60 occurrences per schedule
    workers = [
        context.Process(target=_claim_many, args=(str(project.home), project.env.get("NBMLOPS_DB_URL"), at, queue))
        for _ in range(4)
    ]
    for w in workers:
        w.start()
    won = [queue.get(timeout=300) for _ in workers]
    for w in workers:
        w.join(timeout=60)
    everything = [key for keys in won for key in keys]
    assert len(everything) == 180 == len(project.occurrences())
    assert len(set(everything)) == 60  # per schedule the same 60 keys, each won by one process only


def test_lease_is_renewed_while_the_run_lives(project) -> None:
    hold = project.root / "hold"
    hold.write_text("")
    project.cli(
        "schedule", "add", "job.ipynb", "--cron", "0 3 * * *", "--name", "long", "--start", T0, "-p", f"hold={hold}"
    )
    at = "2027-01-01T03:00:00Z"
    first = project.process("scheduler", "--once", "--at", at, "--lease", "1.5")
    try:
        occ = _wait_for(lambda: [o for o in project.occurrences() if o["run_id"]], "the run to start")[0]
        initial = occ["lease_until"]
        _wait_for(lambda: project.occurrences()[0]["lease_until"] > initial + 2, "the lease to be renewed")
        # another scheduler later than the first lease's end: the renewed lease keeps it off
        second = project.run("scheduler", "--once", "--at", "2027-01-01T03:00:03Z")
        assert "lease of" not in second.stderr and second.returncode == 0
        assert project.occurrences()[0]["status"] == "running" and project.occurrences()[0]["attempts"] == 1
    finally:
        hold.unlink()
        out, err = first.communicate(timeout=300)
    (occ,) = project.occurrences()
    assert occ["status"] == "succeeded" and occ["attempts"] == 1, err


def test_a_scheduler_killed_mid_run_is_taken_over_and_the_occurrence_retried(any_db_project) -> None:
    project = any_db_project
    hold = project.root / "hold"
    hold.write_text("")
    project.cli(
        "schedule",
        "add",
        "job.ipynb",
        "--cron",
        "0 3 * * *",
        "--name",
        "k",
        "--start",
        T0,
        "--retries",
        "1",
        "--retry-delay",
        "0",
        "-p",
        f"hold={hold}",
    )
    victim = project.process("scheduler", "--once", "--at", "2027-01-01T03:00:00Z", "--lease", "5")
    occ = _wait_for(lambda: [o for o in project.occurrences() if o["run_id"]], "the run to start")[0]
    first_run = occ["run_id"]
    worker_pid = project.store().get_run(first_run, check_stale=False).pid
    os.kill(victim.pid, signal.SIGKILL)
    victim.communicate(timeout=60)
    _wait_for(lambda: not _alive(worker_pid), "the worker to die with its scheduler", timeout=30)
    assert project.store().get_run(first_run, check_stale=False).status == "running"  # nobody ended it
    hold.unlink()  # the retry may finish
    taker = project.run("scheduler", "--once", "--at", "2027-01-01T03:01:00Z")
    assert taker.returncode == 0, taker.stderr
    assert "lease of" in taker.stderr
    (occ,) = project.occurrences()
    assert occ["status"] == "succeeded" and occ["attempts"] == 2 and occ["run_id"] != first_run
    dead = project.store().get_run(first_run, check_stale=False)
    assert dead.status == "failed" and "stopped renewing the lease" in dead.error
    retried = project.store().get_run(occ["run_id"], check_stale=False)
    assert retried.status == "succeeded" and retried.trigger["attempt"] == 2
    assert retried.trigger["occurrence_at"] == dead.trigger["occurrence_at"]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a zombie (not yet reaped by init) is dead
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().split(")")[-1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def test_retries_back_off_exponentially_then_the_failure_stays_visible(project) -> None:
    project.cli(
        "schedule",
        "add",
        "job.ipynb",
        "--cron",
        "0 3 * * *",
        "--name",
        "flaky",
        "--start",
        T0,
        "--retries",
        "2",
        "--retry-delay",
        "100",
        "-p",
        "fail=true",
    )

    def occ() -> dict:
        (only,) = project.occurrences("flaky")
        return only

    start = parse_time("2027-01-01T03:00:00Z")
    project.cli("scheduler", "--once", "--at", "2027-01-01T03:00:00Z")
    first = occ()
    assert first["status"] == "retrying" and first["attempts"] == 1
    assert start + 100 <= first["next_attempt_at"] <= start + 100 + 60  # (+ the run's own seconds)
    project.cli("scheduler", "--once", "--at", "2027-01-01T03:01:00Z")
    assert occ()["attempts"] == 1  # back-off not over
    project.cli("scheduler", "--once", "--at", "2027-01-01T03:03:00Z")
    second = occ()
    assert second["status"] == "retrying" and second["attempts"] == 2
    assert second["next_attempt_at"] - parse_time("2027-01-01T03:03:00Z") >= 200  # doubled
    project.cli("scheduler", "--once", "--at", "2027-01-01T03:10:00Z")
    final = occ()
    assert final["status"] == "failed" and final["attempts"] == 3
    view = project.json("schedule", "show", "flaky")
    assert "attempt 3 of 3" in view["last_error"] and "asked to fail" in view["last_error"]
    assert view["paused"] is False and view["next_at"] == "2027-01-02T03:00:00+00:00"
    runs = project.scheduled_runs()
    assert sorted(r.trigger["attempt"] for r in runs) == [1, 2, 3] and all(r.status == "failed" for r in runs)
    # the next occurrence runs as usual
    project.cli("scheduler", "--once", "--at", "2027-01-02T03:00:00Z")
    assert len(project.occurrences("flaky")) == 2


def test_backoff_doubles() -> None:
    assert [backoff(60, n) for n in (1, 2, 3, 4)] == [60, 120, 240, 480]
    assert backoff(0, 5) == 0


def test_a_frozen_schedulers_worker_is_stopped_when_its_lease_is_taken_over(project) -> None:
    hold = project.root / "hold"
    hold.write_text("")
    project.cli(
        "schedule", "add", "job.ipynb", "--cron", "0 3 * * *", "--name", "f", "--start", T0, "-p", f"hold={hold}"
    )
    frozen = project.process("scheduler", "--once", "--at", "2027-01-01T03:00:00Z", "--lease", "5")
    try:
        occ = _wait_for(lambda: [o for o in project.occurrences() if o["run_id"]], "the run to start")[0]
        worker_pid = project.store().get_run(occ["run_id"], check_stale=False).pid
        os.kill(frozen.pid, signal.SIGSTOP)  # alive but silent: no renewals; its worker keeps running
        taker = project.run("scheduler", "--once", "--at", "2027-01-01T03:01:00Z")
        assert f"its worker, pid {worker_pid}, still ran here: killed" in taker.stderr, taker.stderr
        _wait_for(lambda: not _alive(worker_pid), "the orphaned worker to be stopped", timeout=30)
    finally:
        os.kill(frozen.pid, signal.SIGCONT)
        hold.unlink()
    out, err = frozen.communicate(timeout=120)
    assert "taken over by another scheduler" in err  # it woke up and overwrote nothing
    (occ,) = project.occurrences()
    assert occ["status"] == "failed" and occ["attempts"] == 1
    run = project.store().get_run(occ["run_id"], check_stale=False)
    assert run.status == "failed" and "stopped renewing the lease" in run.error
