"""Schedules as plain dicts for `schedule ls/show --json` and the lab panel's REST API: next and last
occurrence, triggers in words, the last error."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from nbmlops.scheduling.cron import iso
from nbmlops.scheduling.definitions import Schedule
from nbmlops.scheduling.planning import next_at
from nbmlops.scheduling.repository import Occurrence, get_schedule, last_occurrences, list_schedules

if TYPE_CHECKING:
    from nbmlops.store import Store


def view(schedule: Schedule, last: Occurrence | None, now: float | None = None) -> dict[str, Any]:
    now = time.time() if now is None else now
    return {
        "name": schedule.name,
        "target": schedule.target,
        "notebook": schedule.target,
        "cron": schedule.cron,
        "timezone": schedule.timezone,
        "paused": schedule.paused,
        "next_at": iso(next_at(schedule, now), schedule.timezone),
        "last": None
        if last is None
        else {
            "at": iso(last.occurrence_at, schedule.timezone),
            "run_id": last.run_id,
            "status": last.status,
            "key": last.key,
            "attempts": last.attempts,
        },
        "backend": schedule.backend,
        "params": schedule.params,
        "retries": schedule.retries,
        "retry_delay": schedule.retry_delay,
        "catchup": schedule.catchup,
        "triggers": schedule.describe_triggers(),
        "trigger_specs": schedule.triggers,
        "last_error": schedule.last_error,
    }


def schedule_views(store: Store) -> list[dict[str, Any]]:
    last = last_occurrences(store.db)
    return [view(s, last.get(s.name)) for s in list_schedules(store.db)]


def schedule_view(store: Store, name: str) -> dict[str, Any]:
    schedule = get_schedule(store.db, name)
    return view(schedule, last_occurrences(store.db).get(name))
