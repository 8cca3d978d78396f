"""Terminal output of runs: a line per step as it finishes and a summary. Plain click output, not rich:
`nbmlops run` must start fast, and rich's import alone costs a good part of a trivial step."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

import click

from nbmlops.pipeline.spec import PipelineSpec
from nbmlops.runners.orchestrator import RunResult

if TYPE_CHECKING:
    from nbmlops.runners.sweep import SweepResult

MARKS = {"succeeded": ("✓", "green"), "cached": ("↺", "cyan"), "reused": ("↺", "cyan"), "failed": ("✗", "red"),
         "interrupted": ("!", "yellow"), "retrying": ("↻", "yellow")}


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
            click.echo(click.style(spec.name, bold=True) + f": {self.total} steps", err=True)

    def step_started(self, step: str) -> None:
        text = f"  [{self.done + 1}/{self.total}] {step} …"
        if self.live:
            click.echo(text + "\r", err=True, nl=False)
        elif self.verbose:
            click.echo(text, err=True)

    def step_finished(self, step: str, status: str, seconds: float, detail: str = "") -> None:
        if status != "retrying":
            self.done += 1
        mark, colour = MARKS.get(status, ("?", "white"))
        extra = f"  {detail}" if detail else ""
        counter = f"[{self.done}/{self.total}]"
        line = f"{click.style(mark, fg=colour)} {counter:>7} {step:<{self.width}}  {seconds:7.2f}s  {status}"
        click.echo(("\x1b[2K" if self.live else "") + self.prefix + line + extra, err=True)

    def close(self) -> None:
        if self.live:
            click.echo("\x1b[2K", err=True, nl=False)


def print_run_summary(result: RunResult) -> None:
    rows = [("step", "status", "seconds", "outputs")]
    for name, status in result.steps.items():
        origin = status.get("cached_from") or status.get("reused_from")
        state = status.get("status", "?") + (f" (cached from {origin})" if origin else "")
        rows.append((name, state, f"{status.get('duration') or 0:.2f}", ", ".join(status.get("outputs") or {})))
    widths = [max(len(row[i]) for row in rows) for i in range(3)]
    click.echo(f"\nrun {result.run_id}: " + click.style(result.status, bold=True), err=True)
    for i, row in enumerate(rows):
        line = f"  {row[0]:<{widths[0]}}  {row[1]:<{widths[1]}}  {row[2]:>{widths[2]}}  {row[3]}"
        click.echo(click.style(line, bold=True) if i == 0 else line, err=True)
    click.echo(f"total {result.seconds:.2f}s · run folder {result.run_dir}", err=True)


def print_sweep_summary(result: SweepResult) -> None:
    click.echo(f"\nsweep {result.parent.run_id}: {len(result.children)} runs", err=True)
    names = list(result.points[0]) if result.points else []
    scores = result.scores or [None] * len(result.children)
    for child, point, score in zip(result.children, result.points, scores, strict=True):
        best = result.best is not None and child.run_id == result.best.run_id
        values = "  ".join(f"{n}={point[n]}" for n in names)
        shown = f"  {result.objective.split(':')[0]}={score:.4g}" if score is not None and result.objective else ""
        line = f"  {child.run_id}  {child.status:<9}  {values}{shown}" + ("  ← best" if best else "")
        click.echo(click.style(line, bold=True) if best else line, err=True)
