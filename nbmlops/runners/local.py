"""The local backend: a step runs in this process, in a fresh namespace holding the setup code's names, the
parameters and exactly its inputs; its outputs are marshalled into the run folder. The fastest loop."""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from nbmlops.errors import StepFailed, cell_label
from nbmlops.pipeline.spec import PipelineSpec, Step
from nbmlops.runners.execution import (
    Tee,
    format_user_traceback,
    fresh_namespace,
    locate_error,
    run_setup,
    run_step_cells,
    unsaveable_failure,
    with_path,
    write_executed_notebook,
)
from nbmlops.runners.headless_shell import OutputLog, kernel_or_none, needs_kernel
from nbmlops.runners.marshal import MarshalError, StoredValue, bind_to_namespace, load_value, save_value
from nbmlops.runners.task import Finished, StepOutcome, StepTask


class LocalExecutor:
    name = "local"
    capacity = 1  # in-process steps share sys.stdout and the working directory: one at a time

    def submit(self, task: StepTask) -> Finished:
        from nbmlops.tracking import attach, get_store

        try:
            with attach(task.run_id, task.name, store=get_store(task.home)):
                return Finished(execute_in_process(task)[0])
        except BaseException as exc:  # KeyboardInterrupt must reach the orchestrator through result()
            return Finished(error=exc)

    def close(self) -> None:
        pass


def execute_in_process(task: StepTask, values: dict[str, Any] | None = None) -> tuple[StepOutcome, dict[str, Any]]:
    """Run the step's setup and cells in a fresh namespace; a StepFailed in the outcome on any error.
    `values` are inputs already in memory (Ray's object store): they replace reading those inputs' files.
    A step that needs a kernel (headless_shell.needs_kernel) runs in the headless IPython shell and leaves its
    executed notebook, outputs and figures included, in its folder. Returns the outcome and the namespace the
    step left."""
    values = values or {}
    namespace = fresh_namespace()
    task.step_dir.mkdir(parents=True, exist_ok=True)
    task.workdir.mkdir(parents=True, exist_ok=True)  # a cluster node may not have the notebook's folder
    on_files = {name: given for name, given in task.inputs.items() if name not in values}
    log = _output_log(task)
    artifacts = {}
    with (
        open(task.step_dir / "stdout.txt", "w") as out,
        open(task.step_dir / "stderr.txt", "w") as err,
        working_directory(task.workdir),
        process_state(),
        contextlib.redirect_stdout(Tee(out, sys.__stdout__ if task.echo else None, log, "stdout")),
        contextlib.redirect_stderr(Tee(err, sys.__stderr__ if task.echo else None, log, "stderr")),
        kernel_or_none(namespace, log) as kernel,
    ):
        try:
            run_setup(task.spec, namespace, task.params, kernel)
            namespace.update(load_inputs(on_files, namespace, values))
            run_step_cells(task.spec, task.step, namespace, kernel)
        except KeyboardInterrupt:
            raise
        except MarshalError as exc:
            return StepOutcome(
                error=StepFailed(
                    f"step '{task.name}': {exc}", step=task.name, cell=None, line=None, traceback_text=str(exc)
                )
            ), namespace
        except BaseException as exc:  # noqa: BLE001 - the user's code may raise anything, SystemExit too
            text = format_user_traceback(task.spec, task.step, exc)
            err.write(text)
            if log is not None:
                log.error(exc, text)
                artifacts["notebook"] = str(write_executed_notebook(task, log))
            return StepOutcome(error=step_failure(task.spec, task.step, exc, text), artifacts=artifacts), namespace
    if log is not None:
        artifacts["notebook"] = str(write_executed_notebook(task, log))
    outcome = save_outputs(task, namespace)
    outcome.artifacts.update(artifacts)
    return outcome, namespace


def _output_log(task: StepTask) -> OutputLog | None:
    """An OutputLog when the step needs a kernel (its setup cells count: they run in every step)."""
    if not needs_kernel([*task.spec.setup, *task.step.cells]):
        return None
    return OutputLog()


@contextlib.contextmanager
def process_state() -> Iterator[None]:
    """What a step may change in the process beyond its namespace (`%env`, `os.environ[...]`, `%cd`, sys.path)
    is put back after it, as a fresh kernel per step would have it: steps don't leak into each other."""
    environ, path = dict(os.environ), list(sys.path)
    try:
        yield
    finally:
        if os.environ != environ:
            os.environ.clear()
            os.environ.update(environ)
        sys.path[:] = path


def load_inputs(
    inputs: dict[str, tuple[StoredValue, Path]], namespace: dict[str, Any], values: dict[str, Any] | None = None
) -> dict[str, Any]:
    loaded = {name: load_value(stored, folder) for name, (stored, folder) in inputs.items()}
    loaded.update(values or {})
    # bind only once all are loaded: unpickling an instance re-sets its class's methods
    return {name: bind_to_namespace(value, namespace) for name, value in loaded.items()}


def step_failure(spec: PipelineSpec, step: Step, exc: BaseException, traceback_text: str) -> StepFailed:
    """A StepFailed naming the step, the notebook cell and the line in it, with the original traceback."""
    cell, line = locate_error(spec, step, exc.__traceback__)
    where = f"step '{step.name}' failed"
    if cell is not None:
        where += f" in {cell_label(cell)}"
        source = next((c.code for c in [*spec.setup, *step.cells] if c.index == cell), "")
        lines = source.splitlines()
        if line and 0 < line <= len(lines):
            where += f", line {line}: {lines[line - 1].strip()}"
    return StepFailed(
        f"{where}\n{type(exc).__name__}: {exc}", step=step.name, cell=cell, line=line, traceback_text=traceback_text
    )


def save_outputs(task: StepTask, namespace: dict[str, Any]) -> StepOutcome:
    """Marshal the step's outputs by type; a missing or unsaveable output fails the step clearly."""
    saved = {}
    for name in task.step.outputs:
        if name not in namespace:
            readers = [s.name for s in task.spec.steps if s.inputs.get(name) == task.name]
            return StepOutcome(
                error=StepFailed(
                    f"step '{task.name}' did not define '{name}', which {', '.join(readers)} reads (was it assigned "
                    "only in a branch that didn't run?)",
                    step=task.name,
                    cell=None,
                    line=None,
                    traceback_text="",
                )
            )
        try:
            saved[name] = save_value(name, namespace[name], task.outputs_dir)
        except MarshalError as exc:
            return StepOutcome(error=unsaveable_failure(task.spec, task.step, name, str(exc)))
    return StepOutcome(outputs=saved)


@contextlib.contextmanager
def working_directory(path: Path) -> Iterator[None]:
    """Steps run where the notebook lives, as a kernel started by Jupyter does."""
    previous = Path.cwd()
    with_path(path)
    os.chdir(path)
    try:
        yield
    finally:
        os.chdir(previous)
