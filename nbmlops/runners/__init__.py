"""Backends that execute a PipelineSpec, the orchestration they share (order, parallel branches, cache,
resume, records), and the run folders they leave."""

from __future__ import annotations

import importlib
import inspect
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nbmlops.errors import NbmlopsError
from nbmlops.extras import require
from nbmlops.pipeline.params import resolve_parameters
from nbmlops.pipeline.spec import PipelineSpec
from nbmlops.runners.marshal import StoredValue, load_value, save_value
from nbmlops.runners.orchestrator import Orchestrator, RunOptions, RunResult, resume_run
from nbmlops.runners.rundir import RunDir
from nbmlops.runners.step_record import StepRecord
from nbmlops.runners.task import Executor, Reporter, StepOutcome, StepTask
from nbmlops.store.home import project_home

if TYPE_CHECKING:
    from nbmlops.runners.sweep import SweepResult

# backend name -> "module:factory"; factories take the keyword options of run_pipeline they understand
BACKENDS = {
    "local": "nbmlops.runners.local:LocalExecutor",
    "papermill": "nbmlops.runners.papermill_backend:PapermillExecutor",
    "ray": "nbmlops.runners.ray_backend:RayExecutor",
}
BACKEND_EXTRAS = {"papermill": "papermill", "ray": "ray"}  # the package extra each needs beyond the core


def make_executor(backend: str, **options: Any) -> Executor:
    """A backend by name; its heavy imports (papermill, ray) happen only when it is chosen."""
    target = BACKENDS.get(backend)
    if target is None:
        raise NbmlopsError(f"unknown backend '{backend}' (available: {', '.join(BACKENDS)})")
    if backend in BACKEND_EXTRAS:
        require(BACKEND_EXTRAS[backend], f"the {backend} backend")
    module, _, factory = target.partition(":")
    make = getattr(importlib.import_module(module), factory)
    # only with options: inspect.signature of a class without __init__ parses object's text signature (~10 ms)
    unknown = [name for name in options if name not in inspect.signature(make).parameters] if options else []
    if unknown:
        flags = ", ".join("--" + name.replace("_", "-") for name in unknown)
        raise NbmlopsError(f"the {backend} backend doesn't take {flags}")
    return make(**options)


def run_pipeline(
    spec: PipelineSpec,
    params: dict[str, Any] | list[str] | None = None,
    *,
    backend: str = "local",
    resume: str | None = None,
    home: str | Path | None = None,
    reporter: Reporter | None = None,
    echo: bool = False,
    use_cache: bool = True,
    force: tuple[str, ...] | list[str] = (),
    only: str | None = None,
    parent_run_id: str | None = None,
    tags: dict[str, Any] | None = None,
    skip: frozenset[str] = frozenset(),
    backend_options: dict[str, Any] | None = None,
) -> RunResult:
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
    options = RunOptions(
        use_cache=use_cache,
        force=tuple(force),
        only=only,
        skip=skip,
        resume_from=earlier,
        parent_run_id=parent_run_id,
        tags=tags or {},
        echo=echo,
    )
    return Orchestrator(spec, values, home_path, executor, options=options, reporter=reporter).run()


def sweep_pipeline(
    spec: PipelineSpec,
    params: list[str],
    *,
    sweep: str = "grid",
    objective: str | None = None,
    seed: int = 0,
    backend: str = "local",
    parallel: int | None = None,
    reporter_for: Any = None,
    **options: Any,
) -> SweepResult:
    """Run every point of the sweep the `-p name=a,b,c` items describe, as children of one parent run.
    Children run at the same time on a backend that spreads work (ray), one after another otherwise."""
    from nbmlops.runners.sweep import run_sweep, split_sweep_params, sweep_points

    fixed, swept = split_sweep_params(spec, params)
    if not swept:
        raise NbmlopsError("nothing to sweep: give a parameter several values, e.g. -p C=0.1,1,10")
    resolve_parameters(spec, fixed)  # bad fixed values fail before any run starts

    def one(values: dict[str, Any], **extra: Any) -> RunResult:
        reporter = reporter_for(values, extra) if reporter_for else None
        return run_pipeline(spec, values, backend=backend, reporter=reporter, **options, **extra)

    width = parallel or (len(sweep_points(swept, sweep, seed)) if backend == "ray" else 1)
    return run_sweep(spec, fixed, swept, one, mode=sweep, seed=seed, objective=objective, parallel=width)


__all__ = [
    "BACKENDS",
    "Executor",
    "Orchestrator",
    "RunDir",
    "RunOptions",
    "RunResult",
    "StepOutcome",
    "StepRecord",
    "StepTask",
    "StoredValue",
    "SweepResult",
    "load_value",
    "make_executor",
    "run_pipeline",
    "save_value",
    "sweep_pipeline",
]


def __getattr__(name: str) -> Any:
    if name == "SweepResult":  # sweeps load their module (and its dataclass) only when one runs
        from nbmlops.runners.sweep import SweepResult

        return SweepResult
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
