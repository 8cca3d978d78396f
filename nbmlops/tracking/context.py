"""Which run is active: the innermost run started or attached in this context (thread/task), else in this
process, else the one named by NBMLOPS_RUN_ID / NBMLOPS_STEP (set by a runner for a step in another process)."""

from __future__ import annotations

import contextlib
import contextvars
import os
import threading
from collections.abc import Iterator
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

from nbmlops.tracking.run import ActiveRun

if TYPE_CHECKING:
    from nbmlops.store import Store

ENV_RUN_ID = "NBMLOPS_RUN_ID"
ENV_STEP = "NBMLOPS_STEP"

# Per context: steps running concurrently in threads each see their own. Process-wide as a fallback: threads
# the notebook code starts itself begin with an empty context but still log to the step that started them.
_context_stack: contextvars.ContextVar[tuple[ActiveRun, ...]] = contextvars.ContextVar("nbmlops_runs", default=())
_process_stack: list[ActiveRun] = []
_lock = threading.Lock()
_stores: dict[tuple[int, str, str, str], Store] = {}
_env_run: ActiveRun | None = None


def get_store(home: str | Path | None = None) -> Store:
    """The Store of a project home (cached per process: opening one costs a connection and a schema check)."""
    from nbmlops.store import open_store, project_home

    folder = _resolved(os.path.abspath(home)) if home else str(project_home())
    # env overrides are part of the key: tests and runners switch databases within one process
    key = (os.getpid(), folder, os.environ.get("NBMLOPS_DB_URL", ""), os.environ.get("NBMLOPS_ARTIFACT_ROOT", ""))
    with _lock:
        store = _stores.get(key)
        if store is not None and store.db.file_removed():  # `rm -rf .nbmlops` while a kernel kept its store
            store.close()
            store = None
        if store is None:
            store = _stores[key] = open_store(folder)
        return store


@lru_cache(maxsize=64)
def _resolved(home: str) -> str:
    return str(Path(home).resolve())  # a walk of lstat calls: once per (absolute) home, not once per step


def push(run: ActiveRun) -> None:
    _context_stack.set((*_context_stack.get(), run))
    with _lock:
        _process_stack.append(run)


def forget(run: ActiveRun) -> None:
    stack = _context_stack.get()
    if run in stack:
        _context_stack.set(tuple(r for r in stack if r is not run))
    with _lock:
        if run in _process_stack:
            _process_stack.remove(run)


ActiveRun.forget = staticmethod(forget)  # an ending run leaves the stacks without run.py importing this module


def active_run() -> ActiveRun | None:
    """The run that log_* calls write to now, or None."""
    global _env_run
    stack = _context_stack.get()
    if stack:
        return stack[-1]
    with _lock:
        if _process_stack:
            return _process_stack[-1]
    run_id = os.environ.get(ENV_RUN_ID)
    if not run_id:
        return None
    step = os.environ.get(ENV_STEP) or None
    if _env_run is None or (_env_run.id, _env_run.step) != (run_id, step):
        _env_run = ActiveRun(get_store(), run_id, step=step)
    return _env_run


@contextlib.contextmanager
def attach(
    run_id: str, step: str | None = None, *, store: Store | None = None, set_env: bool = True
) -> Iterator[ActiveRun]:
    """Log to an existing run (and step) inside the block: what a runner wraps a step's execution in, so the
    notebook code's log_metric(...) needs no run handling. With set_env, processes started inside the block
    (kernels, workers) attach too through NBMLOPS_RUN_ID / NBMLOPS_STEP."""
    run = ActiveRun(store or get_store(), run_id, step=step)
    saved = {k: os.environ.get(k) for k in (ENV_RUN_ID, ENV_STEP)}
    if set_env:
        os.environ[ENV_RUN_ID] = run_id
        if step:
            os.environ[ENV_STEP] = step
        else:
            os.environ.pop(ENV_STEP, None)
    push(run)
    try:
        yield run
    finally:
        forget(run)
        if set_env:
            for key, value in saved.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value
