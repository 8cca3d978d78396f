"""Which occurrences of a schedule are due at an instant: a pure function of the schedule (its cron cursor and
trigger state), the instant, and what the world holds then (files, drift results, upstream runs).

Catch-up of missed cron occurrences (those in (cursor, now]): `skip` runs only one that is on time (within
MISFIRE_GRACE_S of its time; older ones are dropped and the schedule waits for the next), `once` runs one for
all of them (the newest, its trigger listing the missed times), `all` runs each, oldest first. Each occurrence
has a key unique in its schedule ("cron:<UTC time>", "files:<digest>", "drift:<result>", "after:<run>"): the
claim that makes it run once (nbmlops.scheduling.claims).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

from nbmlops.scheduling.cron import iso, next_occurrence, occurrences
from nbmlops.scheduling.definitions import Schedule

MISFIRE_GRACE_S = 60.0  # an occurrence this late still counts as on time (cron's one-minute granularity)
MAX_LISTED_MISSES = 20  # missed times a catch-up run's trigger lists (their number is always given)


@dataclass
class Planned:
    key: str
    kind: str  # cron | files | drift | after | manual
    at: float  # the occurrence's time: the cron time, or when the event happened
    trigger: dict[str, Any]


@dataclass
class Plan:
    planned: list[Planned]
    cron_cursor: float
    state: dict[str, Any]


@dataclass
class World:
    """What the triggers look at, read once per scheduler pass."""

    files: dict[str, dict[str, float]] = field(default_factory=dict)  # glob -> {absolute path: mtime}
    drift: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # model uri -> stored results
    upstream: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # name -> succeeded runs


def cron_key(at: float) -> str:
    return f"cron:{iso(at)}"


def plan(schedule: Schedule, now: float, world: World, limit: int = 1_000) -> Plan:
    """What is due at `now` (at most `limit` occurrences), with the cursor and state to store once claimed."""
    planned: list[Planned] = []
    cursor = schedule.cron_cursor
    state = json.loads(json.dumps(schedule.state))  # a copy: the schedule stays as read
    if schedule.cron and limit > 0:
        due = occurrences(
            schedule.cron,
            schedule.timezone,
            cursor,
            now,
            limit=limit if schedule.catchup == "all" else 10_000,
            newest=schedule.catchup != "all",
        )
        if due:
            newest = due[-1]
            if schedule.catchup == "all":
                planned += [Planned(cron_key(at), "cron", at, cron_trigger(schedule, at, [])) for at in due]
                cursor = newest
            else:
                missed = due[:-1]
                on_time = now - newest <= MISFIRE_GRACE_S
                if schedule.catchup == "once" or on_time:
                    planned.append(
                        Planned(cron_key(newest), "cron", newest, cron_trigger(schedule, newest, missed, len(due) - 1))
                    )
                cursor = newest
    for trigger in schedule.triggers:
        room = limit - len(planned)
        if room <= 0:
            break
        kind = trigger["kind"]
        if kind == "files":
            planned += _files(schedule, trigger, world.files.get(trigger["glob"]), state, now)
        elif kind == "drift":
            planned += _events(
                schedule,
                world.drift.get(trigger["model"], []),
                state,
                "drift_since",
                "created_at",
                room,
                lambda row, t=trigger: _drift_trigger(t, row),
            )
        elif kind == "after":
            planned += _events(
                schedule,
                world.upstream.get(trigger["name"], []),
                state,
                "after_since",
                "ended_at",
                room,
                lambda row, t=trigger: {"kind": "after", "upstream": t["name"], "upstream_run": row["id"]},
            )
    return Plan(planned, cursor, state)


def next_due(schedule: Schedule, now: float) -> float | None:
    """When the schedule's cron next needs a look: its first occurrence after the cursor (maybe already due)."""
    if not schedule.cron or schedule.paused:
        return None
    return next_occurrence(schedule.cron, schedule.timezone, schedule.cron_cursor)


def next_at(schedule: Schedule, now: float) -> float | None:
    """The next occurrence a user should expect: a due one not yet started, else the next after now."""
    if not schedule.cron or schedule.paused:
        return None
    return next_occurrence(schedule.cron, schedule.timezone, max(schedule.cron_cursor, now - MISFIRE_GRACE_S))


def cron_trigger(schedule: Schedule, at: float, missed: list[float], n_missed: int = 0) -> dict[str, Any]:
    trigger: dict[str, Any] = {
        "kind": "cron",
        "cron": schedule.cron,
        "timezone": schedule.timezone,
        "occurrence_at": iso(at, schedule.timezone),
    }
    if n_missed:
        trigger["missed"] = n_missed
        trigger["missed_at"] = [iso(t, schedule.timezone) for t in missed[-MAX_LISTED_MISSES:]]
    return trigger


def _files(
    schedule: Schedule, trigger: dict[str, Any], current: dict[str, float] | None, state: dict[str, Any], now: float
) -> list[Planned]:
    if current is None:  # not looked at in this pass
        return []
    seen = state.get("files_seen", {})
    new = {path: mtime for path, mtime in current.items() if seen.get(path) != mtime}
    state["files_seen"] = dict(current)
    if not new:
        return []
    digest = hashlib.sha256(json.dumps(sorted(new.items())).encode()).hexdigest()[:24]
    return [
        Planned(
            f"files:{digest}",
            "files",
            now,
            {"kind": "files", "glob": trigger["glob"], "param": trigger["param"], "files": sorted(new)},
        )
    ]


def _events(
    schedule: Schedule,
    rows: list[dict[str, Any]],
    state: dict[str, Any],
    mark: str,
    time_field: str,
    room: int,
    describe: Any,
) -> list[Planned]:
    since = state.get(mark, schedule.created_at)
    fresh = sorted(
        (r for r in rows if r[time_field] is not None and r[time_field] > since), key=lambda r: r[time_field]
    )[:room]
    if fresh:
        state[mark] = fresh[-1][time_field]
    kind = "drift" if mark == "drift_since" else "after"
    return [Planned(f"{kind}:{row['id']}", kind, row[time_field], describe(row)) for row in fresh]


def _drift_trigger(trigger: dict[str, Any], row: dict[str, Any]) -> dict[str, Any]:
    return {
        "kind": "drift",
        "model": trigger["model"],
        "drift_result": row["id"],
        "model_version": row.get("model_version"),
        "drift_share": row.get("drift_share"),
        "share_threshold": row.get("share_threshold"),
    }
