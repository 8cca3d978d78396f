"""Time: due / not due, catch-up skip|once|all, and daylight-saving changes by time zone, driven with
`nbmlops scheduler --once --at` (and the pure planner for the finer DST cases)."""

from __future__ import annotations

from nbmlops.scheduling import Schedule, World, iso, occurrences, parse_time, plan

T0 = "2027-01-01T00:00:00Z"


def _add(project, name: str, cron: str, *extra: str) -> None:
    project.cli("schedule", "add", "job.ipynb", "--cron", cron, "--name", name, "--start", T0, *extra)


def _once(project, at: str) -> str:
    return project.cli("scheduler", "--once", "--at", at).stdout


def test_not_due_then_due_then_done(project) -> None:
    _add(project, "nightly", "0 3 * * *", "--timezone", "Europe/Berlin")  # 02:00 UTC in winter
    assert "nothing due" in _once(project, "2027-01-01T01:59:00Z")
    assert project.occurrences() == []
    assert "nightly succeeded" in _once(project, "2027-01-01T02:00:05Z")
    assert "nothing due" in _once(project, "2027-01-01T02:00:30Z")  # the same occurrence never twice
    (occ,) = project.occurrences()
    assert occ["key"] == "cron:2027-01-01T02:00:00+00:00" and occ["status"] == "succeeded"
    (run,) = project.scheduled_runs()
    assert run.trigger["occurrence_at"] == "2027-01-01T03:00:00+01:00" and run.trigger["kind"] == "cron"
    assert project.json("schedule", "show", "nightly")["next_at"] == "2027-01-02T03:00:00+01:00"


def test_catchup_policies_after_three_days_without_a_scheduler(project) -> None:
    for policy in ("skip", "once", "all"):
        _add(project, f"c-{policy}", "0 3 * * *", "--catchup", policy)
    _once(project, "2027-01-03T05:00:00Z")  # 01-01, 01-02 and 01-03 at 03:00 UTC passed unseen
    by = {policy: project.occurrences(f"c-{policy}") for policy in ("skip", "once", "all")}
    assert by["skip"] == []  # the newest is two hours late: skipped, wait for the next
    (once,) = by["once"]
    assert once["key"] == "cron:2027-01-03T03:00:00+00:00"
    assert '"missed": 2' in once["trigger"] and "2027-01-01T03:00:00+00:00" in once["trigger"]
    assert [o["key"] for o in by["all"]] == [f"cron:2027-01-0{d}T03:00:00+00:00" for d in (1, 2, 3)]
    assert all(o["status"] == "succeeded" for o in by["once"] + by["all"])
    # skip runs an occurrence that is on time
    _once(project, "2027-01-04T03:00:20Z")
    assert [o["key"] for o in project.occurrences("c-skip")] == ["cron:2027-01-04T03:00:00+00:00"]


def test_paused_schedules_do_not_run_and_resume_from_now(project) -> None:
    _add(project, "p", "*/10 * * * *")
    project.cli("schedule", "pause", "p")
    assert "nothing due" in _once(project, "2027-01-01T00:10:00Z")
    project.cli("schedule", "resume", "p")  # real time (2026) is before T0: the cursor stays at T0
    _once(project, "2027-01-01T00:20:00Z")
    assert [o["key"] for o in project.occurrences("p")] == ["cron:2027-01-01T00:20:00+00:00"]


def test_spring_forward_runs_the_skipped_time_once_right_after_the_change(project) -> None:
    # Europe/Berlin, 2027-03-28: 02:00 CET becomes 03:00 CEST; 02:30 does not exist that night
    _add(
        project,
        "dst",
        "30 2 * * *",
        "--timezone",
        "Europe/Berlin",
        "--catchup",
        "all",
        "--start",
        "2027-03-27T00:00:00Z",
    )
    _once(project, "2027-03-29T12:00:00Z")
    keys = [o["key"] for o in project.occurrences("dst")]
    assert keys == [
        "cron:2027-03-27T01:30:00+00:00",  # 02:30 CET
        "cron:2027-03-28T01:00:00+00:00",  # 03:00 CEST, right after the change
        "cron:2027-03-29T00:30:00+00:00",
    ]  # 02:30 CEST


def test_fall_back_runs_a_fixed_time_once_and_intervals_through_both_hours() -> None:
    # 2027-10-31 in Europe/Berlin: 03:00 CEST becomes 02:00 CET; 02:00-02:59 happens twice
    start, end = parse_time("2027-10-30T12:00:00Z"), parse_time("2027-10-31T12:00:00Z")
    fixed = occurrences("30 2 * * *", "Europe/Berlin", start, end)
    assert [iso(t, "Europe/Berlin") for t in fixed] == ["2027-10-31T02:30:00+02:00"]
    every_30 = occurrences("*/30 2 * * *", "Europe/Berlin", start, end)
    assert [iso(t, "Europe/Berlin") for t in every_30] == [
        "2027-10-31T02:00:00+02:00",
        "2027-10-31T02:30:00+02:00",
        "2027-10-31T02:00:00+01:00",
        "2027-10-31T02:30:00+01:00",
    ]
    # the same cron in New York changes a week later: zones are honoured, not a fixed offset
    ny = occurrences(
        "30 2 * * *", "America/New_York", parse_time("2027-11-06T12:00:00Z"), parse_time("2027-11-08T12:00:00Z")
    )
    assert [iso(t, "America/New_York") for t in ny] == ["2027-11-07T02:30:00-05:00", "2027-11-08T02:30:00-05:00"]


def test_planner_limits_and_cursor() -> None:
    schedule = Schedule(
        name="s", target="/x.ipynb", cron="0 * * * *", catchup="all", cron_cursor=parse_time("2027-01-01T00:00:00Z")
    )
    now = parse_time("2027-01-01T10:30:00Z")
    first = plan(schedule, now, World(), limit=4)
    assert [p.key for p in first.planned] == [f"cron:2027-01-01T0{h}:00:00+00:00" for h in (1, 2, 3, 4)]
    assert first.cron_cursor == parse_time("2027-01-01T04:00:00Z")  # the rest stays due for the next pass
    schedule.cron_cursor = first.cron_cursor
    assert len(plan(schedule, now, World(), limit=100).planned) == 6
    schedule.catchup = "once"
    (one,) = plan(schedule, now, World(), limit=100).planned
    assert one.key == "cron:2027-01-01T10:00:00+00:00" and one.trigger["missed"] == 5
