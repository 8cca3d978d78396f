"""Executing a step's code in a fresh namespace, with tracebacks that point at notebook cells."""

from __future__ import annotations

import builtins
import linecache
import sys
from functools import lru_cache
from pathlib import Path
from types import TracebackType
from typing import Any

from nbmlops.errors import StepFailed, cell_label
from nbmlops.pipeline.spec import CellCode, PipelineSpec, Step


def cell_filename(spec: PipelineSpec, cell: CellCode) -> str:
    return f"{Path(spec.notebook_path).name}, {cell_label(cell.index)}"  # 1-based, as JupyterLab shows cells


def compile_cell(spec: PipelineSpec, cell: CellCode) -> Any:
    """Compile a cell under a filename naming it, and register its lines so tracebacks show them."""
    filename = cell_filename(spec, cell)
    lines = cell.code.splitlines(keepends=True)
    linecache.cache[filename] = (len(cell.code), None, lines, filename)
    return _compiled(cell.code, filename)


@lru_cache(maxsize=1024)
def _compiled(code: str, filename: str) -> Any:
    # every step of a run executes the setup cells again: compile them once per process
    return compile(code, filename, "exec")


def _display(*objs: Any, **_kwargs: Any) -> None:
    """`display()` outside a kernel: print what a notebook would show."""
    for obj in objs:
        print(repr(obj))


def _get_ipython() -> Any:
    """IPython syntax in a step (`!cmd`, `%magic`) runs through an IPython shell, made on first use."""
    from IPython import get_ipython
    from IPython.core.interactiveshell import InteractiveShell

    return get_ipython() or InteractiveShell.instance()


def fresh_namespace() -> dict[str, Any]:
    return {"__name__": "__main__", "__builtins__": builtins, "display": _display, "get_ipython": _get_ipython}


def run_setup(spec: PipelineSpec, namespace: dict[str, Any], params: dict[str, Any], kernel: Any = None) -> None:
    """Setup and parameters cells in notebook order; parameter values replace the defaults right after
    the cell that defines them, as papermill's injected cell does. `kernel`: a headless_shell session to run
    the cells in (else plain `exec`)."""
    by_cell: dict[int, list[str]] = {}
    for parameter in spec.parameters:
        by_cell.setdefault(parameter.cell, []).append(parameter.name)
    for cell in spec.setup:
        run_cell(spec, cell, namespace, kernel)
        for name in by_cell.get(cell.index, []):
            namespace[name] = params[name]


def run_step_cells(spec: PipelineSpec, step: Step, namespace: dict[str, Any], kernel: Any = None) -> None:
    for cell in step.cells:
        run_cell(spec, cell, namespace, kernel)


def run_cell(spec: PipelineSpec, cell: CellCode, namespace: dict[str, Any], kernel: Any = None) -> None:
    code = compile_cell(spec, cell)
    if kernel is None:
        exec(code, namespace)  # noqa: S102 - running the user's notebook is the job
        return
    from nbmlops.notebook.ipython_syntax import kernel_code
    from nbmlops.runners.headless_shell import run_in_kernel

    run_in_kernel(kernel, kernel_code(cell.source), cell.index, cell_filename(spec, cell))


def binding_cell(step: Step, name: str) -> int | None:
    """The last cell of the step that binds `name` at its top level (where an output comes from)."""
    import ast

    found = None
    for cell in step.cells:
        try:
            tree = ast.parse(cell.code)
        except SyntaxError:
            continue
        if any(
            isinstance(node, ast.Name) and node.id == name and isinstance(node.ctx, ast.Store)
            for node in ast.walk(tree)
        ):
            found = cell.index
    return found


def unsaveable_failure(spec: PipelineSpec, step: Step, name: str, message: str, note: str = "") -> StepFailed:
    """A step's output that can't be saved: which cell made it and which steps read it, with the fix."""
    cell = binding_cell(step, name)
    readers = [s.name for s in spec.steps if s.inputs.get(name) == step.name]
    where = f"step '{step.name}'" + (f", {cell_label(cell)}" if cell is not None else "")
    text = f"{where}: {message}" + (f" (read by {', '.join(readers)})" if readers else "")
    return StepFailed(text + note, step=step.name, cell=cell, line=None, traceback_text=message)


def locate_error(spec: PipelineSpec, step: Step, tb: TracebackType | None) -> tuple[int | None, int | None]:
    """The (cell index, line) of the deepest frame that is notebook code of this step or its setup."""
    import traceback  # only a failed step needs it (and its imports)

    names = {cell_filename(spec, c): c.index for c in [*spec.setup, *step.cells]}
    found: tuple[int | None, int | None] = (None, None)
    for frame, line in traceback.walk_tb(tb):
        index = names.get(frame.f_code.co_filename)
        if index is not None:
            found = (index, line)
    return found


def format_user_traceback(spec: PipelineSpec, step: Step, exc: BaseException) -> str:
    """The traceback from the first notebook frame on: nbmlops's own frames are not the user's concern."""
    import traceback

    names = {cell_filename(spec, c) for c in [*spec.setup, *step.cells]}
    tb = exc.__traceback__
    while tb is not None and tb.tb_frame.f_code.co_filename not in names:
        tb = tb.tb_next
    return "".join(traceback.format_exception(type(exc), exc, tb or exc.__traceback__))


class Tee:
    """Writes to a log file and, when asked, to the terminal and to a kernel step's cell outputs too."""

    def __init__(self, log: Any, echo: Any | None, outputs: Any = None, stream: str = "stdout") -> None:
        self.log = log
        self.echo = echo
        self.outputs, self.stream = outputs, stream

    def write(self, text: str) -> int:
        self.log.write(text)
        if self.echo is not None:
            self.echo.write(text)
        if self.outputs is not None:
            self.outputs.stream(self.stream, text)
        return len(text)

    def flush(self) -> None:
        self.log.flush()
        if self.echo is not None:
            self.echo.flush()

    def isatty(self) -> bool:
        return False

    @property
    def encoding(self) -> str:
        return "utf-8"


def write_executed_notebook(task: Any, log: Any) -> Path:
    """The step as a notebook, each cell with the outputs it showed (what papermill keeps for its steps):
    `<step>.ipynb` in the step's folder (`.attemptN` for retries)."""
    import json

    cells = []
    for cell in [*task.spec.setup, *task.step.cells]:
        count = log.counts.get(cell.index)
        cells.append(
            {
                "cell_type": "code",
                "execution_count": count,
                "id": f"cell-{cell.index}",
                "metadata": {"nbmlops": {"kind": cell.kind, "cell": cell.index}},
                "outputs": log.cells.get(cell.index, []),
                "source": cell.source,
            }
        )
    notebook = {
        "cells": cells,
        "metadata": {
            "kernelspec": {
                "name": task.spec.kernel_name or "python3",
                "display_name": "Python 3",
                "language": "python",
            },
            "language_info": {"name": "python"},
            "nbmlops": {"run_id": task.run_id, "step": task.name},
        },
        "nbformat": 4,
        "nbformat_minor": 5,
    }
    suffix = "" if task.attempt == 1 else f".attempt{task.attempt}"
    path = task.step_dir / f"{task.name}{suffix}.ipynb"
    path.write_text(json.dumps(notebook, indent=1, default=str) + "\n")
    return path


def with_path(directory: Path) -> None:
    """Local modules next to the notebook import as they do in Jupyter."""
    entry = str(directory)
    if entry not in sys.path:
        sys.path.insert(0, entry)
