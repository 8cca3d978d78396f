"""The `ray` compile target: a readable, standalone Python module that runs the pipeline on Ray.

`nbmlops compile NB --target ray -o pipeline_ray.py` writes one `@ray.remote` function per step holding the
step's notebook cells as text, a `run()` that wires the steps by object refs, and an argparse `main()` with one
`--NAME` option per pipeline parameter. It needs Ray and the nbmlops runtime (this module's second half: the
few helpers the generated code calls), not the notebook.
"""

from __future__ import annotations

import builtins
import contextlib
import keyword
import pickle
import re
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nbmlops._version import __version__
from nbmlops.pipeline.render import topological_order
from nbmlops.pipeline.spec import CellCode, Parameter, PipelineSpec, Step

# names the generated module itself uses: steps and variables must not shadow them
MODULE_NAMES = {"argparse", "ray", "Cell", "collect", "run_step", "start", "finish", "save_outputs", "as_bool",
                "as_literal", "NOTEBOOK", "PIPELINE", "SETUP", "run", "main", "parse_args", "ctx", "refs", "values"}
ARG_TYPES = {"int": "int", "float": "float", "str": "str", "bool": "as_bool"}


# -- compiling ---------------------------------------------------------------------------------------------
def write_ray_module(spec: PipelineSpec, output: str | Path) -> Path:
    """Write the standalone Ray module for `spec` to `output` (a .py file); returns its path."""
    path = Path(output)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render_ray_module(spec))
    return path


def render_ray_module(spec: PipelineSpec) -> str:
    order = [spec.step(name) for name in topological_order(spec)]
    variables = {v for step in order for v in step.outputs}
    functions = _function_names(order, variables)
    refs = {v: v if v not in set(functions.values()) | MODULE_NAMES | {"params"} else f"{v}_ref" for v in variables}
    notebook = Path(spec.notebook_path).name
    options = [f"    parser.add_argument({_flag(p.name)!r}, dest={p.name!r}, "
               f"type={ARG_TYPES.get(p.type, 'as_literal')}, default={p.default!r},\n"
               "                        help='default: %(default)r')"
               for p in spec.parameters]
    example = " ".join(f"{_flag(p.name)} {p.default!r}" for p in spec.parameters[:2])
    lines = [
        f'"""Pipeline {spec.name!r} on Ray, compiled by nbmlops {__version__} from {notebook}',
        f"(sha256 {spec.notebook_sha256[:12]}).",
        "",
        "Each step is a Ray task that runs the step's notebook cells (setup and parameters cells first, as in the",
        "notebook); the values steps hand each other travel as object refs. The notebook is not needed.",
        "",
        f"    python {{this file}} {example} [--ray-address ADDR] [--save-outputs DIR]".replace(
            "{this file}", "pipeline_ray.py"),
        '"""',
        "",
        "from __future__ import annotations",
        "",
        "import argparse",
        "",
        "import ray",
        _runtime_import(spec),
        "",
        f"PIPELINE = {spec.name!r}",
        f"NOTEBOOK = {notebook!r}",
        "",
        "# Setup and parameters cells: they run at the start of every step, parameter values replacing the defaults.",
        "SETUP = [",
        *[_cell(cell, params=[p.name for p in spec.parameters if p.cell == cell.index]) for cell in spec.setup],
        "]",
    ]
    for step in order:
        lines += ["", "", *_step_function(step, functions[step.name])]
    lines += ["", "", *_run_function(order, functions, refs), "", "", *_main(spec, options)]
    return "\n".join(lines) + "\n"


def _runtime_import(spec: PipelineSpec) -> str:
    names = ["Cell", "collect", "finish", "run_step", "save_outputs", "start"]
    kinds = {ARG_TYPES.get(p.type, "as_literal") for p in spec.parameters}
    names += [helper for helper in ("as_bool", "as_literal") if helper in kinds]
    line = f"from nbmlops.pipeline.targets.ray import {', '.join(sorted(names, key=str.lower))}"
    if len(line) <= 120:
        return line
    return "from nbmlops.pipeline.targets.ray import (\n" + "".join(f"    {n},\n" for n in sorted(names)) + ")"


