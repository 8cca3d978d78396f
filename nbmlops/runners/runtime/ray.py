"""The runtime a module compiled by the `ray` target calls (nbmlops.pipeline.targets.ray writes it): start the
run, run one step as a Ray task from its cells, collect and save the outputs, finish the run."""

from __future__ import annotations

import contextlib
import pickle
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nbmlops.pipeline.spec import CellCode, Parameter, PipelineSpec, Step
from nbmlops.status import StepStatus


@dataclass
class Cell:
    """A notebook cell as the compiled module holds it; `parameters` are the names a parameters cell sets."""

    index: int
    code: str
    parameters: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.code = self.code.removeprefix("\n")  # the literal opens on its own line; line numbers stay the cell's


class StepError(RuntimeError):
    """A step's code raised: the message names the step, the notebook cell and line, and has the traceback."""


@dataclass
class _Packed:
    """A value in the object store, pickled in-band: the reader gets writable arrays (not Ray's read-only
    zero-copy views), as a notebook would; a module travels by name."""

    data: bytes | None = None
    module: str | None = None


def _pack(value: Any) -> _Packed:
    import types

    import cloudpickle

    if isinstance(value, types.ModuleType):
        return _Packed(module=value.__name__)
    return _Packed(data=cloudpickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL))


def _unpack(packed: Any) -> Any:
    if not isinstance(packed, _Packed):
        return packed
    if packed.module is not None:
        import importlib

        return importlib.import_module(packed.module)
    return pickle.loads(packed.data or b"")


def as_bool(text: str) -> bool:
    return _parse(text, "bool")


def as_literal(text: str) -> Any:
    return _parse(text, "")


def _parse(text: str, kind: str) -> Any:
    import argparse

    from nbmlops.errors import ParameterError
    from nbmlops.pipeline.params import parse_value

    try:
        return parse_value(Parameter("value", None, kind, -1), text)
    except ParameterError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def start(
    pipeline: str,
    notebook: str,
    params: dict[str, Any],
    *,
    address: str | None = None,
    num_cpus: int | None = None,
    workdir: str | Path | None = None,
    track: bool = True,
) -> dict[str, Any]:
    """Connect to Ray and (with `track`) start a run in the nbmlops store; the context every step gets."""
    import ray

    from nbmlops.runners.ray_backend import init_ray

    folder = Path(workdir or Path.cwd()).resolve()
    folder = folder.parent if folder.is_file() else folder
    if not ray.is_initialized():
        init_ray(address, num_cpus=num_cpus)
    ctx: dict[str, Any] = {"pipeline": pipeline, "params": params, "workdir": str(folder), "run_id": None, "home": None}
    if track:
        from nbmlops.store.home import project_home
        from nbmlops.tracking import start_run

        home = project_home(folder)
        run = start_run(
            pipeline,
            params=params,
            kind="pipeline",
            pipeline=pipeline,
            backend="ray",
            notebook_path=str(folder / notebook),
            tags={"compiled": "ray"},
            home=home,
        )
        ctx.update(run_id=run.id, home=str(home), _run=run)
    return ctx


@contextlib.contextmanager
def finish(ctx: dict[str, Any]) -> Iterator[None]:
    """End the tracked run with the pipeline's status; a step's error is shown as the user's, without Ray's."""
    import ray

    run = ctx.pop("_run", None)
    try:
        yield
    except ray.exceptions.RayTaskError as exc:
        cause = getattr(exc, "cause", None) or exc
        if run is not None:
            run.end(StepStatus.FAILED, str(cause))
        if isinstance(cause, StepError):
            print(f"error: {cause}", file=sys.stderr)
            raise SystemExit(1) from None
        raise
    except BaseException as exc:
        if run is not None:
            status = StepStatus.INTERRUPTED if isinstance(exc, KeyboardInterrupt) else StepStatus.FAILED
            run.end(status, str(exc) or type(exc).__name__)
        raise
    if run is not None:
        run.end(StepStatus.SUCCEEDED)


