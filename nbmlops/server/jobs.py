"""Pipeline runs started from the panel, each handed to a detached worker process that outlives the server.

Contract:
- `start()` writes `<home>/jobs/<id>/request.json` and spawns `python -m nbmlops.server.worker <job dir>` in a
  session of its own (setsid): stopping or restarting Jupyter does not stop it. The worker writes its progress as
  JSON lines to `events.jsonl` there, its stderr to `stderr.txt`; the run itself (status, heartbeat, pid, steps)
  is recorded in the project's database like any run, tagged `job=<id>`.
- `get()` rebuilds a job's state from those files each time, so a server started later (or another one) reads
  the same state: the in-memory table only remembers where each job's folder is.
- `stop()` sends SIGINT to the worker's process group: the orchestrator stops the running step, marks the run
  `interrupted` and keeps every finished step's outputs (and cache entries) usable.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

from nbmlops.processes import process_alive
from nbmlops.status import StepStatus

JOB_ID = re.compile(r"^[0-9a-f]{12}$")
ACTIVE = (StepStatus.PENDING, "starting", StepStatus.RUNNING)


class JobStep(NamedTuple):
    """A step as the worker's events last reported it (the run's status.json holds the rest)."""

    status: str  # a StepStatus
    seconds: float | None = None
    detail: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {k: v for k, v in self._asdict().items() if v is not None}


@dataclass
class Job:
    id: str
    notebook: str  # contents-API path, as the panel knows it
    backend: str
    params: dict[str, Any]
    status: str = "starting"  # starting, running, succeeded, failed, interrupted
    started: float = field(default_factory=time.time)
    ended: float | None = None
    run_id: str | None = None
    steps: dict[str, JobStep] = field(default_factory=dict)
    order: list[str] = field(default_factory=list)
    error: dict[str, Any] | None = None
    artifacts: dict[str, dict[str, str]] = field(default_factory=dict)
    pid: int | None = None
    sweep: dict[str, Any] | None = None  # {"points": N, "children": [run ids], "parent": id, "best": id}

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "notebook": self.notebook,
            "backend": self.backend,
            "params": self.params,
            "status": self.status,
            "started": self.started,
            "ended": self.ended,
            "run_id": self.run_id,
            "steps": [{"name": n, **self.steps.get(n, JobStep(StepStatus.PENDING)).to_dict()} for n in self.order],
            "error": self.error,
            "artifacts": self.artifacts,
            "pid": self.pid,
            "sweep": self.sweep,
        }


def jobs_dir(home: Path) -> Path:
    return home / "jobs"


class JobManager:
    def __init__(self) -> None:
        self.homes: dict[str, Path] = {}  # job id -> the project home holding its folder
        self._children: dict[str, subprocess.Popen[bytes]] = {}  # spawned here: reaped on each read

    def start(
        self,
        notebook_api_path: str,
        notebook_file: Path,
        backend: str,
        params: dict[str, Any],
        *,
        home: Path | None = None,
        sweep: dict[str, Any] | None = None,
    ) -> Job:
        """Spawn the detached worker. `home`: the notebook's project home by default; `sweep` =
        {"fields": {"C": "0.1, 1, 10"}, "mode": "grid" | "random:N", "objective": "metrics.auc:max"}."""
        from nbmlops.store import project_home

        home = Path(home) if home else project_home(notebook_file.parent)
        job_id = uuid.uuid4().hex[:12]
        folder = jobs_dir(home) / job_id
        folder.mkdir(parents=True)
        request = {
            "id": job_id,
            "notebook": str(notebook_file),
            "notebook_api_path": notebook_api_path,
            "backend": backend,
            "params": params,
            "sweep": sweep,
            "home": str(home),
            "started": time.time(),
        }
        (folder / "request.json").write_text(json.dumps(request, default=str))
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        with open(folder / "events.jsonl", "ab") as out, open(folder / "stderr.txt", "ab") as err:
            try:
                child = subprocess.Popen(
                    [sys.executable, "-m", "nbmlops.server.worker", str(folder)],
                    cwd=str(notebook_file.parent),
                    env=env,
                    stdin=subprocess.DEVNULL,
                    stdout=out,
                    stderr=err,
                    start_new_session=True,
                )
            except OSError as exc:
                out.write(
                    json.dumps({"event": "failed", "message": f"could not start the run: {exc}"}).encode() + b"\n"
                )
            else:
                self._children[job_id] = child
                (folder / "pid").write_text(str(child.pid))
        self.homes[job_id] = home
        return self.get(job_id, home)  # type: ignore[return-value]

    def find(self, job_id: str, home: Path | None = None) -> Path | None:
        """The folder of a job, from this server's memory or, after a restart, from the notebook's home."""
        if not JOB_ID.match(job_id):
            return None
        home = self.homes.get(job_id) or home
        folder = jobs_dir(home) / job_id if home else None
        return folder if folder and (folder / "request.json").is_file() else None

    def get(self, job_id: str, home: Path | None = None) -> Job | None:
        folder = self.find(job_id, home)
        if folder is None:
            return None
        self.homes[job_id] = folder.parent.parent
        child = self._children.get(job_id)
        if child is not None and child.poll() is not None:
            del self._children[job_id]  # reaped: no zombie left behind
        return read_job(folder)

    def stop(self, job_id: str, home: Path | None = None) -> Job | None:
        """Ask the worker to stop (SIGINT to its process group); the job reads `interrupted` once it has."""
        job = self.get(job_id, home)
        if job is None:
            return None
        if job.status in ACTIVE and job.pid and process_alive(job.pid):
            interrupt(job.pid)
        return job


def interrupt(pid: int) -> None:
    """SIGINT to the worker and everything it started (kernels, step processes): Ctrl-C, as in a terminal."""
    try:
        os.killpg(pid, signal.SIGINT)
    except (ProcessLookupError, PermissionError):
        try:
            os.kill(pid, signal.SIGINT)
        except ProcessLookupError:
            pass  # it ended meanwhile


def read_job(folder: Path) -> Job:
    """A job's state from its folder: the request, the worker's events and whether the worker still lives."""
    request = json.loads((folder / "request.json").read_text())
    job = Job(
        request["id"],
        request.get("notebook_api_path") or "",
        request.get("backend") or "local",
        request.get("params") or {},
        started=request.get("started") or 0.0,
    )
    pid_file = folder / "pid"
    job.pid = int(pid_file.read_text()) if pid_file.is_file() else None
    final = False
    for event in read_events(folder / "events.jsonl"):
        final = apply_event(job, event) or final
    if not final:
        if job.pid and process_alive(job.pid):
            job.status = StepStatus.RUNNING if job.order or job.run_id else "starting"
            return job
        # the worker died without a last word (killed, out of memory): say so, with the end of its stderr
        tail = _tail(folder / "stderr.txt", 15)
        job.status, job.ended = StepStatus.FAILED, (folder / "events.jsonl").stat().st_mtime
        job.error = {"message": f"the run process ended without finishing\n{tail}".strip()}
    for name in job.order:  # steps never reached
        never = StepStatus.PENDING if job.status == StepStatus.SUCCEEDED else StepStatus.NOT_RUN
        job.steps.setdefault(name, JobStep(never))
    return job


def read_events(path: Path) -> list[dict[str, Any]]:
    events = []
    try:
        lines = path.read_bytes().splitlines()
    except OSError:
        return events
    for raw in lines:
        try:
            event = json.loads(raw)
        except ValueError:
            continue  # a step's own print that reached stdout, or a line still being written
        if isinstance(event, dict):
            events.append(event)
    return events


def apply_event(job: Job, event: dict[str, Any]) -> bool:
    """Fold one worker event into the job; True for a final event."""
    kind = event.get("event")
    if kind == "compiled":
        job.order = list(event.get("steps") or [])
    elif kind == "run":  # a run (or a sweep's child) started: its steps are new
        job.run_id = event.get("run_id") or job.run_id
        job.steps = {}
    elif kind == "sweep":
        job.sweep = {**(job.sweep or {}), **{k: v for k, v in event.items() if k not in ("event", "time")}}
    elif kind == "step":
        name = str(event.get("step"))
        if name not in job.order:
            job.order.append(name)
        job.steps[name] = JobStep(str(event.get("status")), event.get("seconds"), event.get("detail"))
    elif kind in ("done", "failed", "interrupted"):
        job.run_id = event.get("run_id") or job.run_id
        job.artifacts = event.get("artifacts") or {}
        job.ended = event.get("time") or time.time()
        if kind == "done":
            status = event.get("status") or StepStatus.SUCCEEDED
            job.status = StepStatus.SUCCEEDED if status in (StepStatus.SUCCEEDED, "success") else status
        else:
            job.status = StepStatus.FAILED if kind == "failed" else StepStatus.INTERRUPTED
            job.error = {k: event.get(k) for k in ("message", "step", "cell", "line", "traceback")}
        return True
    return False


def _tail(path: Path, lines: int) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").strip().splitlines()[-lines:])
    except OSError:
        return ""
