"""Background pipeline runs: one worker process each, its JSON-line progress kept for the panel to poll."""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nbmlops.status import StepStatus

KEEP_JOBS = 50  # finished jobs remembered for polling; older ones are forgotten (the store keeps the runs)


@dataclass
class Job:
    id: str
    notebook: str  # contents-API path, as the panel knows it
    backend: str
    params: dict[str, Any]
    status: str = "starting"  # starting, running, succeeded, failed
    started: float = field(default_factory=time.time)
    ended: float | None = None
    run_id: str | None = None
    steps: dict[str, dict[str, Any]] = field(default_factory=dict)
    order: list[str] = field(default_factory=list)
    error: dict[str, Any] | None = None
    artifacts: dict[str, dict[str, str]] = field(default_factory=dict)
    process: asyncio.subprocess.Process | None = None
    outcome: tuple[str, dict[str, Any] | None] | None = None  # the worker's last word; final once it has exited

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "notebook": self.notebook, "backend": self.backend, "params": self.params,
                "status": self.status, "started": self.started, "ended": self.ended, "run_id": self.run_id,
                "steps": [{"name": n, **self.steps.get(n, {"status": StepStatus.PENDING})} for n in self.order],
                "error": self.error, "artifacts": self.artifacts}


class JobManager:
    def __init__(self) -> None:
        self.jobs: dict[str, Job] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    def start(self, notebook_api_path: str, notebook_file: Path, backend: str, params: dict[str, Any]) -> Job:
        job = Job(uuid.uuid4().hex[:12], notebook_api_path, backend, params)
        self.jobs[job.id] = job
        task = asyncio.get_running_loop().create_task(self._run(job, notebook_file))
        self._tasks.add(task)  # keep a reference: the loop holds tasks weakly
        task.add_done_callback(self._tasks.discard)
        self._forget_old()
        return job

    async def _run(self, job: Job, notebook_file: Path) -> None:
        request = json.dumps({"notebook": str(notebook_file), "backend": job.backend, "params": job.params})
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        try:
            job.process = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "nbmlops.server.worker", request, cwd=str(notebook_file.parent), env=env,
                limit=1 << 22, stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE)
        except OSError as exc:
            self._finish(job, StepStatus.FAILED, {"message": f"could not start the run: {exc}"})
            return
        job.status = StepStatus.RUNNING
        stderr_task = asyncio.ensure_future(job.process.stderr.read())  # type: ignore[union-attr]
        assert job.process.stdout is not None
        async for raw in job.process.stdout:
            try:
                event = json.loads(raw)
            except ValueError:
                continue  # a step's own print that reached stdout; its logs are in the run folder
            if isinstance(event, dict):
                self._apply(job, event)
        code = await job.process.wait()
        stderr = (await stderr_task).decode(errors="replace")
        # close the pipes now, on a live loop: Python 3.11 otherwise closes them when the transport is collected,
        # possibly after the server's loop is gone ("Event loop is closed")
        _close_pipes(job.process)
        if job.outcome is None:  # the worker died without a final event
            tail = "\n".join(stderr.strip().splitlines()[-15:])
            job.outcome = (StepStatus.FAILED, {"message": f"the run process exited with code {code}\n{tail}".strip()})
        self._finish(job, *job.outcome)

    def _apply(self, job: Job, event: dict[str, Any]) -> None:
        kind = event.get("event")
        if kind == "compiled":
            job.order = list(event.get("steps") or [])
        elif kind == "step":
            name = str(event.get("step"))
            if name not in job.order:
                job.order.append(name)
            job.steps[name] = {k: event[k] for k in ("status", "seconds", "detail") if k in event}
        elif kind == "done":
            job.run_id = event.get("run_id")
            job.artifacts = event.get("artifacts") or {}
            status = event.get("status") or "succeeded"
            job.outcome = (StepStatus.SUCCEEDED if status in (StepStatus.SUCCEEDED, "success") else status, None)
        elif kind == "failed":
            job.run_id = event.get("run_id")
            job.artifacts = event.get("artifacts") or {}
            job.outcome = (StepStatus.FAILED,
                           {k: event.get(k) for k in ("message", "step", "cell", "line", "traceback")})

    def _finish(self, job: Job, status: str, error: dict[str, Any] | None) -> None:
        job.status, job.error, job.ended = status, error, time.time()
        for name in job.order:  # steps never reached in a failed run
            never = StepStatus.NOT_RUN if status == StepStatus.FAILED else StepStatus.PENDING
            job.steps.setdefault(name, {"status": never})

    def _forget_old(self) -> None:
        finished = sorted((j for j in self.jobs.values() if j.ended), key=lambda j: j.ended or 0)
        for job in finished[:-KEEP_JOBS] if len(finished) > KEEP_JOBS else []:
            del self.jobs[job.id]

    def stop_all(self) -> None:
        """At server exit: end the runs still going (the store marks them failed once their heartbeat stops)."""
        for job in self.jobs.values():
            if job.process is not None and job.process.returncode is None:
                try:
                    job.process.terminate()
                except ProcessLookupError:
                    pass  # it ended on its own meanwhile


def _close_pipes(process: asyncio.subprocess.Process) -> None:
    transport = getattr(process, "_transport", None)
    if transport is not None:
        transport.close()
