"""Terminal output of runs: a line per step as it finishes (a spinner while it runs) and a summary."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

from nbmlops.pipeline.spec import PipelineSpec
from nbmlops.runners.local import RunResult

MARKS = {"succeeded": "[green]✓[/]", "reused": "[cyan]↺[/]", "failed": "[red]✗[/]", "interrupted": "[yellow]![/]"}


class RichReporter:
    def __init__(self, spec: PipelineSpec, verbose: bool = False) -> None:
        self.console = Console(stderr=True, highlight=False)
        self.total = len(spec.steps)
        self.done = 0
        self.status = None
        self.verbose = verbose
        self.width = max(len(s.name) for s in spec.steps)
        self.console.print(f"[bold]{spec.name}[/]: {self.total} steps")

    def step_started(self, step: str) -> None:
        if self.console.is_terminal and not self.verbose:
            self.status = self.console.status(f"[{self.done + 1}/{self.total}] {step} …")
            self.status.start()
        elif self.verbose:
            self.console.print(f"[{self.done + 1}/{self.total}] {step} …")

    def step_finished(self, step: str, status: str, seconds: float, detail: str = "") -> None:
        self.close()
        self.done += 1
        extra = f"  {detail}" if detail else ""
        self.console.print(f"{MARKS.get(status, '?')} [{self.done}/{self.total}] {step:<{self.width}}  "
                           f"{seconds:7.2f}s  {status}{extra}")

    def close(self) -> None:
        if self.status is not None:
            self.status.stop()
            self.status = None


def print_run_summary(result: RunResult) -> None:
    console = Console(stderr=True, highlight=False)
    table = Table(title=f"run {result.run_id}: {result.status}", title_justify="left")
    table.add_column("step")
    table.add_column("status")
    table.add_column("seconds", justify="right")
    table.add_column("outputs")
    for name, status in result.steps.items():
        outputs = ", ".join(status.get("outputs", {}) or {})
        state = status.get("status", "?") + (" (reused)" if status.get("reused_from") else "")
        table.add_row(name, state, f"{status.get('duration') or 0:.2f}", outputs)
    console.print(table)
    console.print(f"total {result.seconds:.2f}s · run folder {result.run_dir}")
