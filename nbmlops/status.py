"""The statuses of runs and steps, in one vocabulary for the runners, the store, the server, the CLI and the
kernel, and the mark each is shown with. A StrEnum: a status is its string wherever it is stored (run.json,
status.json, the database), so records written before keep reading the same."""

from __future__ import annotations

from enum import StrEnum


class StepStatus(StrEnum):
    PENDING = "pending"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    INTERRUPTED = "interrupted"
    SKIPPED = "skipped"  # left out of this run (--only, a sweep's parent)
    CACHED = "cached"  # taken from the step cache
    REUSED = "reused"  # taken from the run being resumed
    RETRYING = "retrying"  # an attempt failed, another follows
    NOT_RUN = "not run"  # an earlier step failed first


RUN_STATUSES = (StepStatus.RUNNING, StepStatus.SUCCEEDED, StepStatus.FAILED, StepStatus.INTERRUPTED)
FINISHED = frozenset({StepStatus.SUCCEEDED, StepStatus.CACHED, StepStatus.REUSED})  # its outputs are there

# what a terminal or a notebook shows for a step as it finishes: (mark, rich colour)
MARKS: dict[str, tuple[str, str]] = {
    StepStatus.SUCCEEDED: ("✓", "green"),
    StepStatus.CACHED: ("↺", "cyan"),
    StepStatus.REUSED: ("↺", "cyan"),
    StepStatus.FAILED: ("✗", "red"),
    StepStatus.INTERRUPTED: ("!", "yellow"),
    StepStatus.RETRYING: ("↻", "yellow"),
}


def mark(status: str) -> str:
    return MARKS.get(status, ("?", "white"))[0]
