"""Schedules as crontab entries or systemd timer units, for teams that run jobs with system cron or systemd.

Each entry runs `nbmlops schedule run-now NAME --due` in the project folder: the occurrence is claimed in the
database as the scheduler claims it, so history, leases and exactly-once still hold (cron and a scheduler at
once run it once). Cron's time zone is set with CRON_TZ (cronie, busybox); systemd's OnCalendar names the zone.
systemd ANDs day-of-month and day-of-week where cron ORs them when both are restricted: such a schedule gets
two OnCalendar lines. One difference stays: on a spring-forward night systemd skips a time that does not exist
(02:30 in Europe/Berlin on the last Sunday of March) where cron and `nbmlops scheduler` run it right after the
change. Schedules without a cron expression (only triggers) need `nbmlops scheduler`; they are
listed as comments. Paused schedules are exported commented out (crontab) or without [Install] (systemd).
"""

from __future__ import annotations

import os
import shlex
import sys
from pathlib import Path

from nbmlops.scheduling.cron import expand
from nbmlops.scheduling.definitions import Schedule, project_root
from nbmlops.scheduling.errors import ScheduleError

MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
DAYS = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")
SYSTEMD_DAYS = ("Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat")
FIELDS = (
    ("minute", 0, 59, ()),
    ("hour", 0, 23, ()),
    ("day of month", 1, 31, ()),
    ("month", 1, 12, MONTHS),
    ("day of week", 0, 7, DAYS),
)


def nbmlops_command() -> list[str]:
    """How cron or systemd should start nbmlops: this environment's console script, else `python -m`."""
    script = Path(sys.executable).parent / "nbmlops"
    return [str(script)] if script.is_file() else [sys.executable, "-m", "nbmlops.cli"]


def run_now_command(schedule: Schedule, home: Path) -> list[str]:
    return [*nbmlops_command(), "schedule", "run-now", schedule.name, "--due"]


def export_crontab(schedules: list[Schedule], home: Path) -> str:
    root = project_root(home)
    lines = [
        "# nbmlops schedules, exported by `nbmlops schedule export --crontab`",
        "# each entry claims its occurrence in the nbmlops database (exactly once, history kept)",
    ]
    zone_now = None
    for schedule in schedules:
        lines.append(f"# nbmlops schedule {schedule.name}: {schedule.target}")
        if not schedule.cron:
            lines.append(
                f"# {schedule.name} runs on triggers only ({'; '.join(schedule.describe_triggers())}): "
                "use `nbmlops scheduler`"
            )
            continue
        if schedule.timezone != zone_now:
            lines.append(f"CRON_TZ={schedule.timezone}")
            zone_now = schedule.timezone
        log = home / "scheduler" / "logs" / f"{schedule.name}-cron.log"
        env = " ".join(f"{k}={shlex.quote(v)}" for k, v in _environment(home).items())
        command = (
            f"cd {shlex.quote(str(root))} && mkdir -p {shlex.quote(str(log.parent))} && {env} "
            f"{shlex.join(run_now_command(schedule, home))} >> {shlex.quote(str(log))} 2>&1"
        )
        entry = f"{expand(schedule.cron)} {command.replace('%', chr(92) + '%')}"  # cron reads % as a newline
        lines.append(f"# (paused) {entry}" if schedule.paused else entry)
    return "\n".join(lines) + "\n"


def unit_name(schedule: Schedule) -> str:
    return f"nbmlops-{schedule.name}"


