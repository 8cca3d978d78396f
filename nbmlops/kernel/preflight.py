"""Pre-flight check of a notebook against the live kernel, before anything is submitted.

`check_notebook` works without IPython: give it the notebook, the kernel's namespace (any mapping) and, when
known, the kernel's input history and a `KernelRecord` of what the `%%step` magics saw. It returns findings;
`format_report` turns them into the short report `%pipeline check` prints.

What it looks for:
  marshal   a value that crosses a step boundary and can't be saved the way the runner will save it
  missing   a cross-step value a step should have defined in this kernel but didn't
  kernel    a name a pipeline cell reads that only the kernel has (a deleted cell, exec, %run, ...)
  install   `!pip install` / `%pip` / `%conda` lines: the pipeline would reinstall on every run
  path      absolute paths (/home/..., /Users/..., C:\\...) that won't exist on another machine
  order     cells run out of order, so the kernel's state is not what a top-to-bottom run makes
  notebook  the notebook doesn't compile
  magic     `%pipeline` lines inside a step: the pipeline would run them too
"""

from __future__ import annotations

import ast
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nbmlops.errors import NbmlopsError, cell_label
from nbmlops.notebook import Mutate, Notebook, Read, StarImport, Write, cell_events, read_notebook
from nbmlops.notebook.dataflow import KERNEL_NAMES
from nbmlops.pipeline import PipelineSpec
from nbmlops.pipeline.checks import NOTE, PROBLEM, CellInfo, Finding, check_static
from nbmlops.runners.marshal import MarshalError, save_value, type_name


@dataclass
class KernelRecord:
    """What the magics saw in this kernel: who last bound each name, and bindings the analysis can't see."""

    producers: dict[str, str] = field(default_factory=dict)  # name -> step, "setup" or "skip"
    unseen: dict[str, tuple[str, str]] = field(default_factory=dict)  # name -> (step, first line of the cell)
    steps_run: set[str] = field(default_factory=set)


@dataclass
class PreflightReport:
    notebook: str
    findings: list[Finding] = field(default_factory=list)
    steps: int = 0
    crossing: int = 0  # values that cross a step boundary
    marshalled: int = 0  # of those, how many were in the kernel and saved fine

    @property
    def problems(self) -> list[Finding]:
        return [f for f in self.findings if f.severity == PROBLEM]

    @property
    def notes(self) -> list[Finding]:
        return [f for f in self.findings if f.severity == NOTE]

    @property
    def ready(self) -> bool:
        return not self.problems


# --- the cells, as the pipeline sees them ------------------------------------------------------------------


def _outside_reads(tree: ast.Module) -> list[tuple[str, int]]:
    """Names the cell reads before binding them itself: what it needs from elsewhere."""
    bound: set[str] = set()
    reads: dict[str, int] = {}
    for event in cell_events(tree):
        if isinstance(event, Read | Mutate) and event.name not in bound:
            reads.setdefault(event.name, event.line)
        elif isinstance(event, Write):
            bound.add(event.name)
    return list(reads.items())


def _bindings(tree: ast.Module) -> set[str]:
    names = set()
    for event in cell_events(tree):
        if isinstance(event, Write):
            names.add(event.name)
            names.update(event.deferred_writes)  # `global x` inside a function defined here
    return names


# --- the checks ---------------------------------------------------------------------------------------------


def check_notebook(
    notebook: str | Path | Notebook,
    namespace: Mapping[str, Any],
    *,
    history: Sequence[str] | None = None,
    record: KernelRecord | None = None,
) -> PreflightReport:
    """Check a saved notebook against a live namespace. `history` is the kernel's raw input history
    (index = execution count, as IPython's `In`); `record` what the magics saw in this kernel."""
    nb = notebook if isinstance(notebook, Notebook) else read_notebook(notebook)
    record = record or KernelRecord()
    report = PreflightReport(nb.path)
    static = check_static(nb)
    infos, spec, compile_error = static.infos, static.spec, static.error
    ran = set(record.steps_run) | _steps_in_history(infos, history)
    kernel_findings = _kernel_only_names(infos, namespace, record)
    explained = compile_error is not None and _explained(compile_error, kernel_findings)
    report.findings.extend(f for f in static.findings if not (explained and f.kind == "notebook"))
    if spec is not None:
        report.steps = len(spec.steps)
        _check_crossing(spec, infos, namespace, ran, report)
    report.findings.extend(kernel_findings)
    report.findings.extend(_order(infos, history))
    return report


