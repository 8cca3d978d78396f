"""The long-running `nbmlops scheduler`: it picks up a trigger on its own, and stops cleanly on SIGTERM/SIGINT
(no new starts; a running pipeline finishes, or past --grace is stopped and marked failed with the reason)."""

from __future__ import annotations

import signal
import time

from tests.scheduling.test_claims import _wait_for


def _start(project, *extra: str):
    (project.root / "data").mkdir(exist_ok=True)
    hold = project.root / "hold"
    hold.write_text("")
    project.cli(
        "schedule", "add", "job.ipynb", "--on-new-files", "data/*.csv", "--name", "ingest", "-p", f"hold={hold}"
    )
    daemon = project.process("scheduler", "--poll", "0.3", *extra)
    (project.root / "data" / "a.csv").write_text("1\n")
    _wait_for(lambda: [o for o in project.occurrences() if o["run_id"]], "the scheduler to start the run")
    return daemon, hold


def test_sigterm_lets_the_running_pipeline_finish_and_starts_nothing_new(project) -> None:
    daemon, hold = _start(project)
    try:
        daemon.send_signal(signal.SIGTERM)
        time.sleep(1.0)
        (project.root / "data" / "b.csv").write_text("2\n")  # would trigger, were it still starting runs
        time.sleep(1.0)
        assert daemon.poll() is None  # waiting for the run
    finally:
        hold.unlink()
    out, err = daemon.communicate(timeout=300)
    assert daemon.returncode == 0, err
    assert "SIGTERM: no new starts" in err and "stopped" in err
    (occ,) = project.occurrences()
    assert occ["status"] == "succeeded"
    (run,) = project.scheduled_runs()
    assert run.status == "succeeded" and run.trigger["files"] == [str(project.root / "data" / "a.csv")]


def test_sigint_past_the_grace_stops_the_run_and_marks_it_failed(project) -> None:
    daemon, hold = _start(project, "--grace", "0.5")
    started = time.monotonic()
    daemon.send_signal(signal.SIGINT)
    out, err = daemon.communicate(timeout=120)
    assert daemon.returncode == 0, err
    assert time.monotonic() - started < 60
    (occ,) = project.occurrences()
    reason = "the scheduler was stopped (SIGINT) before the run ended"
    assert occ["status"] == "failed" and occ["error"] == reason
    (run,) = project.scheduled_runs()
    assert run.status == "failed" and run.error == reason
    assert reason in project.json("schedule", "show", "ingest")["last_error"]
    hold.unlink()
