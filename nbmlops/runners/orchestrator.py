"""Runs a PipelineSpec on any backend: steps in dependency order (independent ones at the same time, up to the
backend's capacity), each reused from the cache when its code, setup, parameters and inputs are unchanged,
and every step recorded in the run folder and the store."""

from __future__ import annotations

import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

from nbmlops._version import __version__
from nbmlops.errors import RunError, StepFailed
from nbmlops.pipeline.graph import ancestors, topological_order
from nbmlops.pipeline.spec import PipelineSpec, Step
from nbmlops.runners.cache import KeyParts, StepCache, key_parts
from nbmlops.runners.marshal import StoredValue
from nbmlops.runners.rundir import RunDir
from nbmlops.runners.step_record import StepRecord
from nbmlops.runners.task import Executor, Reporter, SilentReporter, StepFuture, StepOutcome, StepTask
from nbmlops.status import StepStatus


@dataclass
class RunResult:
    run_id: str
    run_dir: Path
    status: str
    params: dict[str, Any]
    steps: dict[str, StepRecord] = field(default_factory=dict)
    seconds: float = 0.0


class RunOptions(NamedTuple):  # a NamedTuple: cheaper than a dataclass to create at import
    use_cache: bool = True
    force: tuple[str, ...] = ()  # steps to run even on a cache hit
    only: str | None = None  # run this step alone, its upstream from the cache
    skip: frozenset[str] = frozenset()  # steps left out of this run (a sweep's parent runs only shared steps)
    resume_from: RunDir | None = None
    parent_run_id: str | None = None
    tags: dict[str, Any] | None = None
    echo: bool = False


def now_iso() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime()) + f".{int(time.time() * 1000) % 1000:03d}Z"


