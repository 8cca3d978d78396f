"""What the orchestrator hands a backend (a StepTask) and gets back (a StepOutcome)."""

from __future__ import annotations

from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from nbmlops.errors import StepFailed
from nbmlops.pipeline.spec import PipelineSpec, Step
from nbmlops.runners.marshal import StoredValue


@dataclass
class StepTask:
    """One execution of one step: its code (in the spec), parameter values, where its inputs are stored and
    where its outputs, logs and any artifacts go."""

    spec: PipelineSpec
    step: Step
    params: dict[str, Any]
    inputs: dict[str, tuple[StoredValue, Path]]  # variable -> (stored value, folder holding its file)
    step_dir: Path  # logs (stdout.txt, stderr.txt) and backend artifacts
    outputs_dir: Path
    workdir: Path  # where the notebook lives: steps run there, as under Jupyter
    run_id: str
    home: Path  # the project home: backends attach the step's logging to the run in its store
    attempt: int = 1
    echo: bool = False  # also show the step's own output in the terminal

    @property
    def name(self) -> str:
        return self.step.name


@dataclass
class StepOutcome:
    outputs: dict[str, StoredValue] = field(default_factory=dict)
    error: StepFailed | None = None
    artifacts: dict[str, str] = field(default_factory=dict)  # e.g. {"notebook": path of the executed notebook}


class Executor(Protocol):
    """A backend: runs StepTasks, up to `capacity` at once. submit() may run the task before returning."""

    name: str
    capacity: int

    def submit(self, task: StepTask) -> Future[StepOutcome]: ...

    def close(self) -> None: ...


class Reporter(Protocol):
    def step_started(self, step: str) -> None: ...
    def step_finished(self, step: str, status: str, seconds: float, detail: str = "") -> None: ...


class SilentReporter:
    def step_started(self, step: str) -> None:
        pass

    def step_finished(self, step: str, status: str, seconds: float, detail: str = "") -> None:
        pass
