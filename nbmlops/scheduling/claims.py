"""Claims and leases: how several schedulers on one database run each occurrence exactly once.

- A new occurrence is claimed by inserting its row: (schedule, key) is unique, so of several schedulers
  inserting the same occurrence exactly one insert changes a row (`ON CONFLICT DO NOTHING`). The schedule's row
  is read in the same transaction (locked `FOR UPDATE` on PostgreSQL; SQLite's write transaction is exclusive),
  and its cron cursor and trigger state advance with the claim, so a second scheduler plans from where the first
  left off.
- The claimer holds a lease (owner, lease_until) and renews it while the run is alive. A lease past its time
  means its scheduler died: `take_over_stale` marks the run failed and the occurrence retrying (or failed when
  its attempts are spent). Retries are claimed by a conditional UPDATE (PostgreSQL picks the candidates with
  `FOR UPDATE SKIP LOCKED`), which again only one scheduler wins.
- Back-off: attempt n + 1 waits retry_delay * 2 ** (n - 1) seconds after attempt n failed.
- Every state change is guarded by the owner and attempt that made it, so a scheduler whose lease was taken
  over can't overwrite what its successor did.
"""

from __future__ import annotations

import json
import time
from typing import Any

from nbmlops.scheduling.definitions import Schedule
from nbmlops.scheduling.planning import Planned, World, plan
from nbmlops.scheduling.repository import OCCURRENCE_COLUMNS, SELECT_OCCURRENCES, SELECT_SCHEDULES, Occurrence
from nbmlops.status import StepStatus
from nbmlops.store import sql
from nbmlops.store.db import Database, Tx

# an occurrence's statuses: a run's, and retrying between attempts
RUNNING, RETRYING, SUCCEEDED, FAILED = StepStatus.RUNNING, StepStatus.RETRYING, StepStatus.SUCCEEDED, StepStatus.FAILED
_NEW_COLUMNS = tuple(c for c in OCCURRENCE_COLUMNS if c != "id")
MARK_RUN_FAILED = (
    "UPDATE runs SET status = 'failed', error = :error, ended_at = :ended, heartbeat_at = :ended, "
    "duration = :ended - started_at WHERE id = :id AND status IN ('running', 'interrupted')"
)


def backoff(retry_delay: float, attempts: int) -> float:
    """Seconds to wait after the `attempts`-th failed attempt: retry_delay, then doubling."""
    return retry_delay * 2 ** max(attempts - 1, 0)


def _locking(tx: Tx, clause: str) -> str:
    return f" {clause}" if tx.dialect == "postgresql" else ""  # SQLite's BEGIN IMMEDIATE already excludes others


def _insert(tx: Tx, schedule: Schedule, item: Planned, owner: str, now: float, lease_s: float) -> Occurrence | None:
    row = {
        "schedule": schedule.name,
        "key": item.key,
        "kind": item.kind,
        "occurrence_at": item.at,
        "trigger": json.dumps({"schedule": schedule.name, **item.trigger}, sort_keys=True, default=str),
        "status": RUNNING,
        "attempts": 1,
        "max_attempts": schedule.retries + 1,
        "owner": owner,
        "lease_until": now + lease_s,
        "next_attempt_at": None,
        "run_id": None,
        "error": None,
        "created_at": now,
        "started_at": now,
        "ended_at": None,
    }
    statement = sql.upsert("schedule_occurrences", _NEW_COLUMNS, ("schedule", "key"), tx.dialect, update=False)
    if statement is None:  # a database without ON CONFLICT: the unique constraint still refuses a second row
        if tx.first(sql.select_keys("schedule_occurrences", ("schedule", "key")), row):
            return None
        statement = sql.insert("schedule_occurrences", _NEW_COLUMNS)
    if tx.execute(statement, row) != 1:
        return None  # another scheduler claimed it first
    found = tx.all(f"{SELECT_OCCURRENCES} WHERE schedule = :schedule AND key = :key", row)
    return Occurrence.from_row(found[0])


