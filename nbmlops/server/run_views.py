"""What the Pipeline panel shows of runs, read from the store and the run folders (never from the page's memory):
a page of a notebook's runs filtered and sorted with the CLI's grammar, and one run's details.

Plain functions from a project home to JSON-able dicts; the handlers in panel_handlers.py call them in a thread.
Cell numbers in the data are notebook indices (0-based, for selecting the cell); messages the panel shows say
JupyterLab's 1-based "cell N".
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path
from typing import Any

from nbmlops.errors import NbmlopsError
from nbmlops.status import StepStatus

LOG_LIMIT = 64_000  # characters of a step's stdout/stderr shown; the run folder keeps all of it
RUN_ID = re.compile(r"^[0-9]{8}-[0-9]{6}-[0-9a-f]+$")
RUN_KEYS = (
    "id",
    "status",
    "started_at",
    "ended_at",
    "duration",
    "backend",
    "params",
    "metrics",
    "tags",
    "error",
    "parent_run_id",
    "notebook_path",
    "resumed_from",
    "pid",
    "host",
)


class RunNotFound(NbmlopsError):
    pass


def _finite(value: Any) -> Any:
    return None if isinstance(value, float) and not math.isfinite(value) else value


def run_row(run: Any) -> dict[str, Any]:
    row = {k: getattr(run, k) for k in RUN_KEYS}
    row["metrics"] = {k: _finite(v) for k, v in row["metrics"].items()}
    return row


def list_runs(
    home: Path, pipeline: str, *, where: list[str], order: list[str], limit: int, offset: int
) -> dict[str, Any]:
    """One page of a pipeline's runs; `where`/`order` are `nbmlops runs ls` filters and sort keys (bad ones
    raise QueryError naming the filter). `more` says whether a next page exists."""
    from nbmlops.tracking import get_store

    if not home.is_dir():
        return {"runs": [], "more": False, "offset": offset}
    store = get_store(home)
    found = store.list_runs(pipeline=pipeline, where=where, order_by=order, limit=offset + limit + 1)
    page = found[offset : offset + limit]
    return {"runs": [run_row(r) for r in page], "more": len(found) > offset + limit, "offset": offset}


def _read_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _tail(path: str | Path | None) -> str:
    if not path:
        return ""
    try:
        text = Path(path).read_text(errors="replace")
    except OSError:
        return ""
    return text if len(text) <= LOG_LIMIT else f"[… {len(text) - LOG_LIMIT} characters before]\n" + text[-LOG_LIMIT:]


def why(status: dict[str, Any], step_status: str) -> str:
    """Why a step ran or was not run again: the cache's reason, or where its outputs came from."""
    if status.get("cached"):
        origin = status.get("cached_from") or status.get("reused_from")
        return f"cached from run {origin}" if status.get("cached_from") else f"reused from run {origin}"
    if step_status == "skipped":
        return "left out of this run"
    return str(status.get("reason") or "")


