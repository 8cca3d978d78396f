"""`nbmlops schedule export --crontab|--systemd`: the entries parsed back (fields, zone, command), systemd's own
calendar parser agreeing with cron's times, and an exported command run as cron would run it: it claims the
occurrence once (again: nothing to do; a scheduler afterwards: nothing either)."""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
from datetime import UTC, datetime

import pytest

from nbmlops.scheduling import occurrences, on_calendar, parse_time


def _crontab_entries(text: str) -> list[dict]:
    entries, zone = [], "UTC"
    for line in text.splitlines():
        if line.startswith("CRON_TZ="):
            zone = line.removeprefix("CRON_TZ=")
        elif line and not line.startswith("#"):
            fields = line.split(None, 5)
            entries.append({"cron": " ".join(fields[:5]), "command": fields[5], "zone": zone})
    return entries


def _systemd_units(text: str) -> dict[str, dict[str, list[str]]]:
    units: dict[str, dict[str, list[str]]] = {}
    current = None
    for line in text.splitlines():
        if match := re.match(r"^# --- (\S+) ---$", line):
            current = units.setdefault(match.group(1), {})
        elif current is not None and "=" in line and not line.startswith(("#", "[")):
            key, _, value = line.partition("=")
            current.setdefault(key, []).append(value)
    return units


def test_crontab_round_trip(project) -> None:
    project.cli("schedule", "add", "job.ipynb", "--cron", "0 3 * * *", "--timezone", "Europe/Berlin", "--name", "a")
    project.cli("schedule", "add", "job.ipynb", "--cron", "*/15 9-17 * * 1-5", "--name", "b")
    project.cli("schedule", "add", "job.ipynb", "--cron", "@weekly", "--name", "c")
    project.cli("schedule", "pause", "c")
    (project.root / "data").mkdir()
    project.cli("schedule", "add", "job.ipynb", "--on-new-files", "data/*.csv", "--name", "d")
    text = project.cli("schedule", "export", "--crontab").stdout
    entries = _crontab_entries(text)
    assert [(e["cron"], e["zone"]) for e in entries] == [("0 3 * * *", "Europe/Berlin"), ("*/15 9-17 * * 1-5", "UTC")]
    for entry, name in zip(entries, ("a", "b"), strict=True):
        words = shlex.split(entry["command"])
        assert words[words.index("run-now") - 1 : words.index("run-now") + 3] == ["schedule", "run-now", name, "--due"]
        assert f"NBMLOPS_HOME={project.home}" in words and str(project.root) in words
    assert "# (paused) 0 0 * * 0 " in text  # paused: kept, commented out
    assert "# d runs on triggers only" in text


def test_an_exported_entry_runs_the_occurrence_once(project) -> None:
    project.cli(
        "schedule", "add", "job.ipynb", "--cron", "0 0 * * *", "--name", "daily", "--start", "2026-01-01T00:00:00Z"
    )
    (entry,) = _crontab_entries(project.cli("schedule", "export", "--crontab").stdout)
    env = {k: v for k, v in project.env.items() if k != "NBMLOPS_HOME"}  # the entry sets what it needs
    for _ in range(2):
        subprocess.run(["sh", "-c", entry["command"]], env=env, cwd="/", check=True, timeout=300)
    (occ,) = project.occurrences()  # today's 00:00 UTC: once, however often cron fires
    today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    assert occ["key"] == f"cron:{today.isoformat()}" and occ["status"] == "succeeded"
    log = (project.home / "scheduler" / "logs" / "daily-cron.log").read_text()
    assert "nothing to run" in log
    assert "nothing due" in project.cli("scheduler", "--once").stdout  # nor the scheduler after it
    (run,) = project.scheduled_runs()
    assert run.trigger["kind"] == "cron"


def test_systemd_units_round_trip(project) -> None:
    project.cli(
        "schedule",
        "add",
        "job.ipynb",
        "--cron",
        "30 2 * * *",
        "--timezone",
        "Europe/Berlin",
        "--name",
        "n",
        "--catchup",
        "skip",
    )
    project.cli("schedule", "add", "job.ipynb", "--cron", "0 12 1 * MON", "--name", "either")
    units = _systemd_units(project.cli("schedule", "export", "--systemd").stdout)
    assert set(units) == {"nbmlops-n.service", "nbmlops-n.timer", "nbmlops-either.service", "nbmlops-either.timer"}
    service = units["nbmlops-n.service"]
    assert shlex.split(service["ExecStart"][0])[-4:] == ["schedule", "run-now", "n", "--due"]
    assert service["WorkingDirectory"] == [str(project.root)] and service["Type"] == ["oneshot"]
    assert f"NBMLOPS_HOME={project.home}" in service["Environment"]
    timer = units["nbmlops-n.timer"]
    assert timer["OnCalendar"] == ["*-*-* 02:30:00 Europe/Berlin"] and "Persistent" not in timer  # skip
    assert timer["Unit"] == ["nbmlops-n.service"] and timer["WantedBy"] == ["timers.target"]
    # cron ORs a restricted day of month and day of week: two calendars
    assert units["nbmlops-either.timer"]["OnCalendar"] == ["*-*-01 12:00:00 UTC", "Mon *-*-* 12:00:00 UTC"]
    assert units["nbmlops-either.timer"]["Persistent"] == ["true"]


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze is not installed")
@pytest.mark.parametrize(
    ("cron", "zone"),
    [
        ("0 3 * * *", "Europe/Berlin"),
        ("*/15 9-17 * * 1-5", "UTC"),
        ("5 4 1,15 */2 *", "America/New_York"),
        ("0 12 1 * MON", "UTC"),
        ("0 0 * * 0", "Asia/Kolkata"),
        ("@hourly", "UTC"),
    ],
)
def test_systemd_reads_the_calendars_as_cron_times(cron: str, zone: str) -> None:
    base = "2027-01-10 00:00:00 UTC"  # (no time of these falls into an hour a clock change skips)
    after = parse_time("2027-01-10T00:00:00Z")
    expected = occurrences(cron, zone, after, after + 800 * 86400, limit=12, newest=False)
    found: set[float] = set()
    for calendar in on_calendar(cron):
        done = subprocess.run(
            ["systemd-analyze", "calendar", "--iterations=12", f"--base-time={base}", f"{calendar} {zone}"],
            capture_output=True,
            text=True,
            timeout=60,
            env={**os.environ, "TZ": "UTC"},
            check=True,
        )
        for line in done.stdout.splitlines():
            if match := re.search(r"(?:Next elapse|Iter\. #\d+): \w+ (\S+ \S+) UTC", line):
                found.add(parse_time(match.group(1).replace(" ", "T") + "Z"))
    assert sorted(found)[:12] == expected
