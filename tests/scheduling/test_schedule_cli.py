"""`nbmlops schedule add|ls|show|pause|resume|rm|run-now`: what is stored, and bad input refused whole."""

from __future__ import annotations

import json

import pytest


def test_add_list_show_pause_resume_remove(project) -> None:
    added = project.json(
        "schedule",
        "add",
        "job.ipynb",
        "--cron",
        "0 3 * * *",
        "--timezone",
        "Europe/Berlin",
        "--name",
        "nightly",
        "-p",
        "x=5",
        "--retries",
        "2",
        "--catchup",
        "all",
        "--start",
        "2027-01-01T00:00:00Z",
    )
    assert added["name"] == "nightly" and added["cron"] == "0 3 * * *" and added["timezone"] == "Europe/Berlin"
    assert added["params"] == {"x": 5}  # typed by the parameters cell
    assert added["retries"] == 2 and added["catchup"] == "all" and added["paused"] is False
    assert added["next_at"] == "2027-01-01T03:00:00+01:00"
    assert added["last"] is None and added["occurrences"] == []
    assert added["target"] == str(project.notebook)

    listed = project.json("schedule", "ls")
    assert [s["name"] for s in listed] == ["nightly"]
    assert listed[0]["triggers"] == ["cron 0 3 * * * (Europe/Berlin)"]
    text = project.cli("schedule", "show", "nightly").stdout
    assert "cron 0 3 * * * (Europe/Berlin)" in text and "2027-01-01T03:00:00+01:00" in text

    project.cli("schedule", "pause", "nightly")
    assert project.json("schedule", "show", "nightly")["paused"] is True
    assert project.json("schedule", "show", "nightly")["next_at"] is None
    project.cli("schedule", "resume", "nightly")
    assert project.json("schedule", "show", "nightly")["paused"] is False

    project.cli("schedule", "rm", "nightly")
    assert project.json("schedule", "ls") == []
    result = project.cli("schedule", "show", "nightly", ok=2)
    assert "no schedule 'nightly'" in result.stderr


def test_default_name_is_the_pipelines(project) -> None:
    project.cli("schedule", "add", "job.ipynb", "--cron", "@daily")
    (only,) = project.json("schedule", "ls")
    assert only["name"] == "job" and only["cron"] == "0 0 * * *"


@pytest.mark.parametrize(
    ("args", "field"),
    [
        (["--cron", "61 3 * * *"], "--cron '61 3 * * *'"),
        (["--cron", "0 3 * *"], "--cron '0 3 * *': write five fields"),
        (["--cron", "0 3 * * *", "--timezone", "Mars/Olympus"], "--timezone 'Mars/Olympus'"),
        (["--cron", "0 3 * * *", "-p", "nope=1"], "-p: unknown parameter 'nope'"),
        (["--cron", "0 3 * * *", "-p", "x=abc"], "-p: parameter 'x': 'abc' is not a whole number"),
        (["--cron", "0 3 * * *", "--catchup", "sometimes"], "--catchup 'sometimes'"),
        (["--cron", "0 3 * * *", "--retries", "-1"], "--retries '-1'"),
        (["--cron", "0 3 * * *", "--retries", "many"], "--retries 'many'"),
        (["--cron", "0 3 * * *", "--backend", "slurm"], "--backend 'slurm'"),
        (["--cron", "0 3 * * *", "--name", "has space"], "--name 'has space'"),
        (["--cron", "0 3 * * *", "--start", "yesterday"], "--start 'yesterday'"),
        ([], "--cron: give a cron expression, or a trigger"),
        (["--on-new-files", "../elsewhere/*.csv"], "--on-new-files '../elsewhere/*.csv'"),
        (["--on-new-files", "/etc/*.conf"], "--on-new-files '/etc/*.conf'"),
        (["--on-new-files", "data/*.csv", "--files-param", "files"], "--files-param 'files'"),
        (["--on-drift", "churn@@prod"], "--on-drift 'churn@@prod'"),
    ],
)
def test_bad_input_names_the_field_and_stores_nothing(project, args: list[str], field: str) -> None:
    result = project.cli("schedule", "add", "job.ipynb", *args, ok=2)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and field in lines[0], result.stderr
    assert "Traceback" not in result.output
    assert project.json("schedule", "ls") == []


