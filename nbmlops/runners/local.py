"""The local backend: steps run in this process, in dependency order, each in a fresh namespace with its
setup code and exactly its inputs; outputs are marshalled into the run folder."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import platform
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from nbmlops._version import __version__
from nbmlops.errors import RunError, StepFailed
from nbmlops.pipeline.render import topological_order
from nbmlops.pipeline.spec import PipelineSpec, Step
from nbmlops.runners.execution import (
    Tee,
    format_user_traceback,
    fresh_namespace,
    locate_error,
    run_setup,
    run_step_cells,
    with_path,
)
from nbmlops.runners.marshal import MarshalError, StoredValue, bind_to_namespace, load_value, save_value
from nbmlops.runners.rundir import RunDir
from nbmlops.tracking import attach, start_run


class Reporter(Protocol):
    def step_started(self, step: str) -> None: ...
    def step_finished(self, step: str, status: str, seconds: float, detail: str = "") -> None: ...


class SilentReporter:
    def step_started(self, step: str) -> None:
        pass

    def step_finished(self, step: str, status: str, seconds: float, detail: str = "") -> None:
        pass


@dataclass
class RunResult:
    run_id: str
    run_dir: Path
    status: str
    params: dict[str, Any]
    steps: dict[str, dict[str, Any]] = field(default_factory=dict)
    seconds: float = 0.0


def step_key(spec: PipelineSpec, step: Step, params: dict[str, Any], input_hashes: dict[str, str]) -> str:
    """What a step's result depends on: its code, the setup code, the parameters it reads, its inputs."""
    payload = {
        "code": [c.code for c in step.cells],
        "setup": [c.code for c in spec.setup],
        "params": {name: params[name] for name in step.params},
        "inputs": input_hashes,
        "version": __version__,
    }
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=repr).encode()).hexdigest()


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime()) + f".{int(time.time() * 1000) % 1000:03d}Z"