def run_detail(home: Path, run_id: str) -> dict[str, Any]:
    """A run with its steps (status, duration, cached/why, logs, error mapped to the cell, outputs with hashes,
    step notebooks), metrics (latest and history) and artifacts."""
    from nbmlops.tracking import get_store

    if not RUN_ID.match(run_id):
        raise RunNotFound(f"no run {run_id}")
    store = get_store(home)
    run = store.find_run(run_id)
    if run is None:
        raise RunNotFound(f"no run {run_id} in {home}")
    folder = home / "runs" / run_id
    record = _read_json(folder / "run.json")
    spec = _read_json(folder / "pipeline.json")
    cells = {s["name"]: [c["index"] for c in s.get("cells", [])] for s in spec.get("steps", [])}
    stored = {s.name: s for s in store.steps(run_id)}
    order = [s["name"] for s in spec.get("steps", [])] or list(stored)
    planned = record.get("steps") or {}
    steps = []
    for name in order:
        status = _read_json(folder / "steps" / name / "status.json")
        info = stored.get(name)
        state = (info.status if info else None) or status.get("status") or planned.get(name) or "pending"
        if status.get("cached") and state == StepStatus.SUCCEEDED:
            state = StepStatus.CACHED
        if state == "pending" and run.status in ("failed", "interrupted"):
            state = "not run"
        if state == "running" and run.status != "running":  # the run ended under it (Stop, a killed process)
            state = run.status
        outputs = status.get("outputs") or {}
        notebook = (status.get("artifacts") or {}).get("notebook")
        steps.append(
            {
                "name": name,
                "status": state,
                "cells": status.get("cells") or cells.get(name, []),
                "duration": info.duration if info and info.duration is not None else status.get("duration"),
                "attempts": info.attempts if info else status.get("attempts"),
                "cached": bool(status.get("cached")) or bool(info and info.cache_hit),
                "why": why(status, state),
                "stdout": _tail(
                    info.stdout_path if info and info.stdout_path else folder / "steps" / name / "stdout.txt"
                ),
                "stderr": _tail(
                    info.stderr_path if info and info.stderr_path else folder / "steps" / name / "stderr.txt"
                ),
                "error": (
                    {
                        "message": status.get("error") or (info.error if info else None),
                        "cell": status.get("cell"),
                        "line": status.get("line"),
                        "traceback": status.get("traceback"),
                    }
                    if state == "failed"
                    else None
                ),
                "inputs": status.get("inputs") or (info.inputs if info else {}),
                "outputs": [
                    {
                        "name": k,
                        "sha256": v.get("sha256"),
                        "type": v.get("type"),
                        "format": v.get("format"),
                        "size": v.get("size"),
                    }
                    for k, v in outputs.items()
                ]
                or [{"name": k, "sha256": v} for k, v in (info.outputs if info else {}).items()],
                "notebook": bool(notebook and Path(notebook).is_file()),
            }
        )
    history: dict[str, list[dict[str, Any]]] = {}
    for point in store.metric_history(run_id):
        history.setdefault(point.key, []).append(
            {
                "value": _finite(point.value),
                "step": point.step,
                "timestamp": point.timestamp,
                "step_name": point.step_name,
            }
        )
    artifacts = [
        {"name": a.name, "sha256": a.sha256, "size": a.size, "step": a.step_name} for a in store.artifacts_of(run_id)
    ]
    children = [r.id for r in store.list_runs(parent_run_id=run_id, order_by=["started_at"], check_stale=False)]
    return {
        "run": run_row(run),
        "steps": steps,
        "metric_history": history,
        "artifacts": artifacts,
        "error": record.get("error"),
        "children": children,
        "notebook_sha256": run.notebook_sha256,
        "job": run.tags.get("job"),
    }


def step_notebook(home: Path, run_id: str, step: str) -> dict[str, Any]:
    """The executed notebook of a step (papermill backend, or a local step that needed a kernel), as nbformat
    JSON, for the panel to open as a read-only notebook document."""
    if not RUN_ID.match(run_id) or not re.match(r"^[A-Za-z0-9_\-]+$", step):
        raise RunNotFound(f"no step {step} in run {run_id}")
    status = _read_json(home / "runs" / run_id / "steps" / step / "status.json")
    notebook = (status.get("artifacts") or {}).get("notebook")
    if not notebook or not Path(notebook).is_file():
        raise RunNotFound(f"run {run_id}: step {step} left no executed notebook (the papermill backend keeps one)")
    return json.loads(Path(notebook).read_text())


def stop_run(home: Path, run_id: str) -> dict[str, Any]:
    """Interrupt a running run on this host (SIGINT to its process, as Ctrl-C would): the run ends `interrupted`
    with its finished steps usable. Runs on other hosts or already finished are refused with the reason."""
    from nbmlops.processes import process_alive
    from nbmlops.server.jobs import interrupt
    from nbmlops.store.liveness import this_host
    from nbmlops.tracking import get_store

    if not RUN_ID.match(run_id):
        raise RunNotFound(f"no run {run_id}")
    run = get_store(home).find_run(run_id)
    if run is None:
        raise RunNotFound(f"no run {run_id} in {home}")
    if run.status != "running":
        raise NbmlopsError(f"run {run_id} is not running (it {run.status})")
    if run.host != this_host() or not run.pid or not process_alive(run.pid):
        raise NbmlopsError(f"run {run_id} runs on {run.host} (pid {run.pid}), not on this server's host")
    interrupt(run.pid)
    return {"run_id": run_id, "stopping": True}