class Orchestrator:
    def __init__(
        self,
        spec: PipelineSpec,
        params: dict[str, Any],
        home: Path,
        executor: Executor,
        *,
        options: RunOptions | None = None,
        reporter: Reporter | None = None,
    ) -> None:
        self.spec = spec
        self.params = params
        self.home = home
        self.executor = executor
        self.options = options or RunOptions()
        self.reporter = reporter or SilentReporter()
        self.cache = StepCache(home)
        notebook_dir = Path(spec.notebook_path).resolve().parent
        # steps run where the notebook lives, as under Jupyter; a spec moved without its notebook runs here
        self.workdir = notebook_dir if notebook_dir.is_dir() else Path.cwd()
        self.stored_by: dict[tuple[str, str], tuple[StoredValue, Path]] = {}
        for name in self.options.force:
            spec.step(name)  # unknown step names are an error before anything runs
        self.base_status: dict[str, dict[str, Any]] = {}  # status.json fields of the steps started
        self.unreusable: dict[str, str] = {}  # step -> why its cache hit or earlier run could not be taken
        self.skipped: set[str] = set(self.options.skip)
        if self.options.only:
            spec.step(self.options.only)
            needed = ancestors(spec, self.options.only) | {self.options.only}
            self.skipped |= {s.name for s in spec.steps} - needed

    # -- the run ----------------------------------------------------------------------------------------
    def run(self) -> RunResult:
        from nbmlops.tracking import start_run

        order = topological_order(self.spec)
        self.run_dir = run = RunDir.create(self.home)
        self.spec.save(run.root / "pipeline.json")
        started = time.time()
        self.record: dict[str, Any] = {
            "run_id": run.run_id,
            "pipeline": self.spec.name,
            "notebook": self.spec.notebook_path,
            "notebook_sha256": self.spec.notebook_sha256,
            "params": self.params,
            "backend": self.executor.name,
            "status": StepStatus.RUNNING,
            "started": now_iso(),
            "ended": None,
            "duration": None,
            "pid": os.getpid(),
            "resumed_from": self.options.resume_from.run_id if self.options.resume_from else None,
            "parent_run_id": self.options.parent_run_id,
            "only": self.options.only,
            "nbmlops_version": __version__,
            "python": sys.version.split()[0],
            "steps": {name: StepStatus.SKIPPED if name in self.skipped else StepStatus.PENDING for name in order},
        }
        run.write_run(self.record)
        self.tracked = start_run(
            kind="pipeline",
            run_id=run.run_id,
            pipeline=self.spec.name,
            notebook_path=self.spec.notebook_path,
            notebook_sha256=self.spec.notebook_sha256,
            params=self.params,
            tags=self.options.tags or None,
            backend=self.executor.name,
            resumed_from=self.record["resumed_from"],
            parent_run_id=self.options.parent_run_id,
            home=self.home,
        )
        self.store = self.tracked.store
        result = RunResult(run.run_id, run.root, StepStatus.RUNNING, self.params)
        failure: BaseException | None = None
        try:
            failure = self._schedule([n for n in order if n not in self.skipped])
        except KeyboardInterrupt as exc:
            failure = exc
        finally:
            self.executor.close()
        status = (
            StepStatus.SUCCEEDED
            if failure is None
            else (StepStatus.INTERRUPTED if isinstance(failure, KeyboardInterrupt) else StepStatus.FAILED)
        )
        self.record.update(status=status, ended=now_iso(), duration=round(time.time() - started, 4))
        if isinstance(failure, StepFailed):
            failure.run_id = run.run_id
            self.record["error"] = {
                "step": failure.step,
                "cell": failure.cell,
                "line": failure.line,
                "message": str(failure),
            }
        run.write_run(self.record)
        self.tracked.end(status, None if failure is None else str(failure) or type(failure).__name__)
        result.status, result.seconds = status, self.record["duration"]
        result.steps = {
            name: StepRecord(run.read_status(name) or {"status": self.record["steps"][name]}) for name in order
        }
        if failure is not None:
            raise failure
        return result

    def _schedule(self, order: list[str]) -> BaseException | None:
        """Start every step whose upstream is done, up to the backend's capacity; stop starting new ones at
        the first failure and let the running ones finish."""
        done: set[str] = set()
        pending = list(order)
        running: dict[StepFuture, tuple[StepTask, KeyParts, float]] = {}
        failure: BaseException | None = None
        while True:
            while failure is None and pending and len(running) < self.executor.capacity:
                ready = next((n for n in pending if all(u in done for u in self.spec.step(n).upstream)), None)
                if ready is None:
                    break
                pending.remove(ready)
                try:
                    submitted = self._start(self.spec.step(ready))
                except RunError as exc:
                    failure = exc
                    break
                if submitted is None:
                    done.add(ready)
                else:
                    running[submitted[0]] = submitted[1:]
            if not running:
                return failure
            finished = [future for future in running if future.done()]
            if not finished:  # only backends that run steps elsewhere (threads, Ray) get here
                from concurrent.futures import FIRST_COMPLETED, wait

                finished = list(wait(list(running), return_when=FIRST_COMPLETED)[0])
            for future in finished:
                task, parts, began = running.pop(future)
                outcome = future.result()  # KeyboardInterrupt re-raises here
                if outcome.error is not None and task.attempt <= int(task.step.options.get("retries", 0)):
                    task.attempt += 1
                    self.reporter.step_finished(
                        task.name, StepStatus.RETRYING, time.perf_counter() - began, f"attempt {task.attempt}"
                    )
                    running[self.executor.submit(task)] = (task, parts, began)
                    continue
                if self._finish(task, parts, outcome, time.perf_counter() - began):
                    done.add(task.name)
                elif failure is None:
                    failure = outcome.error

    # -- one step ---------------------------------------------------------------------------------------
    def _start(self, step: Step) -> tuple[StepFuture, StepTask, KeyParts, float] | None:
        """Reuse the step (resume or cache) and return None, or submit it to the backend."""
        inputs = {name: self.stored_by[(producer, name)] for name, producer in step.inputs.items()}
        parts = key_parts(self.spec, step, self.params, {n: s.sha256 for n, (s, _) in inputs.items()})
        if self._reuse_earlier_run(step, parts) or self._reuse_cache(step, parts):
            return None
        if self.options.only and step.name != self.options.only:
            raise RunError(
                f"--only {self.options.only}: upstream step '{step.name}' has no cached result "
                f"({self.cache.why_rerun(self.spec, step, parts)}); run the pipeline once first"
            )
        reason = self._why(step, parts)
        self.reporter.step_started(step.name)
        directory = self.run_dir.step_dir(step.name)
        directory.mkdir(parents=True, exist_ok=True)
        self.base_status[step.name] = {
            "step": step.name,
            "key": parts.key,
            "inputs": parts.inputs,
            "cells": [c.index for c in step.cells],
            "started": now_iso(),
            "pid": os.getpid(),
            "reason": reason,
            "backend": self.executor.name,
        }
        self.run_dir.write_status(step.name, {**self.base_status[step.name], "status": StepStatus.RUNNING})
        self.store.start_step(self.run_dir.run_id, step.name, cache_key=parts.key, inputs=parts.inputs)
        task = StepTask(
            self.spec,
            step,
            self.params,
            inputs,
            directory,
            self.run_dir.outputs_dir(step.name),
            self.workdir,
            self.run_dir.run_id,
            home=self.home,
            echo=self.options.echo,
        )
        began = time.perf_counter()  # before submit: the local backend runs the step inside it
        return self.executor.submit(task), task, parts, began

    def _why(self, step: Step, parts: KeyParts) -> str:
        if step.name in self.options.force or step.name == self.options.only:
            return "forced"
        if not self.options.use_cache or step.options.get("nocache"):
            return "cache off"
        return self.unreusable.get(step.name) or self.cache.why_rerun(self.spec, step, parts)

    def _finish(self, task: StepTask, parts: KeyParts, outcome: StepOutcome, seconds: float) -> bool:
        name = task.name
        logs = {"stdout_path": str(task.step_dir / "stdout.txt"), "stderr_path": str(task.step_dir / "stderr.txt")}
        base = {
            **self.base_status[name],
            "ended": now_iso(),
            "attempts": task.attempt,
            "duration": round(seconds, 4),
            "artifacts": outcome.artifacts,
            **outcome.placement,
        }
        if outcome.error is not None:
            error = outcome.error
            self.run_dir.write_status(
                name,
                {
                    **base,
                    "status": StepStatus.FAILED,
                    "error": str(error),
                    "cell": error.cell,
                    "line": error.line,
                    "traceback": error.traceback_text,
                },
            )
            self.store.finish_step(
                self.run_dir.run_id, name, StepStatus.FAILED, error=str(error), attempts=task.attempt, **logs
            )
            self._set_status(name, StepStatus.FAILED)
            self.reporter.step_finished(name, StepStatus.FAILED, seconds)
            return False
        self.run_dir.write_status(
            name,
            {**base, "status": StepStatus.SUCCEEDED, "outputs": {n: s.to_dict() for n, s in outcome.outputs.items()}},
        )
        self.store.finish_step(
            self.run_dir.run_id,
            name,
            StepStatus.SUCCEEDED,
            attempts=task.attempt,
            outputs={n: s.sha256 for n, s in outcome.outputs.items()},
            **logs,
        )
        self._keep_outputs(name, outcome.outputs, task.outputs_dir)
        self.cache.record(self.spec, task.step, parts, self.run_dir.run_id, outcome.outputs, task.outputs_dir)
        self._set_status(name, StepStatus.SUCCEEDED)
        self.reporter.step_finished(name, StepStatus.SUCCEEDED, seconds, base["reason"])
        return True

    def _keep_outputs(self, step: str, outputs: dict[str, StoredValue], folder: Path) -> None:
        for name, stored in outputs.items():
            self.stored_by[(step, name)] = (stored, folder)

    def _set_status(self, step: str, status: str) -> None:
        # run.json is rewritten when the run ends, not after every step: the live status of each step is
        # its own status.json (and the database)
        self.record["steps"][step] = status

    def _adopt(
        self,
        step: Step,
        parts: KeyParts,
        outputs: dict[str, StoredValue],
        source: Path,
        status: str,
        origin: str,
        source_run: str,
        source_step: str,
    ) -> bool:
        """Take outputs made by an earlier run into this run's folder (hard links: no copy) and record them,
        with a copy of what that step execution logged (metrics, params, tags, artifacts), marked reused.
        False, taking nothing, when the store no longer has that step's records: the step runs again rather
        than carry no metrics, or when later steps now read values the earlier execution did not hand on."""
        missing = [name for name in step.outputs if name not in outputs]
        if missing:  # the key covers what a step reads, not what later steps take from it
            self.unreusable[step.name] = f"later steps now also read {', '.join(missing)} from it"
            return False
        reused = self.store.reuse_step(
            self.run_dir.run_id,
            step.name,
            source_run,
            source_step,
            cache_key=parts.key,
            inputs=parts.inputs,
            outputs={n: s.sha256 for n, s in outputs.items()},
        )
        if reused is None:
            self.unreusable[step.name] = f"step {source_step} of run {source_run} is no longer in the store"
            return False
        target = self.run_dir.outputs_dir(step.name)
        target.mkdir(parents=True, exist_ok=True)
        for stored in outputs.values():
            link_or_copy(source / stored.file, target / stored.file)
        self._keep_outputs(step.name, outputs, target)
        self.run_dir.write_status(
            step.name,
            {
                "step": step.name,
                "status": StepStatus.SUCCEEDED,
                "cached": True,
                status + "_from": origin,
                "key": parts.key,
                "inputs": parts.inputs,
                "duration": 0.0,
                "outputs": {n: s.to_dict() for n, s in outputs.items()},
                "records_from": {"run_id": reused[0], "step": reused[1]},
            },
        )
        # the entry now points at this run's links and records (valid if the older run is removed) but keeps
        # the producer
        self.cache.record(self.spec, step, parts, origin, outputs, target, source_run=self.run_dir.run_id)
        self._set_status(step.name, status)
        self.reporter.step_finished(step.name, status, 0.0, f"from {origin}")
        return True

    def _reuse_earlier_run(self, step: Step, parts: KeyParts) -> bool:
        """--resume: a step that succeeded in the resumed run with the same key keeps its outputs."""
        earlier = self.options.resume_from
        if earlier is None or step.name in self.options.force:
            return False
        status = earlier.read_status(step.name)
        if not status or status.get("status") != StepStatus.SUCCEEDED or status.get("key") != parts.key:
            return False
        return self._adopt(
            step,
            parts,
            earlier.stored_outputs(step.name),
            earlier.outputs_dir(step.name),
            StepStatus.REUSED,
            earlier.run_id,
            earlier.run_id,
            step.name,
        )

    def _reuse_cache(self, step: Step, parts: KeyParts) -> bool:
        if (
            not self.options.use_cache
            or step.options.get("nocache")
            or step.name in self.options.force
            or step.name == self.options.only
        ):
            return False
        hit = self.cache.lookup(parts.key)
        if hit is None:
            return False
        return self._adopt(
            step, parts, hit.outputs, hit.folder, StepStatus.CACHED, hit.run_id, hit.source_run, hit.source_step
        )


def link_or_copy(source: Path, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    if target.exists():
        return
    try:
        os.link(source, target)
    except OSError:
        import shutil

        shutil.copy2(source, target)


def resume_run(home: Path, run_id: str) -> tuple[RunDir, dict[str, Any]]:
    earlier = RunDir.open(home, run_id)
    record = earlier.read_run()
    if record.get("status") == StepStatus.SUCCEEDED:
        raise RunError(f"run {run_id} succeeded; there is nothing to resume")
    return earlier, record
