"""Compile target `papermill`: one parameterized notebook per step, runnable by nbmlops's papermill backend or by
a plain `papermill` CLI (how a server team schedules it); the notebooks call the small runtime in
nbmlops.runners.runtime.papermill.

A step notebook holds, in order: a title, a `parameters` cell (the pipeline's parameters with their defaults and
where data lives), a cell that prepares the step (working directory, tracking), the setup cells, a cell that loads
the step's inputs, the step's own cells with their markdown, and a cell that saves its outputs with a manifest.
Data lives in folders, one per step: a step reads each input from `<nbmlops_data_dir>/<producer>/` (or
`nbmlops_input_dirs[producer]`) and writes to `<nbmlops_data_dir>/<step>/` (or `nbmlops_output_dir`).
"""

from __future__ import annotations

import ast
import json
from pathlib import Path
from typing import Any

from nbmlops.notebook.ipython_syntax import kernel_code
from nbmlops.pipeline.spec import CellCode, PipelineSpec, Step

MANIFEST = "nbmlops-manifest.json"  # a hyphen: no variable's file (`name.ext`) can take this name
LOCATION_PARAMS = (
    "nbmlops_data_dir",
    "nbmlops_input_dirs",
    "nbmlops_output_dir",
    "nbmlops_workdir",
    "nbmlops_run_id",
    "nbmlops_home",
)


# -- compiling ------------------------------------------------------------------------------------------------
def write_papermill_target(spec: PipelineSpec, out_dir: str | Path, *, kernel_name: str | None = None) -> list[Path]:
    """Write `<out_dir>/<step>.ipynb` for every step and `<out_dir>/pipeline.json`; return the paths written.

    Run a step with `papermill STEP.ipynb out.ipynb -p nbmlops_data_dir DATA` in dependency order (pipeline.json
    lists the steps and their upstream); each reads its inputs from and writes its outputs under DATA."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    markdown = notebook_markdown(spec)
    written = []
    for step in spec.steps:
        path = out / f"{step.name}.ipynb"
        nb = step_notebook(spec, step, kernel_name=kernel_name, markdown=markdown)
        path.write_text(json.dumps(nb, indent=1) + "\n")
        written.append(path)
    spec.save(out / "pipeline.json")
    written.append(out / "pipeline.json")
    return written


def notebook_markdown(spec: PipelineSpec) -> dict[int, list[str]]:
    """For each code cell of the source notebook, the markdown cells right above it (since the previous code
    cell); an unreadable or moved notebook gives none, the step notebooks are still complete without them."""
    from nbmlops.errors import NotebookError
    from nbmlops.notebook.reader import read_notebook

    try:
        cells = read_notebook(spec.notebook_path).cells
    except NotebookError:
        return {}
    found: dict[int, list[str]] = {}
    pending: list[str] = []
    for cell in cells:
        if cell.cell_type == "markdown":
            pending.append(cell.source)
        elif cell.cell_type == "code":
            found[cell.index], pending = pending, []
    return found


def kernel_source(cell: CellCode) -> str:
    """The cell as the user wrote it, nbmlops's own lines commented out (see notebook.kernel_code)."""
    return kernel_code(cell.source)


def _only_parameter_assignments(cell: CellCode, names: set[str]) -> bool:
    """True when the cell does nothing but give parameters their defaults (the generated parameters cell
    already does that, so the cell can be left out)."""
    try:
        tree = ast.parse(cell.code)
    except SyntaxError:
        return False
    return all(
        isinstance(node, ast.Assign | ast.AnnAssign)
        and all(
            isinstance(target, ast.Name) and target.id in names
            for target in (node.targets if isinstance(node, ast.Assign) else [node.target])
        )
        for node in tree.body
    )


def _code_cell(source: str, kind: str, cell: int | None = None, tags: list[str] | None = None) -> dict[str, Any]:
    meta: dict[str, Any] = {"nbmlops": {"kind": kind, **({"cell": cell} if cell is not None else {})}}
    if tags:
        meta["tags"] = tags
    return {"cell_type": "code", "execution_count": None, "metadata": meta, "outputs": [], "source": source}


def _markdown_cell(source: str) -> dict[str, Any]:
    return {"cell_type": "markdown", "metadata": {}, "source": source}


def _params_dict(spec: PipelineSpec) -> str:
    items = [f"{p.name!r}: {p.name}" for p in spec.parameters]
    return ",\n                                   ".join(items)


def _literal(value: Any) -> str:
    return repr(value)  # spec defaults are JSON values: their repr is Python that gives them back