def _function_names(steps: list[Step], variables: set[str]) -> dict[str, str]:
    taken = MODULE_NAMES | variables | set(dir(builtins)) | set(keyword.kwlist) | {"params"}
    names: dict[str, str] = {}
    for step in steps:
        name = re.sub(r"\W", "_", step.name)
        name = f"step_{name}" if not name.isidentifier() or name[0].isdigit() else name
        while name in taken:
            name += "_step"
        taken.add(name)
        names[step.name] = name
    return names


def _flag(name: str) -> str:
    return f"--{name}"


def _text(code: str) -> str:
    """A cell's code as a literal people can read: a raw triple-quoted block when the code allows one."""
    body = code if code.endswith("\n") else code + "\n"
    if "'''" not in body and not body.rstrip("\n").endswith("\\"):
        return "r'''\n" + body + "'''"
    return repr(code)


def _cell(cell: CellCode, params: list[str] | None = None, indent: str = "    ") -> str:
    extra = f", parameters={params!r}" if params else ""
    return f"{indent}Cell({cell.index}, {_text(cell.code)}{extra}),"


def _step_function(step: Step, function: str) -> list[str]:
    options = step.options
    retries = int(options.get("retries", 0))
    decorator = [f"num_cpus={options.get('cpus', 1)!r}"]
    comment = []
    if options.get("gpus"):
        decorator.append(f"num_gpus={options['gpus']!r}")
    if options.get("memory"):
        from nbmlops.runners.ray_backend import parse_memory

        decorator.append(f"memory={parse_memory(options['memory'])}")
        comment = [f"# memory: {options['memory']}"]
    if len(step.outputs) > 1:
        decorator.append(f"num_returns={len(step.outputs)}")
    # no orchestrator here: Ray makes the retries, after a Python error too
    decorator.append(f"max_retries={retries}" + (", retry_exceptions=True" if retries else ""))
    args = ", ".join(["ctx", *step.inputs])
    cells = ", ".join(str(c.index) for c in step.cells)
    about = [f"Step {step.name!r} (cell{'s' if len(step.cells) > 1 else ''} {cells})"]
    if step.inputs:
        about.append("reads " + ", ".join(f"{v} (from {p})" for v, p in step.inputs.items()))
    if step.params:
        about.append("parameters " + ", ".join(step.params))
    about.append("makes " + ", ".join(step.outputs) if step.outputs else "makes nothing later steps read")
    inputs = "{" + ", ".join(f"{v!r}: {v}" for v in step.inputs) + "}"
    return [
        *comment,
        f"@ray.remote({', '.join(decorator)})",
        f"def {function}({args}):",
        f'    """{"; ".join(about)}."""',
        f"    return run_step(NOTEBOOK, {step.name!r}, SETUP, ctx, {inputs}, {step.outputs!r}, [",
        *[_cell(cell, indent="        ") for cell in step.cells],
        "    ])",
    ]


def _run_function(steps: list[Step], functions: dict[str, str], refs: dict[str, str]) -> list[str]:
    body = ["def run(ctx: dict) -> dict:",
            '    """Start every step (Ray runs each once its inputs exist); the values they made, by step."""']
    waits = []
    for step in steps:
        call = f"{functions[step.name]}.remote(" + ", ".join(["ctx", *(refs[v] for v in step.inputs)]) + ")"
        if step.outputs:
            body.append(f"    {', '.join(refs[v] for v in step.outputs)} = {call}")
        else:
            waits.append(f"{functions[step.name]}_done")
            body.append(f"    {waits[-1]} = {call}")
    if waits:
        body.append(f"    ray.get([{', '.join(waits)}])  # the steps whose results no other step reads")
    body.append("    return collect({")
    for step in steps:
        if step.outputs:
            body.append(f"        {step.name!r}: {{" + ", ".join(f"{v!r}: {refs[v]}" for v in step.outputs) + "},")
    body.append("    })")
    return body