def _explained(error: NbmlopsError, findings: list[Finding]) -> bool:
    """A compile error about a name the kernel-only check already explains better is left out."""
    cell = getattr(error, "cell", None)
    return any(f.cell == cell and f.name and f"'{f.name}'" in str(error) for f in findings)


def _check_crossing(
    spec: PipelineSpec, infos: list[CellInfo], namespace: Mapping[str, Any], ran: set[str], report: PreflightReport
) -> None:
    """Try to marshal each value that crosses a step boundary, as the runner will."""
    consumers: dict[tuple[str, str], list[str]] = {}
    for step in spec.steps:
        for name, producer in step.inputs.items():
            consumers.setdefault((name, producer), []).append(step.name)
    report.crossing = len(consumers)
    with tempfile.TemporaryDirectory(prefix="nbmlops-check-") as tmp:
        for (name, producer), readers in consumers.items():
            cell, first = _defining_cell(infos, producer, name)
            to = ", ".join(readers)
            if name not in namespace:
                if producer in ran:
                    report.findings.append(
                        Finding(
                            "missing",
                            f"step '{producer}' ran in this kernel but '{name}' is not defined, and "
                            f"{to} reads it (assigned only in a branch that didn't run, or deleted?)",
                            cell,
                            first,
                            producer,
                            name,
                        )
                    )
                else:
                    report.findings.append(
                        Finding(
                            "missing",
                            f"'{name}' ({producer} → {to}) is not in the kernel yet: run step "
                            f"'{producer}' to check it can be passed on",
                            cell,
                            first,
                            producer,
                            name,
                            NOTE,
                        )
                    )
                continue
            value = namespace[name]
            try:
                save_value(name, value, Path(tmp) / producer)
            except MarshalError as exc:
                report.findings.append(
                    Finding(
                        "marshal",
                        f"step '{producer}' hands '{name}' ({type_name(value)}) to {to}, but it can't be "
                        f"saved: {str(exc).split(': ', 1)[-1]}",
                        cell,
                        first,
                        producer,
                        name,
                    )
                )
            else:
                report.marshalled += 1


def _defining_cell(infos: list[CellInfo], step: str, name: str) -> tuple[int | None, str]:
    """The last cell of `step` that binds or changes `name` (the one to look at when it can't be saved)."""
    found: tuple[int | None, str] = (None, "")
    for info in infos:
        if info.step != step or info.tree is None:
            continue
        if found[0] is None:
            found = (info.cell.index, info.cell.first_line)
        events = cell_events(info.tree)
        if any(isinstance(e, Write | Mutate) and e.name == name for e in events):
            found = (info.cell.index, info.cell.first_line)
    return found


