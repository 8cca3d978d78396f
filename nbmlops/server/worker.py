"""One pipeline run for the server, in its own process: `python -m nbmlops.server.worker REQUEST_JSON`.

Steps of the local backend run in-process and change the working directory, so they must never run inside the
Jupyter server. This process reports progress as JSON lines on stdout, which the server relays to the panel.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any


def emit(event: str, **data: Any) -> None:
    print(json.dumps({"event": event, "time": time.time(), **data}, default=str), flush=True)


class LineReporter:
    """A runner Reporter that writes each step's progress as one JSON line."""

    def step_started(self, step: str) -> None:
        emit("step", step=step, status="running")

    def step_finished(self, step: str, status: str, seconds: float, detail: str = "") -> None:
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
            found[status_file.parent.name] = {k: str(run_dir / v) if not Path(v).is_absolute() else v
                                              for k, v in artifacts.items()}
    return found


def main(argv: list[str]) -> int:
    request = json.loads(argv[0])
    from nbmlops.errors import NbmlopsError, NotebookError, StepFailed
    from nbmlops.pipeline import compile_notebook
    from nbmlops.runners import run_pipeline
    from nbmlops.store import project_home

    notebook = Path(request["notebook"])
    home = project_home(notebook.parent)
    try:
        spec = compile_notebook(notebook)
        emit("compiled", steps=[s.name for s in spec.steps])
        result = run_pipeline(spec, request.get("params") or {}, backend=request.get("backend", "local"),
                              reporter=LineReporter(), home=home)
    except StepFailed as exc:
        run_dir = home / "runs" / exc.run_id if exc.run_id else None
        emit("failed", message=str(exc), step=exc.step, cell=exc.cell, line=exc.line, run_id=exc.run_id,
             traceback=exc.traceback_text, artifacts=step_artifacts(run_dir) if run_dir else {})
        return 1
    except NotebookError as exc:
        emit("failed", message=str(exc), cell=exc.cell)
        return 1
    except NbmlopsError as exc:
        emit("failed", message=str(exc))
        return 1
    emit("done", run_id=result.run_id, status=result.status, seconds=round(result.seconds, 3),
         artifacts=step_artifacts(result.run_dir))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