def _main(spec: PipelineSpec, options: list[str]) -> list[str]:
    return [
        "def parse_args(argv: list[str] | None = None) -> argparse.Namespace:",
        f"    parser = argparse.ArgumentParser(description={f'Run the {spec.name} pipeline on Ray.'!r})",
        *options,
        "    parser.add_argument('--ray-address', default=None, help='a Ray cluster (default: start Ray here)')",
        "    parser.add_argument('--num-cpus', type=int, default=None, help='CPUs of a Ray started here')",
        "    parser.add_argument('--workdir', default=None, help='where steps run (default: this file\\'s folder)')",
        "    parser.add_argument('--save-outputs', metavar='DIR', default=None,",
        "                        help='also save every value the steps made, marshalled as nbmlops does')",
        "    parser.add_argument('--no-track', action='store_true', help='do not record the run in the nbmlops store')",
        "    return parser.parse_args(argv)",
        "",
        "",
        "def main(argv: list[str] | None = None) -> dict:",
        "    args = parse_args(argv)",
        f"    params = {{name: getattr(args, name) for name in {[p.name for p in spec.parameters]!r}}}",
        "    ctx = start(PIPELINE, NOTEBOOK, params, address=args.ray_address, num_cpus=args.num_cpus,",
        "                workdir=args.workdir or __file__, track=not args.no_track)",
        "    with finish(ctx):",
        "        values = run(ctx)",
        "    if args.save_outputs:",
        "        save_outputs(values, args.save_outputs)",
        "    return values",
        "",
        "",
        'if __name__ == "__main__":',
        "    main()",
    ]


# -- the runtime the generated module calls ---------------------------------------------------------------
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


def start(pipeline: str, notebook: str, params: dict[str, Any], *, address: str | None = None,
          num_cpus: int | None = None, workdir: str | Path | None = None, track: bool = True) -> dict[str, Any]:
    """Connect to Ray and (with `track`) start a run in the nbmlops store; the context every step gets."""
    import ray

    from nbmlops.runners.ray_backend import init_ray

    folder = Path(workdir or Path.cwd()).resolve()
    folder = folder.parent if folder.is_file() else folder
    if not ray.is_initialized():
        init_ray(address, num_cpus=num_cpus)
    ctx: dict[str, Any] = {"pipeline": pipeline, "params": params, "workdir": str(folder), "run_id": None,
                           "home": None}
    if track:
        from nbmlops.store.home import project_home
        from nbmlops.tracking import start_run

        home = project_home(folder)
        run = start_run(pipeline, params=params, kind="pipeline", pipeline=pipeline, backend="ray",
                        notebook_path=str(folder / notebook), tags={"compiled": "ray"}, home=home)
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
            run.end("failed", str(cause))
        if isinstance(cause, StepError):
            print(f"error: {cause}", file=sys.stderr)
            raise SystemExit(1) from None
        raise
    except BaseException as exc:
        if run is not None:
            run.end("interrupted" if isinstance(exc, KeyboardInterrupt) else "failed", str(exc) or type(exc).__name__)
        raise
    if run is not None:
        run.end("succeeded")


def run_step(notebook: str, name: str, setup: list[Cell], ctx: dict[str, Any], inputs: dict[str, Any],
             outputs: list[str], cells: list[Cell]) -> Any:
    """Run one step as a notebook would: setup and parameters cells, then the step's cells, in a fresh
    namespace holding exactly its inputs; its outputs come back (one value, a tuple, or None)."""
    from nbmlops.runners.execution import fresh_namespace, run_setup, run_step_cells
    from nbmlops.runners.local import working_directory
    from nbmlops.runners.marshal import bind_to_namespace

    spec, step = _as_spec(notebook, name, setup, cells)
    namespace = fresh_namespace()
    values = {key: _unpack(value) for key, value in inputs.items()}
    with working_directory(Path(ctx["workdir"])), _attached(ctx, name):
        try:
            run_setup(spec, namespace, ctx["params"])
            namespace.update({key: bind_to_namespace(value, namespace) for key, value in values.items()})
            run_step_cells(spec, step, namespace)
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
    spec = PipelineSpec(name, notebook, "", parameters,
                        [CellCode(c.index, c.code, c.code, "setup") for c in setup], [step])
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