def _kernel_only_names(infos: list[CellInfo], namespace: Mapping[str, Any], record: KernelRecord) -> list[Finding]:
    """Names pipeline cells read that no pipeline cell binds, but the kernel has: the run will fail on them."""
    if any(isinstance(e, StarImport) for i in infos if i.tree is not None for e in cell_events(i.tree)):
        return []  # `import *` brings names the analysis can't list
    pipeline = [i for i in infos if i.kind != "skip" and i.tree is not None]
    bound = set().union(*(_bindings(i.tree) for i in pipeline)) if pipeline else set()
    skip_binders = {name: i for i in infos if i.kind == "skip" and i.tree is not None for name in _bindings(i.tree)}
    findings: list[Finding] = []
    reported: set[str] = set()
    for info in pipeline:
        for name, _line in _outside_reads(info.tree):
            if name in bound or name in KERNEL_NAMES or name in reported or name not in namespace:
                continue
            reported.add(name)
            who = f"step '{info.step}'" if info.step else info.kind
            if name in record.unseen:
                step, first = record.unseen[name]
                why = (
                    f"the kernel got it from `{first}` ({step}) in a way the analysis can't see (exec, "
                    "globals(), %run, %store); assign it plainly in a cell"
                )
            elif name in skip_binders:
                skip = skip_binders[name].cell
                why = (
                    f"only skip {cell_label(skip.index)} `{skip.first_line}` defines it, and the pipeline leaves it out"
                )
            else:
                why = "no cell of the saved notebook defines it (a deleted or unsaved cell, or set out of band)"
            findings.append(
                Finding(
                    "kernel",
                    f"{who} reads '{name}', which exists in the kernel but {why}",
                    info.cell.index,
                    info.cell.first_line,
                    info.step,
                    name,
                )
            )
    return findings


def _history_counts(infos: list[CellInfo], history: Sequence[str] | None) -> dict[int, int]:
    """cell index -> the last execution count at which exactly this cell's source ran in the kernel."""
    if not history:
        return {}
    last_run: dict[str, int] = {}
    for count, source in enumerate(history):
        if isinstance(source, str) and source.strip():
            last_run[source.strip()] = count
    return {i.cell.index: last_run[i.cell.source.strip()] for i in infos if i.cell.source.strip() in last_run}


def _steps_in_history(infos: list[CellInfo], history: Sequence[str] | None) -> set[str]:
    counts = _history_counts(infos, history)
    return {i.step for i in infos if i.step and i.cell.index in counts}


def _order(infos: list[CellInfo], history: Sequence[str] | None) -> list[Finding]:
    """A pipeline cell that last ran before a cell above it: the kernel's state is not a top-to-bottom run's."""
    counts = _history_counts(infos, history)
    source = "in this kernel"
    if not counts:  # nothing of this notebook ran in this kernel: judge the saved execution counts
        counts = {i.cell.index: i.cell.execution_count for i in infos if i.cell.execution_count is not None}
        source = "by the saved execution counts"
    findings = []
    latest: tuple[int, CellInfo] | None = None  # highest count so far, and its cell
    for info in infos:
        count = counts.get(info.cell.index)
        if info.kind == "skip" or count is None:
            continue
        if latest is not None and count < latest[0]:
            above = latest[1].cell
            findings.append(
                Finding(
                    "order",
                    f"ran out of order {source}: [{count}] ran before "
                    f"{cell_label(above.index)} `{above.first_line}` above it "
                    f"([{latest[0]}]); re-run from the top so the kernel matches what "
                    "the pipeline does",
                    info.cell.index,
                    info.cell.first_line,
                    info.step,
                )
            )
        elif latest is None or count > latest[0]:
            latest = (count, info)
    return findings


# --- the report ---------------------------------------------------------------------------------------------

MARKS = {PROBLEM: "✗", NOTE: "·"}


def format_report(report: PreflightReport) -> str:
    lines = [
        f"pipeline check · {Path(report.notebook).name} · {report.steps} steps · {report.crossing} values "
        f"cross step boundaries, {report.marshalled} marshal"
    ]
    for finding in sorted(report.findings, key=lambda f: (f.severity != PROBLEM, f.cell if f.cell is not None else -1)):
        where = finding.where()
        lines.append(f"{MARKS[finding.severity]} {where + ': ' if where else ''}{finding.message}")
    problems, notes = len(report.problems), len(report.notes)
    tail = f" ({notes} note{'s' if notes != 1 else ''})" if notes else ""
    if report.ready:
        lines.append(f"ready: no problems found{tail}")
    else:
        lines.append(f"{problems} problem{'s' if problems != 1 else ''}{tail}: fix before running the pipeline")
    return "\n".join(lines)
