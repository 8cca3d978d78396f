"""The logging verbs. Each writes to the active run (see context.active_run); with none, a run is started for
the process, as MLflow does, and ended when the process exits."""

from __future__ import annotations

import atexit
import sys
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nbmlops.tracking.context import active_run, get_store, push
from nbmlops.tracking.run import ActiveRun

if TYPE_CHECKING:
    from nbmlops.store import ArtifactInfo, Store

_owned: list[ActiveRun] = []  # runs this process started and must end, even if the user forgets
_auto_lock = threading.Lock()


def start_run(
    name: str | None = None,
    params: dict[str, Any] | None = None,
    tags: dict[str, Any] | None = None,
    *,
    run_id: str | None = None,
    kind: str = "run",
    pipeline: str | None = None,
    notebook_path: str | Path | None = None,
    notebook_sha256: str | None = None,
    git_commit: str | None = None,
    git_dirty: bool | None = None,
    backend: str | None = None,
    parent_run_id: str | None = None,
    resumed_from: str | None = None,
    capture: bool = True,
    home: str | Path | None = None,
    store: Store | None = None,
) -> ActiveRun:
    """Start a run and make it active; use as `with start_run(...) as run:` or end it with end_run().

    Started inside another run (or inside a pipeline step) it becomes that run's child. With `capture`, the
    notebook's sha256, the git commit/dirty flag and the installed package versions are recorded."""
    from nbmlops.tracking import provenance
    from nbmlops.tracking.heartbeat import HEARTBEAT
    from nbmlops.user_cache import user_cache_dir

    store = store or get_store(home)
    parent = active_run()
    if parent_run_id is None and parent is not None:
        parent_run_id = parent.id
    packages = None
    dirty_check = None
    if capture:
        if notebook_path and not notebook_sha256 and Path(notebook_path).is_file():
            notebook_sha256 = provenance.file_sha256(notebook_path)
        if git_commit is None:
            git_commit, tree = provenance.git_commit(Path(notebook_path).parent if notebook_path else None)
            if tree is not None and git_dirty is None:  # recorded when the run ends
                dirty_check = provenance.Background(provenance.git_dirty, tree)
        packages = provenance.package_versions(user_cache_dir())
    new_id = store.create_run(
        run_id=run_id,
        name=name,
        kind=kind,
        pipeline=pipeline,
        notebook_path=str(notebook_path) if notebook_path else None,
        notebook_sha256=notebook_sha256,
        git_commit=git_commit,
        git_dirty=git_dirty,
        backend=backend,
        params=params,
        tags=tags,
        parent_run_id=parent_run_id,
        resumed_from=resumed_from,
        packages=packages,
    )
    run = ActiveRun(store, new_id, owned=True, dirty_check=dirty_check)
    HEARTBEAT.register(store, new_id)
    push(run)
    _owned.append(run)
    return run


def end_run(status: str = "succeeded", error: str | None = None) -> None:
    """End the innermost run this process started (no-op when there is none)."""
    run = active_run()
    if run is not None and run.owned:
        run.end(status, error)


def _current() -> ActiveRun:
    run = active_run()
    if run is not None:
        return run
    with _auto_lock:  # two threads logging at once must not start two runs
        return active_run() or start_run()


def log_param(key: str, value: Any) -> None:
    _current().log_param(key, value)


def log_params(values: dict[str, Any]) -> None:
    _current().log_params(values)


def log_metric(key: str, value: float, step: int | None = None, timestamp: float | None = None) -> None:
    """Record one value of a metric. When this returns, the row is committed: on SQLite (WAL,
    synchronous=NORMAL) it survives the process being killed; only an OS crash or power loss can drop it."""
    _current().log_metric(key, value, step, timestamp)


def log_metrics(values: dict[str, float], step: int | None = None, timestamp: float | None = None) -> None:
    _current().log_metrics(values, step, timestamp)


def set_tag(key: str, value: Any) -> None:
    _current().set_tag(key, value)


def set_tags(values: dict[str, Any]) -> None:
    _current().set_tags(values)


def log_artifact(source: bytes | str | Path, name: str | None = None) -> list[ArtifactInfo]:
    """Store a file, a folder or bytes (content-addressed: the same bytes are stored once) under the run."""
    return _current().log_artifact(source, name)


@atexit.register
def _end_forgotten_runs() -> None:
    # An unhandled exception leaves sys.last_value behind (outside IPython, which sets it per failed cell).
    failed = hasattr(sys, "last_value") and "IPython" not in sys.modules
    for run in reversed(_owned):
        if not run.ended:
            run.end("failed" if failed else "succeeded", repr(sys.last_value) if failed else None)