def claim_due(
    db: Database, name: str, now: float, world: World, owner: str, lease_s: float, limit: int
) -> list[Occurrence]:
    """Claim what of schedule `name` is due at `now` (at most `limit`); the cursor and trigger state move on."""

    def write(tx: Tx) -> list[Occurrence]:
        rows = tx.all(f"{SELECT_SCHEDULES} WHERE name = :name{_locking(tx, 'FOR UPDATE')}", {"name": name})
        if not rows:
            return []
        schedule = Schedule.from_row(rows[0])
        if schedule.paused:
            return []
        todo = plan(schedule, now, world, limit)
        claimed = [occ for item in todo.planned if (occ := _insert(tx, schedule, item, owner, now, lease_s))]
        if todo.cron_cursor != schedule.cron_cursor or todo.state != schedule.state:
            tx.execute(
                "UPDATE schedules SET cron_cursor = :cursor, state = :state, updated_at = :now WHERE name = :name",
                {
                    "cursor": todo.cron_cursor,
                    "now": now,
                    "name": name,
                    "state": json.dumps(todo.state, sort_keys=True, default=str),
                },
            )
        return claimed

    return db.transaction(write)


def claim_one(
    db: Database, schedule: Schedule, item: Planned, owner: str, now: float, lease_s: float
) -> Occurrence | None:
    """Claim one given occurrence (run-now); None when it was claimed already."""
    return db.transaction(lambda tx: _insert(tx, schedule, item, owner, now, lease_s))


_CLAIM_RETRY = (
    "UPDATE schedule_occurrences SET status = 'running', owner = :owner, lease_until = :until, "
    "attempts = attempts + 1, started_at = :now, run_id = NULL, ended_at = NULL, next_attempt_at = NULL "
    "WHERE id = :id AND status = 'retrying' AND next_attempt_at <= :now"
)


def claim_retry(db: Database, occurrence_id: int, now: float, owner: str, lease_s: float) -> Occurrence | None:
    """Claim the next attempt of this one occurrence when its back-off is over (None: not due, or taken)."""

    def write(tx: Tx) -> Occurrence | None:
        params = {"owner": owner, "until": now + lease_s, "now": now, "id": occurrence_id}
        if tx.execute(_CLAIM_RETRY, params) != 1:
            return None
        return Occurrence.from_row(tx.all(f"{SELECT_OCCURRENCES} WHERE id = :id", params)[0])

    return db.transaction(write)


def claim_retries(db: Database, now: float, owner: str, lease_s: float, limit: int) -> list[Occurrence]:
    """Claim failed occurrences whose back-off is over (of schedules not paused), oldest first."""
    if limit <= 0:
        return []

    def write(tx: Tx) -> list[Occurrence]:
        candidates = tx.all(
            "SELECT o.id FROM schedule_occurrences o JOIN schedules s ON s.name = o.schedule "
            "WHERE o.status = 'retrying' AND o.next_attempt_at <= :now AND s.paused = :paused "
            f"ORDER BY o.next_attempt_at, o.id LIMIT {int(limit)}{_locking(tx, 'FOR UPDATE OF o SKIP LOCKED')}",
            {"now": now, "paused": False},
        )
        claimed = []
        for row in candidates:
            won = tx.execute(_CLAIM_RETRY, {"owner": owner, "until": now + lease_s, "now": now, "id": row["id"]})
            if won == 1:
                claimed.append(Occurrence.from_row(tx.all(f"{SELECT_OCCURRENCES} WHERE id = :id", row)[0]))
        return claimed

    return db.transaction(write)


def renew(db: Database, owner: str, ids: list[int], until: float) -> int:
    """Extend the leases this scheduler holds; the number still held (a lease taken over is not renewed)."""
    if not ids:
        return 0
    return db.execute(
        f"UPDATE schedule_occurrences SET lease_until = :until WHERE owner = :owner AND "
        f"status = 'running' AND id IN {sql.in_list('o', len(ids))}",
        {"until": until, "owner": owner, **sql.in_params("o", ids)},
    )


def record_run(db: Database, occurrence_id: int, attempt: int, run_id: str) -> None:
    db.execute(
        "UPDATE schedule_occurrences SET run_id = :run WHERE id = :id AND attempts = :attempt",
        {"run": run_id, "id": occurrence_id, "attempt": attempt},
    )


