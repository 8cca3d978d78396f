"""Terminal output of commands: a line per step as it finishes and a summary. Plain writes, neither rich nor click:
`nbmlops run` must start fast, and either import alone costs a good part of a trivial step."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

from nbmlops.status import MARKS, StepStatus

if TYPE_CHECKING:  # `nbmlops compile` and `show` print through echo without importing the runners
    from nbmlops.pipeline.spec import PipelineSpec
    from nbmlops.runners.orchestrator import RunResult
    from nbmlops.runners.sweep import SweepResult


COLOURS = {"red": 31, "green": 32, "yellow": 33, "cyan": 36, "white": 37}


def echo(text: str, err: bool = False, nl: bool = True) -> None:
    """Write a line to stdout (or stderr) at once, as click.echo does."""
    stream = sys.stderr if err else sys.stdout
    stream.write(text + "\n" if nl else text)
    stream.flush()


def style(text: str, fg: str | None = None, bold: bool = False) -> str:
    """`text` in colour / bold where stderr, which the run lines go to, is a terminal (never in a log file)."""
    if not sys.stderr.isatty():
        return text
    codes = ([f"\x1b[{COLOURS[fg]}m"] if fg else []) + (["\x1b[1m"] if bold else [])
    return "".join(codes) + text + "\x1b[0m" if codes else text


class TerminalReporter:
    def __init__(self, spec: PipelineSpec, verbose: bool = False, point: dict[str, Any] | None = None) -> None:
        self.total = len(spec.steps)
        self.done = 0
        self.verbose = verbose
        # a sweep's children may run at once: their lines carry the point instead of redrawing one line
        self.prefix = " ".join(f"{k}={v}" for k, v in point.items()) + " " if point else ""
        self.live = sys.stderr.isatty() and not verbose and not point
        self.width = max(len(s.name) for s in spec.steps)
        if not point:
            echo(style(spec.name, bold=True) + f": {self.total} steps", err=True)

    def step_started(self, step: str) -> None:
        text = f"  [{self.done + 1}/{self.total}] {step} …"
        if self.live:
            echo(text + "\r", err=True, nl=False)
        elif self.verbose:
            echo(text, err=True)

    def step_finished(self, step: str, status: str, seconds: float, detail: str = "") -> None:
        if status != StepStatus.RETRYING:
            self.done += 1
        mark, colour = MARKS.get(status, ("?", "white"))
        extra = f"  {detail}" if detail else ""
        counter = f"[{self.done}/{self.total}]"
        line = f"{style(mark, fg=colour)} {counter:>7} {step:<{self.width}}  {seconds:7.2f}s  {status}"
        echo(("\x1b[2K" if self.live else "") + self.prefix + line + extra, err=True)

    def close(self) -> None:
        if self.live:
            echo("\x1b[2K", err=True, nl=False)


def print_run_summary(result: RunResult) -> None:
    rows = [("step", "status", "seconds", "outputs")]
    for name, record in result.steps.items():
        state = record.status + (f" (cached from {record.origin})" if record.origin else "")
        rows.append((name, state, f"{record.seconds:.2f}", ", ".join(record.outputs)))
    widths = [max(len(row[i]) for row in rows) for i in range(3)]
    echo(f"\nrun {result.run_id}: " + style(result.status, bold=True), err=True)
    for i, row in enumerate(rows):
        line = f"  {row[0]:<{widths[0]}}  {row[1]:<{widths[1]}}  {row[2]:>{widths[2]}}  {row[3]}"
        echo(style(line, bold=True) if i == 0 else line, err=True)
    echo(f"total {result.seconds:.2f}s · run folder {result.run_dir}", err=True)


def print_sweep_summary(result: SweepResult) -> None:
    echo(f"\nsweep {result.parent.run_id}: {len(result.children)} runs", err=True)
    names = list(result.points[0]) if result.points else []
    scores = result.scores or [None] * len(result.children)
    for child, point, score in zip(result.children, result.points, scores, strict=True):
        best = result.best is not None and child.run_id == result.best.run_id
        values = "  ".join(f"{n}={point[n]}" for n in names)
        shown = f"  {result.objective.split(':')[0]}={score:.4g}" if score is not None and result.objective else ""
        line = f"  {child.run_id}  {child.status:<9}  {values}{shown}" + ("  ← best" if best else "")
        echo(style(line, bold=True) if best else line, err=True)
