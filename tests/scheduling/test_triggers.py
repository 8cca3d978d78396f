"""Triggers besides time: new files (passed in a parameter), a stored drift result over its threshold, another
schedule's success; each run records what triggered it."""

from __future__ import annotations

import numpy as np
import pandas as pd

T = "2027-01-01T03:00:00Z"


def test_new_files_are_passed_in_a_parameter_once(project) -> None:
    data = project.root / "data"
    data.mkdir()
    (data / "old.csv").write_text("0\n")  # there before the schedule: not new
    project.cli("schedule", "add", "job.ipynb", "--on-new-files", "data/*.csv", "--name", "ingest")
    assert "nothing due" in project.cli("scheduler", "--once", "--at", T).stdout
    (data / "a.csv").write_text("1\n")
    (data / "b.csv").write_text("2\n")
    (data / "notes.txt").write_text("not matched\n")
    project.cli("scheduler", "--once", "--at", T)
    (run,) = project.scheduled_runs()
    new = [str(data / "a.csv"), str(data / "b.csv")]
    assert run.status == "succeeded" and run.params["new_files"] == new
    assert run.trigger["kind"] == "files" and run.trigger["files"] == new and run.trigger["glob"] == "data/*.csv"
    assert project.json("runs", "show", run.id)["trigger"]["files"] == new
    assert "nothing due" in project.cli("scheduler", "--once", "--at", T).stdout  # seen now
    (data / "c.csv").write_text("3\n")
    project.cli("scheduler", "--once", "--at", T)
    latest = max(project.scheduled_runs(), key=lambda r: r.started_at)
    assert latest.params["new_files"] == [str(data / "c.csv")]
    assert "1 new file(s) data/*.csv" in project.cli("runs", "ls").stdout


def _store_drift(project, drifted: bool) -> str:
    from nbmlops.monitoring import detect_drift
    from nbmlops.monitoring.storage import save_result

    rng = np.random.default_rng(0)
    reference = pd.DataFrame({"a": rng.normal(0, 1, 2000), "b": rng.normal(0, 1, 2000)})
    shift = 3.0 if drifted else 0.0
    current = pd.DataFrame({"a": rng.normal(shift, 1, 2000), "b": rng.normal(shift, 1, 2000)})
    result = detect_drift(reference, current)
    assert result.dataset_drift is drifted
    store = project.store()
    try:
        return save_result(store, result, model_name="churn", model_version=3)
    finally:
        store.close()


def test_a_drift_result_over_its_threshold_starts_a_run(project) -> None:
    project.cli("schedule", "add", "job.ipynb", "--on-drift", "churn@production", "--name", "retrain")
    _store_drift(project, drifted=False)
    assert "nothing due" in project.cli("scheduler", "--once", "--at", T).stdout
    result_id = _store_drift(project, drifted=True)
    project.cli("scheduler", "--once", "--at", T)
    (run,) = project.scheduled_runs()
    assert run.trigger["kind"] == "drift" and run.trigger["drift_result"] == result_id
    assert run.trigger["model"] == "churn@production" and run.trigger["model_version"] == 3
    assert run.trigger["drift_share"] >= run.trigger["share_threshold"]
    assert "nothing due" in project.cli("scheduler", "--once", "--at", T).stdout  # that result is handled
    # a schedule on another version does not fire for version 3's drift
    project.cli("schedule", "add", "job.ipynb", "--on-drift", "churn:2", "--name", "v2")
    _store_drift(project, drifted=True)
    project.cli("scheduler", "--once", "--at", T)
    assert [o["schedule"] for o in project.occurrences()] == ["retrain", "retrain"]


def test_after_a_schedule_succeeds_the_next_runs_with_the_upstream_run(project) -> None:
    project.cli(
        "schedule", "add", "job.ipynb", "--cron", "0 3 * * *", "--name", "etl", "--start", "2027-01-01T00:00:00Z"
    )
    project.cli("schedule", "add", "job.ipynb", "--after", "etl", "--name", "train", "-p", "x=7")
    project.cli("scheduler", "--once", "--at", T)  # etl, and in the same pass what its success triggers
    runs = {r.trigger["schedule"]: r for r in project.scheduled_runs()}
    assert set(runs) == {"etl", "train"}
    assert runs["train"].trigger == {
        **runs["train"].trigger,
        "kind": "after",
        "upstream": "etl",
        "upstream_run": runs["etl"].id,
    }
    assert runs["train"].params["x"] == 7 and runs["train"].started_at >= runs["etl"].ended_at
    assert "nothing due" in project.cli("scheduler", "--once", "--at", T).stdout


def test_a_failed_upstream_triggers_nothing(project) -> None:
    project.cli(
        "schedule",
        "add",
        "job.ipynb",
        "--cron",
        "0 3 * * *",
        "--name",
        "etl",
        "-p",
        "fail=true",
        "--start",
        "2027-01-01T00:00:00Z",
    )
    project.cli("schedule", "add", "job.ipynb", "--after", "etl", "--name", "train")
    project.cli("scheduler", "--once", "--at", T)
    assert [o["schedule"] for o in project.occurrences()] == ["etl"]
