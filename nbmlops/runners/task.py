"""What the orchestrator hands a backend (a StepTask) and gets back (a StepOutcome)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, Union

from nbmlops.errors import StepFailed
from nbmlops.pipeline.spec import PipelineSpec, Step
from nbmlops.runners.marshal import StoredValue

if TYPE_CHECKING:
    from concurrent.futures import Future


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
    # where the step ran, recorded in its status: {"node": Ray node id, "inputs_by_ref": names from Ray's store}
    placement: dict[str, Any] = field(default_factory=dict)


class Finished:
    """A step the backend ran inside submit() (the local backend): what the orchestrator reads of a Future,
    without importing concurrent.futures, and the logging it pulls in, on the fast path."""

    def __init__(self, outcome: StepOutcome | None = None, error: BaseException | None = None) -> None:
        self.outcome, self.error = outcome, error

    def done(self) -> bool:
        return True

    def result(self) -> StepOutcome:
        if self.error is not None:
            raise self.error
        assert self.outcome is not None
        return self.outcome


StepFuture = Union["Future[StepOutcome]", Finished]


class Executor(Protocol):
    """A backend: runs StepTasks, up to `capacity` at once. submit() may run the task before returning."""

    name: str
    capacity: int

    def submit(self, task: StepTask) -> StepFuture: ...

    def close(self) -> None: ...


class Reporter(Protocol):
    def step_started(self, step: str) -> None: ...
    def step_finished(self, step: str, status: str, seconds: float, detail: str = "") -> None: ...


class SilentReporter:
    def step_started(self, step: str) -> None:
        pass

    def step_finished(self, step: str, status: str, seconds: float, detail: str = "") -> None:
        pass