def test_a_notebook_that_does_not_compile_or_is_missing(project) -> None:
    broken = project.root / "broken.ipynb"
    broken.write_text(
        json.dumps(
            {
                "nbformat": 4,
                "nbformat_minor": 5,
                "metadata": {},
                "cells": [
                    {
                        "cell_type": "code",
                        "metadata": {"tags": ["step:a"]},
                        "execution_count": None,
                        "outputs": [],
                        "source": "y = undefined_name + 1",
                    }
                ],
            }
        )
    )
    result = project.cli("schedule", "add", "broken.ipynb", "--cron", "0 3 * * *", ok=2)
    assert "NOTEBOOK 'broken.ipynb' does not compile" in result.stderr and "undefined_name" in result.stderr
    result = project.cli("schedule", "add", "missing.ipynb", "--cron", "0 3 * * *", ok=2)
    assert "NOTEBOOK 'missing.ipynb': no such file" in result.stderr
    assert project.json("schedule", "ls") == []


def test_a_second_schedule_of_the_same_name_is_refused(project) -> None:
    project.cli("schedule", "add", "job.ipynb", "--cron", "0 3 * * *", "--name", "n")
    result = project.cli("schedule", "add", "job.ipynb", "--cron", "0 4 * * *", "--name", "n", ok=2)
    assert "--name 'n': a schedule with this name exists" in result.stderr
    assert project.json("schedule", "show", "n")["cron"] == "0 3 * * *"  # the first is untouched


def test_unknown_names_exit_2(project) -> None:
    for command in ("show", "pause", "resume", "rm", "run-now"):
        result = project.cli("schedule", command, "ghost", ok=2)
        assert "no schedule 'ghost'" in result.stderr


def test_run_now_runs_in_the_foreground_and_records_the_trigger(project) -> None:
    project.cli("schedule", "add", "job.ipynb", "--cron", "0 3 * * *", "--name", "n", "-p", "x=21")
    result = project.cli("schedule", "run-now", "n", "--json")
    outcome = json.loads(result.stdout.strip().splitlines()[-1])
    assert outcome["status"] == "succeeded" and outcome["occurrence"].startswith("manual:")
    run = project.store().get_run(outcome["run_id"])
    assert run.status == "succeeded" and run.params["x"] == 21
    assert run.trigger["schedule"] == "n" and run.trigger["kind"] == "manual" and run.trigger["attempt"] == 1
    shown = project.json("runs", "show", outcome["run_id"])
    assert shown["trigger"]["schedule"] == "n"
    table = project.cli("runs", "ls").stdout
    assert "trigger" in table and "n manual" in table
    view = project.json("schedule", "show", "n")
    assert view["last"]["run_id"] == outcome["run_id"] and view["last"]["status"] == "succeeded"


def test_run_now_failure_exits_1_and_shows_in_schedule_show(project) -> None:
    project.cli("schedule", "add", "job.ipynb", "--cron", "0 3 * * *", "--name", "bad", "-p", "fail=true")
    project.cli("schedule", "run-now", "bad", ok=1)
    view = project.json("schedule", "show", "bad")
    assert view["last"]["status"] == "failed"
    assert "asked to fail" in view["last_error"] and "no retries left" in view["last_error"]
    assert view["paused"] is False and view["next_at"] is not None  # the schedule stays active
    assert "last error" in project.cli("schedule", "show", "bad").stdout


def test_a_compiled_pipeline_json_can_be_scheduled(project) -> None:
    project.cli("compile", "job.ipynb", "-o", "job.pipeline.json")
    project.cli("schedule", "add", "job.pipeline.json", "--cron", "0 3 * * *", "--name", "spec", "-p", "x=3")
    assert project.json("schedule", "show", "spec")["target"] == str(project.root / "job.pipeline.json")
    result = project.cli("schedule", "run-now", "spec", "--json")
    outcome = json.loads(result.stdout.strip().splitlines()[-1])
    assert outcome["status"] == "succeeded"
    assert project.store().get_run(outcome["run_id"]).params["x"] == 3


def test_run_now_retries_by_the_schedules_policy(project) -> None:
    project.cli(
        "schedule",
        "add",
        "job.ipynb",
        "--cron",
        "0 3 * * *",
        "--name",
        "flaky",
        "-p",
        "fail=true",
        "--retries",
        "2",
        "--retry-delay",
        "0.2",
    )
    project.cli("schedule", "run-now", "flaky", ok=1)
    (occ,) = project.occurrences("flaky")
    assert occ["status"] == "failed" and occ["attempts"] == 3
    assert sorted(r.trigger["attempt"] for r in project.scheduled_runs()) == [1, 2, 3]
