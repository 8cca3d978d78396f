"""Schedules in the metadata database: add, find, list, pause/resume, remove, and their occurrences' history.

Plain SQL with :name parameters (see nbmlops.store.sql), so the same statements run on the raw SQLite path and
through SQLAlchemy on PostgreSQL. Every write is one transaction: a refused add stores nothing.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any

from nbmlops.scheduling.definitions import Schedule
from nbmlops.scheduling.errors import ScheduleError
from nbmlops.store import sql
from nbmlops.store.db import Database, Tx

SCHEDULE_COLUMNS = (
    "name",
    "target",
    "cron",
    "timezone",
    "params",
    "backend",
    "catchup",
    "retries",
    "retry_delay",
    "paused",
    "triggers",
    "state",
    "cron_cursor",
    "last_error",
    "created_at",
    "updated_at",
)
OCCURRENCE_COLUMNS = (
    "id",
    "schedule",
    "key",
    "kind",
    "occurrence_at",
    "trigger",
    "status",
    "attempts",
    "max_attempts",
    "owner",
    "lease_until",
    "next_attempt_at",
    "run_id",
    "error",
    "created_at",
    "started_at",
    "ended_at",
)
SELECT_SCHEDULES = f"SELECT {', '.join(SCHEDULE_COLUMNS)} FROM schedules"
SELECT_OCCURRENCES = f"SELECT {', '.join(OCCURRENCE_COLUMNS)} FROM schedule_occurrences"
# the newest occurrence of each schedule: `schedule ls` and the lab panel's "last"
SELECT_LAST_OCCURRENCES = (
    f"{SELECT_OCCURRENCES} WHERE id IN (SELECT max(id) FROM schedule_occurrences GROUP BY schedule)"
)


@dataclass
class Occurrence:
    id: int
    schedule: str
    key: str
    kind: str
    occurrence_at: float
    trigger: dict[str, Any]
    status: str  # running | retrying | succeeded | failed
    attempts: int
    max_attempts: int
    owner: str | None = None
    lease_until: float | None = None
    next_attempt_at: float | None = None
    run_id: str | None = None
    error: str | None = None
    created_at: float = 0.0
    started_at: float | None = None
    ended_at: float | None = None

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> Occurrence:
        data = dict(row)
        data["trigger"] = json.loads(data["trigger"]) if data.get("trigger") else {}
        return cls(**data)


def add_schedule(db: Database, schedule: Schedule) -> None:
    def write(tx: Tx) -> None:
        if tx.first("SELECT 1 FROM schedules WHERE name = :name", {"name": schedule.name}):
            raise ScheduleError(
                f"--name '{schedule.name}': a schedule with this name exists "
                f"(nbmlops schedule rm {schedule.name} first, or pick another --name)"
            )
        tx.execute(sql.insert("schedules", SCHEDULE_COLUMNS), schedule.to_row())

    db.transaction(write)


def find_schedule(db: Database, name: str) -> Schedule | None:
    rows = db.query(f"{SELECT_SCHEDULES} WHERE name = :name", {"name": name})
    return Schedule.from_row(rows[0]) if rows else None


def get_schedule(db: Database, name: str) -> Schedule:
    found = find_schedule(db, name)
    if found is None:
        names = [s.name for s in list_schedules(db)][:10]
        known = f" (schedules: {', '.join(names)})" if names else " (there are none: nbmlops schedule add ...)"
        raise ScheduleError(f"no schedule '{name}' in {db.where}{known}")
    return found


def list_schedules(db: Database) -> list[Schedule]:
    return [Schedule.from_row(row) for row in db.query(f"{SELECT_SCHEDULES} ORDER BY name")]


def set_paused(db: Database, name: str, paused: bool, now: float | None = None) -> Schedule:
    """Pause or resume. Resuming starts from now: occurrences missed while paused are not caught up."""
    get_schedule(db, name)
    now = time.time() if now is None else now
    cursor = "" if paused else ", cron_cursor = CASE WHEN cron_cursor < :now THEN :now ELSE cron_cursor END"
    db.execute(
        f"UPDATE schedules SET paused = :paused, updated_at = :now{cursor} WHERE name = :name",
        {"paused": paused, "now": now, "name": name},
    )
    return get_schedule(db, name)


def remove_schedule(db: Database, name: str) -> None:
    """Delete the schedule and its history (runs it started stay in the store)."""

    def write(tx: Tx) -> int:
        tx.execute("DELETE FROM schedule_occurrences WHERE schedule = :name", {"name": name})
        return tx.execute("DELETE FROM schedules WHERE name = :name", {"name": name})

    get_schedule(db, name)
    if db.transaction(write) == 0:
        raise ScheduleError(f"no schedule '{name}' in {db.where}")


def occurrences_of(db: Database, name: str, limit: int = 20) -> list[Occurrence]:
    """The newest occurrences of a schedule first."""
    rows = db.query(f"{SELECT_OCCURRENCES} WHERE schedule = :name ORDER BY id DESC LIMIT {int(limit)}", {"name": name})
    return [Occurrence.from_row(row) for row in rows]


def last_occurrences(db: Database) -> dict[str, Occurrence]:
    return {row["schedule"]: Occurrence.from_row(row) for row in db.query(SELECT_LAST_OCCURRENCES)}


def get_occurrence(db: Database, occurrence_id: int) -> Occurrence:
    rows = db.query(f"{SELECT_OCCURRENCES} WHERE id = :id", {"id": occurrence_id})
    if not rows:
        raise ScheduleError(f"no schedule occurrence {occurrence_id} in {db.where}")
    return Occurrence.from_row(rows[0])