def step_notebook(
    spec: PipelineSpec, step: Step, *, kernel_name: str | None = None, markdown: dict[int, list[str]] | None = None
) -> dict[str, Any]:
    """The step's notebook as nbformat-4 JSON; code cells carry `metadata.nbmlops` = {kind, cell}, where `cell`
    is the source notebook's cell index, so errors map back to it."""
    markdown = notebook_markdown(spec) if markdown is None else markdown
    notebook_name = Path(spec.notebook_path).name
    reads = ", ".join(f"`{var}` (from {producer})" for var, producer in step.inputs.items()) or "nothing"
    writes = ", ".join(f"`{var}`" for var in step.outputs) or "nothing"
    cells = [
        _markdown_cell(
            f"# {spec.name} · step `{step.name}`\n\n"
            f"Generated by nbmlops from `{notebook_name}` (cells {', '.join(str(c.index) for c in step.cells)}); "
            f"edit the notebook and recompile rather than this file.\n\n"
            f"Reads {reads}; writes {writes}. Upstream steps: {', '.join(step.upstream) or 'none'}.\n\n"
            f"Run it with `papermill {step.name}.ipynb out.ipynb -p nbmlops_data_dir DATA` once its upstream steps "
            f"have written to DATA."
        )
    ]

    names = {p.name for p in spec.parameters}
    lines = ["# Pipeline parameters (defaults from the notebook)"] if spec.parameters else []
    lines += [f"{p.name} = {_literal(p.default)}" for p in spec.parameters]
    lines += [
        "",
        "# Where data lives: inputs come from <nbmlops_data_dir>/<producer step>/ (or nbmlops_input_dirs[producer]),",
        f"# outputs go to <nbmlops_data_dir>/{step.name}/ (or nbmlops_output_dir), with {MANIFEST}",
        'nbmlops_data_dir = "data"',
        "nbmlops_input_dirs = {}",
        'nbmlops_output_dir = ""',
        'nbmlops_workdir = ""  # run the step in this folder (default: where papermill runs)',
        'nbmlops_run_id = ""  # an nbmlops run to log metrics to (with nbmlops_home, its project home)',
        'nbmlops_home = ""',
    ]
    cells.append(_code_cell("\n".join(lines), "parameters", tags=["parameters"]))
    cells.append(
        _code_cell(
            "# Prepare the step: working directory, data folders, metric logging\n"
            "from nbmlops.runners.runtime.papermill import StepContext\n\n"
            f"nbmlops_step = StepContext({step.name!r}, nbmlops_data_dir, nbmlops_input_dirs, nbmlops_output_dir,\n"
            "                           workdir=nbmlops_workdir, run_id=nbmlops_run_id, home=nbmlops_home,\n"
            f"                           params={{{_params_dict(spec)}}})",
            "prepare",
        )
    )

    for cell in spec.setup:
        if cell.kind == "parameters":
            if _only_parameter_assignments(cell, names):
                continue
            # the notebook's own parameters cell runs as it would, then the values given to this run win again
            source = kernel_source(cell).rstrip("\n") + "\nglobals().update(nbmlops_step.params)"
            cells.append(_code_cell(source, "setup", cell.index))
        else:
            cells.append(_code_cell(kernel_source(cell), "setup", cell.index))

    if step.inputs:
        listing = ", ".join(f"{var} ({producer})" for var, producer in step.inputs.items())
        cells.append(
            _code_cell(
                f"# Inputs made by upstream steps: {listing}\n"
                f"nbmlops_step.load_inputs({dict(step.inputs)!r}, globals())",
                "inputs",
            )
        )

    for cell in step.cells:
        # markdown above the step's first cell and between its cells belongs to it
        for text in markdown.get(cell.index, []):
            cells.append(_markdown_cell(text))
        cells.append(_code_cell(kernel_source(cell), "step", cell.index))

    cells.append(
        _code_cell(
            f"# Outputs read by later steps, saved by type with {MANIFEST}\n"
            f"nbmlops_step.save_outputs({list(step.outputs)!r}, globals())",
            "outputs",
        )
    )

    kernel = kernel_name or spec.kernel_name or "python3"
    for number, cell in enumerate(cells):
        cell["id"] = f"{cell['metadata'].get('nbmlops', {}).get('kind', 'markdown')}-{number}"  # nbformat 4.5
    return {
        "cells": cells,
        "metadata": {
            "kernelspec": {"name": kernel, "display_name": kernel, "language": "python"},
            "language_info": {"name": "python"},
            "nbmlops": {
                "pipeline": spec.name,
                "step": step.name,
                "notebook": notebook_name,
                "notebook_sha256": spec.notebook_sha256,
                "inputs": step.inputs,
                "outputs": step.outputs,
                "upstream": step.upstream,
            },
        },
        "nbformat": 4,
        "nbformat_minor": 5,
    }


def __getattr__(name: str) -> Any:
    """Step notebooks compiled before the runtime moved import StepContext from here: hand them the runtime's."""
    import importlib

    runtime = importlib.import_module("nbmlops.runners.runtime.papermill")
    try:
        return getattr(runtime, name)
    except AttributeError:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}") from None
