"""Backends that execute a PipelineSpec, the orchestration they share (order, parallel branches, cache,
resume, records), and the run folders they leave."""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

from nbmlops.errors import NbmlopsError
from nbmlops.pipeline.params import resolve_parameters
from nbmlops.pipeline.spec import PipelineSpec
from nbmlops.runners.marshal import StoredValue, load_value, save_value
from nbmlops.runners.orchestrator import Orchestrator, RunOptions, RunResult, resume_run
from nbmlops.runners.rundir import RunDir
from nbmlops.runners.task import Executor, Reporter, StepOutcome, StepTask
from nbmlops.store.home import project_home

# backend name -> "module:factory"; factories take the keyword options of run_pipeline they understand
BACKENDS = {
    "local": "nbmlops.runners.local:LocalExecutor",
}


def make_executor(backend: str, **options: Any) -> Executor:
    """A backend by name; its heavy imports (papermill, ray) happen only when it is chosen."""
    target = BACKENDS.get(backend)
    if target is None:
        raise NbmlopsError(f"unknown backend '{backend}' (available: {', '.join(BACKENDS)})")
    module, _, factory = target.partition(":")
    return getattr(importlib.import_module(module), factory)(**options)


def run_pipeline(spec: PipelineSpec, params: dict[str, Any] | list[str] | None = None, *,
                 backend: str = "local", resume: str | None = None, home: str | Path | None = None,
                 reporter: Reporter | None = None, echo: bool = False, use_cache: bool = True,
                 force: tuple[str, ...] | list[str] = (), only: str | None = None,
                 parent_run_id: str | None = None, tags: dict[str, Any] | None = None,
                 backend_options: dict[str, Any] | None = None) -> RunResult:
    """Run a pipeline; `params` are ready values or `name=value` strings. Raises StepFailed when a step fails,
    after the run folder and the store record it."""
    home_path = Path(home) if home else project_home()
    earlier = None
    base: dict[str, Any] = {}
    if resume:
        earlier, record = resume_run(home_path, resume)
        base = {k: v for k, v in record.get("params", {}).items() if k in spec.defaults}
    values = resolve_parameters(spec, params, base)
    executor = make_executor(backend, **(backend_options or {}))
    options = RunOptions(use_cache=use_cache, force=tuple(force), only=only, resume_from=earlier,
                         parent_run_id=parent_run_id, tags=tags or {}, echo=echo)
    return Orchestrator(spec, values, home_path, executor, options=options, reporter=reporter).run()


__all__ = ["BACKENDS", "Executor", "Orchestrator", "RunDir", "RunOptions", "RunResult", "StepOutcome", "StepTask",
           "StoredValue", "load_value", "make_executor", "run_pipeline", "save_value"]
