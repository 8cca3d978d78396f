"""ActiveRun: a handle on one run (and optionally one step of it) that the logging verbs write through."""

from __future__ import annotations

import time
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from nbmlops.store import ArtifactInfo, RunInfo, Store
    from nbmlops.tracking.provenance import Background


class ActiveRun:
    """`owned` runs were started by this process (start_run) and are ended by it; attached ones (a pipeline
    run seen from inside a step) belong to the runner and are only logged to."""

    def __init__(
        self,
        store: Store,
        run_id: str,
        *,
        step: str | None = None,
        owned: bool = False,
        dirty_check: Background | None = None,
    ) -> None:
        self.store = store
        self.id = run_id
        self.step = step
        self.owned = owned
        self.ended = False
        self.dirty_check = dirty_check  # `git status`, still running when the run started

    def __repr__(self) -> str:
        where = f", step={self.step!r}" if self.step else ""
        return f"ActiveRun(id={self.id!r}{where})"

    # -- logging ----------------------------------------------------------------------------------------
    # each record names the step that logged it: a later run that takes the step from the cache copies them
    def log_param(self, key: str, value: Any) -> None:
        self.store.log_param(self.id, key, value, self.step)

    def log_params(self, values: dict[str, Any]) -> None:
        self.store.log_params(self.id, values, self.step)

    def log_metric(self, key: str, value: float, step: int | None = None, timestamp: float | None = None) -> None:
        self.store.log_metric(self.id, key, value, step, timestamp, self.step)

    def log_metrics(self, values: dict[str, float], step: int | None = None, timestamp: float | None = None) -> None:
        self.store.log_metrics(self.id, values, step, timestamp, self.step)

    def set_tag(self, key: str, value: Any) -> None:
        self.store.set_tag(self.id, key, value, self.step)

    def set_tags(self, values: dict[str, Any]) -> None:
        self.store.set_tags(self.id, values, self.step)

    def log_artifact(self, source: bytes | str | Path, name: str | None = None) -> list[ArtifactInfo]:
        return self.store.log_artifact(self.id, source, name, step_name=self.step)

    def info(self) -> RunInfo:
        return self.store.get_run(self.id)

    # -- ending -----------------------------------------------------------------------------------------
    @staticmethod
    def forget(run: ActiveRun) -> None:
        """Take the run off the stacks of active runs: nbmlops.tracking.context, which keeps those stacks (and
        imports this module), puts its own function here; without it no run was ever made active."""

    def end(self, status: str = "succeeded", error: str | None = None) -> None:
        """End the run (a no-op for attached runs, whose runner ends them, and for runs already ended)."""
        self.forget(self)
        if not self.owned or self.ended:
            return
        self.ended = True
        from nbmlops.tracking.heartbeat import HEARTBEAT

        HEARTBEAT.unregister(self.id)
        ended = time.time()
        if self.dirty_check is not None:
            dirty = self.dirty_check.result(timeout=30)
            if dirty is not None:
                self.store.set_git_dirty(self.id, dirty)
        self.store.finish_run(self.id, status, error=error, ended_at=ended)

    def __enter__(self) -> ActiveRun:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, _tb: TracebackType | None
    ) -> None:
        if exc_type is None:
            self.end("succeeded")
        elif issubclass(exc_type, KeyboardInterrupt):
            self.end("interrupted", "KeyboardInterrupt")
        else:
            self.end("failed", f"{exc_type.__name__}: {exc}")