def _fail(tx: Tx, occ: dict[str, Any], error: str, now: float, guard: str, params: dict[str, Any]) -> str | None:
    """Attempt failed: retrying with back-off, or failed for good (the schedule shows the error). None when the
    guard no longer holds (someone else moved the occurrence on)."""
    schedule = tx.all("SELECT retry_delay FROM schedules WHERE name = :name", {"name": occ["schedule"]})
    delay = backoff(schedule[0]["retry_delay"] if schedule else 0.0, occ["attempts"])
    status = RETRYING if occ["attempts"] < occ["max_attempts"] else FAILED
    changed = tx.execute(
        f"UPDATE schedule_occurrences SET status = :status, error = :error, ended_at = :now, "
        f"owner = NULL, lease_until = NULL, next_attempt_at = :next WHERE id = :id AND {guard}",
        {
            "status": status,
            "error": error,
            "now": now,
            "id": occ["id"],
            "next": now + delay if status == RETRYING else None,
            **params,
        },
    )
    if changed != 1:
        return None
    if occ.get("run_id"):
        tx.execute(MARK_RUN_FAILED, {"error": error, "ended": now, "id": occ["run_id"]})
    tx.execute(
        "UPDATE schedules SET last_error = :error, updated_at = :now WHERE name = :name",
        {"error": _summary(occ, error, status, now + delay), "now": now, "name": occ["schedule"]},
    )
    return status


def _summary(occ: dict[str, Any], error: str, status: str, next_attempt: float) -> str:
    from nbmlops.scheduling.cron import iso

    attempt = f"attempt {occ['attempts']} of {occ['max_attempts']}"
    then = f"; retry at {iso(next_attempt)}" if status == RETRYING else "; no retries left"
    return f"{occ['key']} ({attempt}) failed: {error}{then}"


def finish(
    db: Database, occurrence: Occurrence, owner: str, ok: bool, error: str | None = None, now: float | None = None
) -> str | None:
    """Record the end of the attempt this owner ran: succeeded, retrying or failed (None: it was taken over)."""
    now = time.time() if now is None else now
    guard = "owner = :owner AND attempts = :attempt AND status = 'running'"
    params = {"owner": owner, "attempt": occurrence.attempts}

    def write(tx: Tx) -> str | None:
        rows = tx.all(f"{SELECT_OCCURRENCES} WHERE id = :id", {"id": occurrence.id})
        if not rows:
            return None  # the schedule was removed meanwhile
        occ = rows[0]
        if ok:
            changed = tx.execute(
                f"UPDATE schedule_occurrences SET status = 'succeeded', error = NULL, "
                f"ended_at = :now, owner = NULL, lease_until = NULL WHERE id = :id AND {guard}",
                {"now": now, "id": occurrence.id, **params},
            )
            if changed != 1:
                return None
            tx.execute(
                "UPDATE schedules SET last_error = NULL, updated_at = :now WHERE name = :name",
                {"now": now, "name": occ["schedule"]},
            )
            return SUCCEEDED
        return _fail(tx, occ, error or "the run failed", now, guard, params)

    return db.transaction(write)


def take_over_stale(db: Database, now: float, owner: str) -> list[tuple[Occurrence, str]]:
    """Occurrences whose lease ran out (their scheduler died): run marked failed, retried by policy."""

    def write(tx: Tx) -> list[tuple[Occurrence, str]]:
        rows = tx.all(
            f"{SELECT_OCCURRENCES} WHERE status = 'running' AND lease_until < :now ORDER BY id"
            f"{_locking(tx, 'FOR UPDATE SKIP LOCKED')}",
            {"now": now},
        )
        taken = []
        for occ in rows:
            error = f"its scheduler {occ['owner']} stopped renewing the lease (killed?); taken over by {owner}"
            status = _fail(
                tx, occ, error, now, "status = 'running' AND lease_until < :now AND owner = :was", {"was": occ["owner"]}
            )
            if status:
                taken.append((Occurrence.from_row(occ), status))
        return taken

    return db.transaction(write)


def fail_unfinished(db: Database, occurrence: Occurrence, owner: str, reason: str, now: float | None = None) -> None:
    """The scheduler is stopping and this attempt did not end: failed with the reason (retried by policy)."""
    finish(db, occurrence, owner, False, reason, now)