def export_systemd(schedules: list[Schedule], home: Path) -> str:
    """Units separated by `# --- FILE ---` lines (copy each to ~/.config/systemd/user/ or /etc/systemd/system/)."""
    root = project_root(home)
    parts = []
    for schedule in schedules:
        if not schedule.cron:
            parts.append(f"# {schedule.name} runs on triggers only: use `nbmlops scheduler`\n")
            continue
        name = unit_name(schedule)
        service = (
            f"# --- {name}.service ---\n[Unit]\nDescription=nbmlops schedule {schedule.name} "
            f"({Path(schedule.target).name})\n\n[Service]\nType=oneshot\nWorkingDirectory={root}\n"
            + "".join(f"Environment={_quote_env(k, v)}\n" for k, v in _environment(home).items())
            + f"ExecStart={shlex.join(run_now_command(schedule, home))}\n"
        )
        calendars = "".join(f"OnCalendar={c} {schedule.timezone}\n" for c in on_calendar(schedule.cron))
        persistent = "Persistent=true\n" if schedule.catchup != "skip" else ""
        install = "" if schedule.paused else "\n[Install]\nWantedBy=timers.target\n"
        timer = (
            f"# --- {name}.timer ---\n[Unit]\nDescription=nbmlops schedule {schedule.name} timer\n\n"
            f"[Timer]\n{calendars}{persistent}Unit={name}.service\n{install}"
        )
        parts.append(service + "\n" + timer)
    return "\n".join(parts)


def _environment(home: Path) -> dict[str, str]:
    """What the entry needs to find this project's store: its home, and a database URL given in the environment
    (one in nbmlops.toml is read from the home)."""
    found = {"NBMLOPS_HOME": str(home)}
    if os.environ.get("NBMLOPS_DB_URL"):
        found["NBMLOPS_DB_URL"] = os.environ["NBMLOPS_DB_URL"]
    return found


def _quote_env(key: str, value: str) -> str:
    return f'"{key}={value}"' if any(c in value for c in ' "\\') else f"{key}={value}"


def on_calendar(cron: str) -> list[str]:
    """systemd OnCalendar expressions (without the zone) that fire exactly when the cron expression does."""
    fields = expand(cron).split(" ")
    values = [_values(text, *spec) for text, spec in zip(fields, FIELDS, strict=True)]
    minute, hour, dom, month, dow = values
    if dow is not None:
        dow = sorted({d % 7 for d in dow})
        dow = None if len(dow) == 7 else dow

    def render(dom_v: list[int] | None, dow_v: list[int] | None) -> str:
        days = ",".join(SYSTEMD_DAYS[d] for d in dow_v) + " " if dow_v else ""
        return f"{days}*-{_join(month, 2)}-{_join(dom_v, 2)} {_join(hour, 2)}:{_join(minute, 2)}:00"

    if dom is not None and dow is not None:  # cron: either matches
        return [render(dom, None), render(None, dow)]
    return [render(dom, dow)]


def _join(values: list[int] | None, width: int) -> str:
    return "*" if values is None else ",".join(f"{v:0{width}d}" for v in values)


def _values(text: str, what: str, low: int, high: int, names: tuple[str, ...]) -> list[int] | None:
    """Every value a cron field matches (None for `*`); a ScheduleError for forms systemd can't express."""
    if text == "*":
        return None
    found: set[int] = set()
    for part in text.lower().split(","):
        body, _, step_text = part.partition("/")
        step = int(step_text) if step_text.isdigit() and int(step_text) > 0 else None
        if step_text and step is None:
            raise ScheduleError(f"export: cron {what} '{text}' can't be converted")
        if body == "*":
            start, end = low, high
        elif "-" in body:
            a, _, b = body.partition("-")
            start, end = _number(a, what, names, text, low), _number(b, what, names, text, low)
        else:
            start = _number(body, what, names, text, low)
            end = high if step else start
        found.update(range(start, end + 1, step or 1))
    if what == "day of week" and {0, 7} & found:
        found |= {0}
    return sorted(v for v in found if low <= v <= high)


def _number(text: str, what: str, names: tuple[str, ...], field: str, low: int) -> int:
    if text.isdigit():
        return int(text)
    if text in names:
        return names.index(text) + low
    raise ScheduleError(
        f"export: cron {what} '{field}' uses a form systemd and cron exports can't express "
        "(L, W, #); run it with `nbmlops scheduler`"
    )