class LocalRunner:
    def __init__(self, spec: PipelineSpec, params: dict[str, Any], home: Path, *, reporter: Reporter | None = None,
                 echo: bool = False, resume_from: RunDir | None = None) -> None:
        self.spec = spec
        self.params = params
        self.home = home
        self.reporter = reporter or SilentReporter()
        self.echo = echo
        self.resume_from = resume_from
        notebook_dir = Path(spec.notebook_path).resolve().parent
        # steps run where the notebook lives, as under Jupyter; a spec moved without its notebook runs here
        self.workdir = notebook_dir if notebook_dir.is_dir() else Path.cwd()
        self.stored_by: dict[tuple[str, str], tuple[StoredValue, Path]] = {}

    def run(self) -> RunResult:
        order = topological_order(self.spec)
        run = RunDir.create(self.home)
        self.spec.save(run.root / "pipeline.json")
        started = time.time()
        record: dict[str, Any] = {
            "run_id": run.run_id, "pipeline": self.spec.name, "notebook": self.spec.notebook_path,
            "notebook_sha256": self.spec.notebook_sha256, "params": self.params, "backend": "local",
            "status": "running", "started": _now(), "ended": None, "duration": None, "pid": os.getpid(),
            "resumed_from": self.resume_from.run_id if self.resume_from else None,
            "nbmlops_version": __version__, "python": platform.python_version(),
            "steps": {name: "pending" for name in order},
        }
        run.write_run(record)
        self.tracked = start_run(kind="pipeline", run_id=run.run_id, pipeline=self.spec.name,
                                 notebook_path=self.spec.notebook_path, notebook_sha256=self.spec.notebook_sha256,
                                 params=self.params, backend="local", resumed_from=record["resumed_from"],
                                 home=self.home)
        result = RunResult(run.run_id, run.root, "running", self.params)
        failure: BaseException | None = None
        for name in order:
            try:
                status = self._run_step(run, self.spec.step(name))
            except (StepFailed, MarshalError, KeyboardInterrupt) as exc:
                failure = exc
                status = "interrupted" if isinstance(exc, KeyboardInterrupt) else "failed"
            record["steps"][name] = status
            result.steps[name] = run.read_status(name) or {}
            run.write_run(record)
            if failure is not None:
                break
        record["status"] = "succeeded" if failure is None else (
            "interrupted" if isinstance(failure, KeyboardInterrupt) else "failed")
        record["ended"] = _now()
        record["duration"] = round(time.time() - started, 4)
        if isinstance(failure, StepFailed):
            record["error"] = {"step": failure.step, "cell": failure.cell, "line": failure.line,
                               "message": str(failure)}
        run.write_run(record)
        self.tracked.end(record["status"], record.get("error", {}).get("message") or _describe(failure))
        result.status = record["status"]
        result.seconds = record["duration"]
        if failure is not None:
            if isinstance(failure, StepFailed):
                failure.run_id = run.run_id
            raise failure
        return result

    # -- one step ---------------------------------------------------------------------------------------
    def _inputs_of(self, step: Step) -> dict[str, tuple[StoredValue, Path]]:
        return {name: self.stored_by[(producer, name)] for name, producer in step.inputs.items()}

    def _run_step(self, run: RunDir, step: Step) -> str:
        inputs = self._inputs_of(step)
        key = step_key(self.spec, step, self.params, {n: s.sha256 for n, (s, _) in inputs.items()})
        reused = self._reuse(run, step, key)
        if reused:
            return "reused"
        self.reporter.step_started(step.name)
        directory = run.step_dir(step.name)
        directory.mkdir(parents=True, exist_ok=True)
        base = {"step": step.name, "key": key, "inputs": {n: s.sha256 for n, (s, _) in inputs.items()},
                "cells": [c.index for c in step.cells], "started": _now(), "pid": os.getpid()}
        run.write_status(step.name, {**base, "status": "running"})
        store = self.tracked.store
        store.start_step(run.run_id, step.name, cache_key=key, inputs=base["inputs"])
        logs = {"stdout_path": str(directory / "stdout.txt"), "stderr_path": str(directory / "stderr.txt")}
        attempts = 1 + int(step.options.get("retries", 0))
        began = time.perf_counter()
        for attempt in range(1, attempts + 1):
            try:
                with attach(run.run_id, step.name, store=store):
                    outputs = self._execute(run, step, inputs)
                break
            except StepFailed as exc:
                if attempt == attempts:
                    store.finish_step(run.run_id, step.name, "failed", error=str(exc), attempts=attempt, **logs)
                    seconds = time.perf_counter() - began
                    run.write_status(step.name, {**base, "status": "failed", "ended": _now(), "attempts": attempt,
                                                 "duration": round(seconds, 4), "error": str(exc),
                                                 "cell": exc.cell, "line": exc.line,
                                                 "traceback": exc.traceback_text})
                    self.reporter.step_finished(step.name, "failed", seconds)
                    raise
            except KeyboardInterrupt:
                run.write_status(step.name, {**base, "status": "interrupted", "ended": _now()})
                store.finish_step(run.run_id, step.name, "interrupted", error="KeyboardInterrupt", **logs)
                self.reporter.step_finished(step.name, "interrupted", time.perf_counter() - began)
                raise
        seconds = time.perf_counter() - began
        run.write_status(step.name, {**base, "status": "succeeded", "ended": _now(), "attempts": attempt,
                                     "duration": round(seconds, 4),
                                     "outputs": {n: s.to_dict() for n, s in outputs.items()}})
        store.finish_step(run.run_id, step.name, "succeeded", attempts=attempt,
                          outputs={n: s.sha256 for n, s in outputs.items()}, **logs)
        for name, stored in outputs.items():
            self.stored_by[(step.name, name)] = (stored, run.outputs_dir(step.name))
        self.reporter.step_finished(step.name, "succeeded", seconds)
        return "succeeded"

    def _reuse(self, run: RunDir, step: Step, key: str) -> bool:
        """On resume, a step whose code, parameters and inputs are unchanged keeps its earlier outputs."""
        if self.resume_from is None:
            return False
        earlier = self.resume_from.read_status(step.name)
        if not earlier or earlier.get("status") != "succeeded" or earlier.get("key") != key:
            return False
        source = self.resume_from.outputs_dir(step.name)
        target = run.outputs_dir(step.name)
        target.mkdir(parents=True, exist_ok=True)
        stored = self.resume_from.stored_outputs(step.name)
        for value in stored.values():
            _link_or_copy(source / value.file, target / value.file)
            self.stored_by[(step.name, value.name)] = (value, target)
        for log in ("stdout.txt", "stderr.txt"):
            if (self.resume_from.step_dir(step.name) / log).is_file():
                _link_or_copy(self.resume_from.step_dir(step.name) / log, run.step_dir(step.name) / log)
        run.write_status(step.name, {**earlier, "status": "succeeded", "reused_from": self.resume_from.run_id})
        self.tracked.store.record_step(run.run_id, step.name, "succeeded", cache_key=key, cache_hit=True,
                                       inputs=earlier.get("inputs") or {},
                                       outputs={n: v.sha256 for n, v in stored.items()})
        self.reporter.step_finished(step.name, "reused", 0.0, f"from {self.resume_from.run_id}")
        return True

    def _execute(self, run: RunDir, step: Step, inputs: dict[str, tuple[StoredValue, Path]]) -> dict[str, StoredValue]:
        namespace = fresh_namespace()
        directory = run.step_dir(step.name)
        with open(directory / "stdout.txt", "w") as out, open(directory / "stderr.txt", "w") as err, \
                _working_directory(self.workdir), \
                contextlib.redirect_stdout(Tee(out, sys.__stdout__ if self.echo else None)), \
                contextlib.redirect_stderr(Tee(err, sys.__stderr__ if self.echo else None)):
            try:
                run_setup(self.spec, namespace, self.params)
                loaded = {name: load_value(stored, folder) for name, (stored, folder) in inputs.items()}
                # bind only once all are loaded: unpickling an instance re-sets its class's methods
                namespace.update({name: bind_to_namespace(value, namespace) for name, value in loaded.items()})
                run_step_cells(self.spec, step, namespace)
            except (KeyboardInterrupt, MarshalError):
                raise
            except BaseException as exc:  # noqa: BLE001 - the user's code may raise anything, SystemExit too
                cell, line = locate_error(self.spec, step, exc.__traceback__)
                text = format_user_traceback(self.spec, step, exc)
                err.write(text)
                raise StepFailed(_failure_message(self.spec, step, cell, line, exc), step=step.name, cell=cell,
                                 line=line, traceback_text=text) from None
        return self._save_outputs(run, step, namespace)

    def _save_outputs(self, run: RunDir, step: Step, namespace: dict[str, Any]) -> dict[str, StoredValue]:
        consumers = {s.name: s for s in self.spec.steps}
        saved = {}
        for name in step.outputs:
            if name not in namespace:
                readers = [s for s, st in consumers.items() if st.inputs.get(name) == step.name]
                raise StepFailed(f"step '{step.name}' did not define '{name}', which {', '.join(readers)} "
                                 "reads (was it assigned only in a branch that didn't run?)", step=step.name,
                                 cell=None, line=None, traceback_text="")
            try:
                saved[name] = save_value(name, namespace[name], run.outputs_dir(step.name))
            except MarshalError as exc:
                raise StepFailed(f"step '{step.name}': {exc}", step=step.name, cell=None, line=None,
                                 traceback_text=str(exc)) from None
        return saved


