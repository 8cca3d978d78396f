"""The `ray` compile target: a readable, standalone Python module that runs the pipeline on Ray.

`nbmlops compile NB --target ray -o pipeline_ray.py` writes one `@ray.remote` function per step holding the
step's notebook cells as text, a `run()` that wires the steps by object refs, and an argparse `main()` with one
`--NAME` option per pipeline parameter. It needs Ray and the nbmlops runtime (nbmlops.runners.runtime.ray: the
few helpers the generated code calls), not the notebook.
"""

from __future__ import annotations

import builtins
import keyword
import re
from pathlib import Path
from typing import Any

from nbmlops._version import __version__
from nbmlops.pipeline.graph import topological_order
from nbmlops.pipeline.spec import CellCode, PipelineSpec, Step
from nbmlops.step_options import parse_memory

# names the generated module itself uses: steps and variables must not shadow them
MODULE_NAMES = {
    "argparse",
    "ray",
    "Cell",
    "collect",
    "run_step",
    "start",
    "finish",
    "save_outputs",
    "as_bool",
    "as_literal",
    "NOTEBOOK",
    "PIPELINE",
    "SETUP",
    "run",
    "main",
    "parse_args",
    "ctx",
    "refs",
    "values",
}
ARG_TYPES = {"int": "int", "float": "float", "str": "str", "bool": "as_bool"}


# -- compiling ---------------------------------------------------------------------------------------------
def write_ray_module(spec: PipelineSpec, output: str | Path) -> Path:
    """Write the standalone Ray module for `spec` to `output` (a .py file); returns its path."""
    path = Path(output)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render_ray_module(spec))
    return path


def write_ray_target(spec: PipelineSpec, output: str | Path) -> list[Path]:
    return [write_ray_module(spec, output)]


def render_ray_module(spec: PipelineSpec) -> str:
    order = [spec.step(name) for name in topological_order(spec)]
    variables = {v for step in order for v in step.outputs}
    functions = _function_names(order, variables)
    refs = {v: v if v not in set(functions.values()) | MODULE_NAMES | {"params"} else f"{v}_ref" for v in variables}
    notebook = Path(spec.notebook_path).name
    options = [
        f"    parser.add_argument({_flag(p.name)!r}, dest={p.name!r}, "
        f"type={ARG_TYPES.get(p.type, 'as_literal')}, default={p.default!r},\n"
        "                        help='default: %(default)r')"
        for p in spec.parameters
    ]
    example = " ".join(f"{_flag(p.name)} {p.default!r}" for p in spec.parameters[:2])
    lines = [
        f'"""Pipeline {spec.name!r} on Ray, compiled by nbmlops {__version__} from {notebook}',
        f"(sha256 {spec.notebook_sha256[:12]}).",
        "",
        "Each step is a Ray task that runs the step's notebook cells (setup and parameters cells first, as in the",
        "notebook); the values steps hand each other travel as object refs. The notebook is not needed.",
        "",
        f"    python {{this file}} {example} [--ray-address ADDR] [--save-outputs DIR]".replace(
            "{this file}", "pipeline_ray.py"
        ),
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
    line = f"from nbmlops.runners.runtime.ray import {', '.join(sorted(names, key=str.lower))}"
    if len(line) <= 120:
        return line
    return "from nbmlops.runners.runtime.ray import (\n" + "".join(f"    {n},\n" for n in sorted(names)) + ")"


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
    body = [
        "def run(ctx: dict) -> dict:",
        '    """Start every step (Ray runs each once its inputs exist); the values they made, by step."""',
    ]
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


def __getattr__(name: str) -> Any:
    """Modules compiled before the runtime moved import it from here: hand them nbmlops.runners.runtime.ray's."""
    import importlib

    runtime = importlib.import_module("nbmlops.runners.runtime.ray")
    try:
        return getattr(runtime, name)
    except AttributeError:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}") from None
