"""Errors a user can cause. The CLI prints their message (no traceback) and exits 2."""

from __future__ import annotations


def cell_label(index: int) -> str:
    """How a message names the cell at 0-based `index`: JupyterLab's 1-based number ("cell 15" for index 14),
    as JupyterLab's status bar shows it. The index itself stays 0-based wherever code or the API holds it."""
    return f"cell {index + 1}"


class NbmlopsError(Exception):
    """Base of every error caused by user input: the message says what went wrong and where."""


class NotebookError(NbmlopsError):
    """A notebook that can't be read, or whose cells break the step grammar or dataflow rules. `cell` is the
    0-based index; the message names it 1-based, as JupyterLab does."""

    def __init__(
        self, message: str, *, path: str | None = None, cell: int | None = None, first_line: str | None = None
    ) -> None:
        self.path = path
        self.cell = cell
        self.first_line = first_line
        self.reason = message  # without the place, for reports that name the place themselves
        where = []
        if path:
            where.append(str(path))
        if cell is not None:
            snippet = f" `{first_line}`" if first_line else ""
            where.append(f"{cell_label(cell)}{snippet}")
        super().__init__(f"{', '.join(where)}: {message}" if where else message)


class ParameterError(NbmlopsError):
    """An unknown pipeline parameter, or a value that doesn't parse to the parameter's type."""


class SpecError(NbmlopsError):
    """A pipeline.json that is not a valid PipelineSpec."""


class RunError(NbmlopsError):
    """A run that can't start or be resumed (unknown run id, missing outputs)."""


class StepFailed(NbmlopsError):
    """A step raised: the message names the step, the notebook cell, the line and the original traceback."""

    def __init__(
        self,
        message: str,
        *,
        step: str,
        cell: int | None,
        line: int | None,
        traceback_text: str,
        run_id: str | None = None,
    ) -> None:
        self.step = step
        self.cell = cell
        self.line = line
        self.traceback_text = traceback_text
        self.run_id = run_id
        super().__init__(message)
