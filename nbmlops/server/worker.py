"""One pipeline run (or sweep) started from JupyterLab, detached: `python -m nbmlops.server.worker JOB_DIR`.

The server spawns this in a session of its own (see jobs.py), so it keeps running when Jupyter stops. It reads
`JOB_DIR/request.json` and writes its progress as JSON lines on stdout, which the server points at
`JOB_DIR/events.jsonl`. Steps of the local backend run in-process and change the working directory, which is why
they never run inside the Jupyter server. SIGINT (the panel's Stop) interrupts the running step: the orchestrator
records the run as `interrupted` and keeps the finished steps' outputs and cache entries.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import time
from pathlib import Path
from typing import Any


def emit(event: str, **data: Any) -> None:
    print(json.dumps({"event": event, "time": time.time(), **data}, default=str), flush=True)


class LineReporter:
    """A runner Reporter that writes each step's progress as one JSON line, and the run's id with its first step
    (the orchestrator makes the id; this process is the only one running runs under its pid)."""

    last_run: str | None = None  # the run announced last: what a Stop interrupted

    def __init__(self, home: Path, point: dict[str, Any] | None = None) -> None:
        self.home, self.point, self.announced = home, point, False

    def _announce(self) -> None:
        if self.announced:
            return
        self.announced = True
        from nbmlops.tracking import get_store

        found = get_store(self.home).list_runs(
            status="running", where=[f"pid = {os.getpid()}"], order_by=["-started_at"], limit=1, check_stale=False
        )
        if found:
            LineReporter.last_run = found[0].id
            emit("run", run_id=found[0].id, point=self.point)

    def step_started(self, step: str) -> None:
        self._announce()
        emit("step", step=step, status="running")

    def step_finished(self, step: str, status: str, seconds: float, detail: str = "") -> None:
        self._announce()
        emit("step", step=step, status=status, seconds=round(seconds, 3), detail=detail)


def step_artifacts(run_dir: Path) -> dict[str, dict[str, str]]:
    """Each step's artifacts (e.g. the papermill backend's executed notebook) from the run folder."""
    found: dict[str, dict[str, str]] = {}
    for status_file in sorted((run_dir / "steps").glob("*/status.json")):
        try:
            artifacts = json.loads(status_file.read_text()).get("artifacts") or {}
        except (OSError, ValueError):
            continue  # a step killed mid-write leaves no usable status; the run record still says what happened
        if artifacts:
            found[status_file.parent.name] = {
                k: str(run_dir / v) if not Path(v).is_absolute() else v for k, v in artifacts.items()
            }
    return found


def sweep_items(params: dict[str, Any], texts: dict[str, str]) -> list[str]:
    """`name=value` items as the CLI's -p takes them: typed values as JSON (strings as they are), swept fields
    as the text the user typed (`0.1, 1, 10`)."""
    items = [f"{k}={v if isinstance(v, str) else json.dumps(v)}" for k, v in params.items() if k not in texts]
    return items + [f"{k}={v}" for k, v in texts.items()]


def interrupt_leftovers(home: Path, reason: str) -> None:
    """Runs of this process still marked running (a sweep's child stopped between steps): interrupted."""
    from nbmlops.tracking import get_store

    store = get_store(home)
    for run in store.list_runs(status="running", where=[f"pid = {os.getpid()}"], check_stale=False):
        store.finish_run(run.id, "interrupted", error=reason)


def run_request(request: dict[str, Any]) -> int:
    from nbmlops.errors import NbmlopsError, NotebookError, StepFailed
    from nbmlops.pipeline import compile_notebook
    from nbmlops.runners import run_pipeline, sweep_pipeline

    notebook = Path(request["notebook"])
    home = Path(request["home"])
    backend = request.get("backend") or "local"
    try:
        spec = compile_notebook(notebook)
        emit("compiled", steps=[s.name for s in spec.steps])
        sweep = request.get("sweep")
        if sweep:
            items = sweep_items(request.get("params") or {}, sweep.get("fields") or {})
            result = sweep_pipeline(
                spec,
                items,
                sweep=sweep.get("mode") or "grid",
                objective=sweep.get("objective") or None,
                backend=backend,
                home=home,
                reporter_for=lambda values, extra: LineReporter(home, values),
            )
            emit(
                "sweep",
                parent=result.parent.run_id,
                children=[c.run_id for c in result.children],
                best=result.best.run_id if result.best else None,
                points=len(result.points),
            )
            emit("done", run_id=result.parent.run_id, status=result.parent.status, artifacts={})
            return 0
        result = run_pipeline(
            spec,
            request.get("params") or {},
            backend=backend,
            reporter=LineReporter(home),
            home=home,
            tags={"job": request["id"], "launched_by": "jupyterlab"},
        )
    except KeyboardInterrupt:
        interrupt_leftovers(home, "stopped from JupyterLab")
        emit(
            "interrupted",
            run_id=LineReporter.last_run,
            message="stopped from JupyterLab; the steps that finished keep their outputs",
        )
        if request.get("sweep"):
            # a sweep's children run in pool threads, which SIGINT does not reach and interpreter exit would wait
            # for (queued points included): end here; their finished steps are recorded and cached already
            sys.stdout.flush()
            os._exit(130)
        return 130
    except StepFailed as exc:
        run_dir = home / "runs" / exc.run_id if exc.run_id else None
        emit(
            "failed",
            message=str(exc),
            step=exc.step,
            cell=exc.cell,
            line=exc.line,
            run_id=exc.run_id,
            traceback=exc.traceback_text,
            artifacts=step_artifacts(run_dir) if run_dir else {},
        )
        return 1
    except NotebookError as exc:
        emit("failed", message=str(exc), cell=exc.cell)
        return 1
    except NbmlopsError as exc:
        emit("failed", message=str(exc))
        return 1
    emit(
        "done",
        run_id=result.run_id,
        status=result.status,
        seconds=round(result.seconds, 3),
        artifacts=step_artifacts(result.run_dir),
    )
    return 0


def main(argv: list[str]) -> int:
    # A Jupyter server started in the background (`nohup jupyter lab &`, a CI job) hands its children SIGINT
    # ignored, and Python then raises no KeyboardInterrupt: the panel's Stop would do nothing. Ctrl-C as usual.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    folder = Path(argv[0])
    return run_request(json.loads((folder / "request.json").read_text()))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
