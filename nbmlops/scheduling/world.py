"""What the triggers look at, read once per scheduler pass for the schedules that have them: the files a glob
matches, stored drift results over their threshold (through nbmlops.monitoring's public API), and successful
runs of an upstream schedule or pipeline."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from nbmlops.scheduling.definitions import Schedule, matching_files
from nbmlops.scheduling.planning import World

if TYPE_CHECKING:
    from nbmlops.store import Store

RECENT = 200  # events per trigger and pass; the rest are found by the next pass (watermarks move on)
# succeeded runs of a pipeline by that name, or started by a schedule of that name
SELECT_UPSTREAM = (
    "SELECT id, ended_at, pipeline FROM runs WHERE status = 'succeeded' AND kind = 'pipeline' "
    "AND parent_run_id IS NULL AND ended_at > :since AND (pipeline = :name OR id IN "
    "(SELECT run_id FROM schedule_occurrences WHERE schedule = :name AND run_id IS NOT NULL)) "
    f"ORDER BY ended_at LIMIT {RECENT}"
)


def read_world(store: Store, schedules: list[Schedule], root: Path) -> World:
    world = World()
    for schedule in schedules:
        for trigger in schedule.triggers:
            kind = trigger["kind"]
            if kind == "files" and trigger["glob"] not in world.files:
                world.files[trigger["glob"]] = matching_files(trigger["glob"], root)
            elif kind == "drift" and trigger["model"] not in world.drift:
                world.drift[trigger["model"]] = drift_over_threshold(store, trigger["model"])
            elif kind == "after":
                since = schedule.state.get("after_since", schedule.created_at)
                rows = store.db.query(SELECT_UPSTREAM, {"name": trigger["name"], "since": since})
                world.upstream.setdefault(trigger["name"], [])
                known = {r["id"] for r in world.upstream[trigger["name"]]}
                world.upstream[trigger["name"]] += [r for r in rows if r["id"] not in known]
    return world


def drift_over_threshold(store: Store, model: str) -> list[dict[str, Any]]:
    """Stored drift results of the model (`churn`, `churn@alias`: every version; `churn:3`: that one) whose
    dataset drift share reached its threshold, newest first."""
    from nbmlops.monitoring import list_results

    name, _, version = model.partition(":")
    name = name.partition("@")[0]
    frame = list_results(store, name, limit=RECENT)
    rows = []
    for row in frame.to_dict("records"):
        if not bool(row["dataset_drift"]):
            continue
        found = row.get("model_version")
        found = None if found is None or found != found else int(found)  # pandas reads a missing one as NaN
        if version and found != int(version):
            continue
        rows.append(
            {
                "id": row["id"],
                "created_at": float(row["created_at"]),
                "model_version": found,
                "drift_share": float(row["drift_share"]),
                "share_threshold": float(row["share_threshold"]),
            }
        )
    return rows