def _describe(failure: BaseException | None) -> str | None:
    return None if failure is None else f"{type(failure).__name__}: {failure}"


def _failure_message(spec: PipelineSpec, step: Step, cell: int | None, line: int | None,
                     exc: BaseException) -> str:
    where = f"step '{step.name}' failed"
    if cell is not None:
        where += f" in cell {cell}"
        source = next((c.code for c in [*spec.setup, *step.cells] if c.index == cell), "")
        lines = source.splitlines()
        if line and 0 < line <= len(lines):
            where += f", line {line}: {lines[line - 1].strip()}"
    return f"{where}\n{type(exc).__name__}: {exc}"


@contextlib.contextmanager
def _working_directory(path: Path):  # type: ignore[no-untyped-def]
    """Steps run where the notebook lives, as a kernel started by Jupyter does."""
    previous = Path.cwd()
    with_path(path)
    os.chdir(path)
    try:
        yield
    finally:
        os.chdir(previous)


def _link_or_copy(source: Path, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.link(source, target)
    except OSError:
        import shutil

        shutil.copy2(source, target)


def resume_run(home: Path, run_id: str) -> tuple[RunDir, dict[str, Any]]:
    earlier = RunDir.open(home, run_id)
    record = earlier.read_run()
    if record.get("status") == "succeeded":
        raise RunError(f"run {run_id} succeeded; there is nothing to resume")
    return earlier, record
