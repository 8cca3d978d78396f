"""Bringing a past run's values back: what `%pipeline load STEP` puts into the live kernel, so one step can be
debugged with the real values its upstream produced."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from nbmlops.errors import RunError
from nbmlops.pipeline.spec import PipelineSpec
from nbmlops.runners.marshal import bind_to_namespace, load_value
from nbmlops.runners.rundir import RunDir
from nbmlops.status import StepStatus


def _succeeded(run: RunDir, steps: set[str]) -> bool:
    return all((run.read_status(s) or {}).get("status") == StepStatus.SUCCEEDED for s in steps)


def find_run(home: Path, spec: PipelineSpec, needed: set[str], run_id: str | None = None) -> RunDir:
    """The given run, or the newest run of this pipeline in which every step in `needed` succeeded."""
    if run_id:
        run = RunDir.open(home, run_id)
        missing = sorted(s for s in needed if (run.read_status(s) or {}).get("status") != StepStatus.SUCCEEDED)
        if missing:
            raise RunError(f"run {run_id}: step {', '.join(missing)} did not succeed there; nothing to load")
        return run
    for folder in sorted((home / "runs").glob("*"), reverse=True):  # run ids sort by start time
        record_path = folder / "run.json"
        if not record_path.is_file():
            continue
        if json.loads(record_path.read_text()).get("pipeline") == spec.name and _succeeded(RunDir(folder), needed):
            return RunDir(folder)
    raise RunError(
        f"no run of '{spec.name}' in {home / 'runs'} has step {', '.join(sorted(needed))} "
        "finished; run the pipeline first"
    )


def load_step_values(
    home: Path,
    spec: PipelineSpec,
    step_name: str,
    namespace: dict[str, Any],
    *,
    run_id: str | None = None,
    inputs: bool = False,
) -> tuple[str, list[str]]:
    """Load a step's outputs (or, with `inputs`, what it reads: upstream values and its parameters) into
    `namespace`; returns the run id and the names loaded."""
    step = spec.step(step_name)
    needed = set(step.inputs.values()) if inputs else {step.name}
    run = find_run(home, spec, needed, run_id)
    if inputs:
        wanted = [(name, producer) for name, producer in step.inputs.items()]
    else:
        wanted = [(name, step.name) for name in step.outputs]
    loaded = []
    for name, producer in wanted:
        stored = run.stored_outputs(producer).get(name)
        if stored is None:
            raise RunError(f"run {run.run_id}: step '{producer}' has no stored '{name}'")
        namespace[name] = bind_to_namespace(load_value(stored, run.outputs_dir(producer)), namespace)
        loaded.append(name)
    if inputs:
        params = run.read_run().get("params", {})
        for name in step.params:
            if name in params:
                namespace[name] = params[name]
                loaded.append(name)
    return run.run_id, loaded