def run_step(
    notebook: str,
    name: str,
    setup: list[Cell],
    ctx: dict[str, Any],
    inputs: dict[str, Any],
    outputs: list[str],
    cells: list[Cell],
) -> Any:
    """Run one step as a notebook would: setup and parameters cells, then the step's cells, in a fresh
    namespace holding exactly its inputs; its outputs come back (one value, a tuple, or None)."""
    from nbmlops.runners.execution import fresh_namespace, run_setup, run_step_cells
    from nbmlops.runners.headless_shell import OutputLog, kernel_or_none, needs_kernel
    from nbmlops.runners.local import process_state, working_directory
    from nbmlops.runners.marshal import bind_to_namespace

    spec, step = _as_spec(notebook, name, setup, cells)
    namespace = fresh_namespace()
    values = {key: _unpack(value) for key, value in inputs.items()}
    log = OutputLog() if needs_kernel([*spec.setup, *step.cells]) else None  # magics, display: as in a kernel
    with (
        working_directory(Path(ctx["workdir"])),
        process_state(),
        _attached(ctx, name),
        kernel_or_none(namespace, log) as kernel,
    ):
        try:
            run_setup(spec, namespace, ctx["params"], kernel)
            namespace.update({key: bind_to_namespace(value, namespace) for key, value in values.items()})
            run_step_cells(spec, step, namespace, kernel)
        except Exception as exc:
            raise _step_error(spec, step, exc) from None
    missing = [output for output in outputs if output not in namespace]
    if missing:
        raise StepError(f"step '{name}' did not define {', '.join(missing)}, which later steps read")
    packed = [_pack(namespace[output]) for output in outputs]
    return None if not packed else packed[0] if len(packed) == 1 else tuple(packed)


def collect(refs: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Wait for the object refs (by step, by name) and return their values."""
    import ray

    flat = [ref for made in refs.values() for ref in made.values()]
    found = iter(ray.get(flat))
    return {step: {name: _unpack(next(found)) for name in made} for step, made in refs.items()}


def save_outputs(values: dict[str, dict[str, Any]], directory: str | Path) -> dict[str, dict[str, str]]:
    """Marshal every value as the nbmlops runners do (DIR/STEP/NAME.ext); the sha256 of each, by step."""
    from nbmlops.runners.marshal import save_value

    hashes: dict[str, dict[str, str]] = {}
    for step, made in values.items():
        hashes[step] = {n: save_value(n, v, Path(directory) / step).sha256 for n, v in made.items()}
    return hashes


def _as_spec(notebook: str, name: str, setup: list[Cell], cells: list[Cell]) -> tuple[PipelineSpec, Step]:
    """The spec pieces the shared execution helpers work from (cell file names, parameter injection)."""
    parameters = [Parameter(p, None, "", cell.index) for cell in setup for p in cell.parameters]
    step = Step(name, [CellCode(c.index, c.code, c.code) for c in cells])
    spec = PipelineSpec(
        name, notebook, "", parameters, [CellCode(c.index, c.code, c.code, "setup") for c in setup], [step]
    )
    return spec, step


def _step_error(spec: PipelineSpec, step: Step, exc: BaseException) -> StepError:
    from nbmlops.runners.execution import format_user_traceback
    from nbmlops.runners.local import step_failure

    text = format_user_traceback(spec, step, exc)
    return StepError(f"{step_failure(spec, step, exc, text)}\n\n{text.rstrip()}")


@contextlib.contextmanager
def _attached(ctx: dict[str, Any], step: str) -> Iterator[None]:
    """log_metric(...) in the step lands on the pipeline's run and this step."""
    if not ctx.get("run_id"):
        yield
        return
    from nbmlops.tracking import attach, get_store

    with attach(ctx["run_id"], step, store=get_store(ctx["home"])):
        yield
