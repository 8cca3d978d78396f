"""Backends that execute a PipelineSpec, and the run folders they leave."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from nbmlops.errors import NbmlopsError
from nbmlops.pipeline.params import resolve_parameters
from nbmlops.pipeline.spec import PipelineSpec
from nbmlops.runners.local import LocalRunner, Reporter, RunResult, resume_run
from nbmlops.runners.marshal import StoredValue, load_value, save_value
from nbmlops.runners.rundir import RunDir
from nbmlops.store.home import project_home

BACKENDS = ("local",)


def run_pipeline(spec: PipelineSpec, params: dict[str, Any] | list[str] | None = None, *,
                 backend: str = "local", resume: str | None = None, home: str | Path | None = None,
                 reporter: Reporter | None = None, echo: bool = False) -> RunResult:
    """Run a pipeline; `params` are ready values or `name=value` strings. Raises StepFailed on failure,
    after the run folder records it."""
    if backend not in BACKENDS:
        raise NbmlopsError(f"unknown backend '{backend}' (available: {', '.join(BACKENDS)})")
    home_path = Path(home) if home else project_home()
    earlier = None
    base: dict[str, Any] = {}
    if resume:
        earlier, record = resume_run(home_path, resume)
        base = {k: v for k, v in record.get("params", {}).items() if k in spec.defaults}
    values = resolve_parameters(spec, params, base)
    return LocalRunner(spec, values, home_path, reporter=reporter, echo=echo, resume_from=earlier).run()


__all__ = ["BACKENDS", "LocalRunner", "RunDir", "RunResult", "StoredValue", "load_value", "run_pipeline",
           "save_value"]
