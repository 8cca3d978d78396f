"""One attempt of one occurrence, in a process of its own: `python -m nbmlops.scheduling.worker ID ATTEMPT`.

The scheduler (or `schedule run-now`) claims the occurrence and starts this process; it runs the schedule's
pipeline with the schedule's parameters (plus the trigger's: the new files), tags the run with the occurrence,
records the trigger on the run and the run on the occurrence, and exits 0 (succeeded), 1 (a step failed),
2 (bad input: the notebook no longer compiles, a parameter no longer exists) or 130 (stopped by SIGTERM).
It dies with its scheduler: a scheduler killed with -9 leaves no pipeline running under a lease nobody renews.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
import time
from typing import Any

from nbmlops.errors import NbmlopsError, StepFailed

OCCURRENCE_TAG = "nbmlops.occurrence"
SCHEDULE_TAG = "nbmlops.schedule"


class RunRecorder:
    """A Reporter that, once the run exists, records the trigger on it and the run on the occurrence."""

    def __init__(self, store: Any, occurrence_id: int, attempt: int, trigger: dict[str, Any]) -> None:
        self.store, self.occurrence_id, self.attempt, self.trigger = store, occurrence_id, attempt, trigger
        self.marker = f"{occurrence_id}:{attempt}"
        self.run_id: str | None = None

    def record(self) -> str | None:
        if self.run_id is None:
            rows = self.store.db.query(
                "SELECT run_id FROM tags WHERE key = :key AND value = :value",
                {"key": OCCURRENCE_TAG, "value": self.marker},
            )
            if not rows:
                return None
            from nbmlops.scheduling.claims import record_run

            self.run_id = rows[0]["run_id"]
            self.store.set_trigger(self.run_id, self.trigger)
            record_run(self.store.db, self.occurrence_id, self.attempt, self.run_id)
            print(f"run {self.run_id}", flush=True)
        return self.run_id

    def step_started(self, step: str) -> None:
        self.record()
        print(f"step {step} started", flush=True)

    def step_finished(self, step: str, status: str, seconds: float, detail: str = "") -> None:
        self.record()
        print(f"step {step} {status} in {seconds:.2f} s{f' ({detail})' if detail else ''}", flush=True)


def _die_with_parent(parent: int) -> None:
    def watch() -> None:
        while True:
            time.sleep(0.5)
            if os.getppid() != parent:  # re-parented: the scheduler is gone
                os.killpg(os.getpgrp(), signal.SIGKILL) if os.getpgrp() == os.getpid() else os._exit(137)

    threading.Thread(target=watch, name="nbmlops-parent-watch", daemon=True).start()


def _interrupt(_signum: int, _frame: Any) -> None:
    raise KeyboardInterrupt("stopped by SIGTERM")


def run_occurrence(occurrence_id: int, attempt: int) -> int:
    from nbmlops.pipeline import load_pipeline
    from nbmlops.runners import run_pipeline
    from nbmlops.scheduling.repository import get_occurrence, get_schedule
    from nbmlops.tracking import get_store

    store = get_store()
    occurrence = get_occurrence(store.db, occurrence_id)
    schedule = get_schedule(store.db, occurrence.schedule)
    trigger = {**occurrence.trigger, "occurrence_id": occurrence_id, "attempt": attempt}
    recorder = RunRecorder(store, occurrence_id, attempt, trigger)
    params = dict(schedule.params)
    if occurrence.kind == "files":
        params[occurrence.trigger["param"]] = list(occurrence.trigger["files"])
    try:
        spec = load_pipeline(schedule.target)
        run_pipeline(
            spec,
            params,
            backend=schedule.backend,
            reporter=recorder,
            tags={SCHEDULE_TAG: schedule.name, OCCURRENCE_TAG: recorder.marker},
        )
    except StepFailed as exc:
        print(f"error: {exc}", file=sys.stderr, flush=True)
        return 1
    except NbmlopsError as exc:
        print(f"error: {exc}", file=sys.stderr, flush=True)
        return 2
    except KeyboardInterrupt:
        print("error: stopped by SIGTERM before the run ended", file=sys.stderr, flush=True)
        return 130
    finally:
        recorder.record()
    return 0


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 3:
        print("usage: python -m nbmlops.scheduling.worker OCCURRENCE_ID ATTEMPT PARENT_PID", file=sys.stderr)
        return 2
    parent = int(args[2])
    if parent:
        _die_with_parent(parent)
    signal.signal(signal.SIGTERM, _interrupt)
    return run_occurrence(int(args[0]), int(args[1]))


if __name__ == "__main__":
    sys.exit(main())
