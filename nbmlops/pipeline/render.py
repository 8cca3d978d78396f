"""The pipeline as text for people: a step table and the DAG as text, Mermaid or Graphviz dot."""

from __future__ import annotations

from nbmlops.pipeline.graph import topological_order
from nbmlops.pipeline.spec import PipelineSpec


def _edge_label(spec: PipelineSpec, upstream: str, step: str) -> str:
    names = [v for v, producer in spec.step(step).inputs.items() if producer == upstream]
    return ", ".join(names)


def to_mermaid(spec: PipelineSpec) -> str:
    lines = ["flowchart LR"]
    for step in spec.steps:
        lines.append(f'    {_node_id(step.name)}["{step.name}"]')
    for step in spec.steps:
        for up in step.upstream:
            label = _edge_label(spec, up, step.name)
            arrow = f" -->|{label}| " if label else " --> "
            lines.append(f"    {_node_id(up)}{arrow}{_node_id(step.name)}")
    return "\n".join(lines) + "\n"


def to_dot(spec: PipelineSpec) -> str:
    lines = [f'digraph "{spec.name}" {{', "    rankdir=LR;", "    node [shape=box, style=rounded];"]
    for step in spec.steps:
        lines.append(f'    "{step.name}";')
    for step in spec.steps:
        for up in step.upstream:
            label = _edge_label(spec, up, step.name)
            attrs = f' [label="{label}"]' if label else ""
            lines.append(f'    "{up}" -> "{step.name}"{attrs};')
    lines.append("}")
    return "\n".join(lines) + "\n"


def _node_id(name: str) -> str:
    return "s_" + name.replace("-", "_")


def to_text(spec: PipelineSpec) -> str:
    """A plain-text view: parameters, then each step with its cells, inputs, outputs and upstream."""
    lines = [f"pipeline {spec.name}  ({spec.notebook_path})"]
    if spec.parameters:
        lines.append("parameters: " + ", ".join(f"{p.name}={p.default!r} ({p.type})" for p in spec.parameters))
    if spec.setup:
        lines.append("setup cells: " + ", ".join(str(c.index) for c in spec.setup))
    for step in spec.steps:
        cells = ", ".join(str(c.index) for c in step.cells)
        lines.append(f"\nstep {step.name}  (cells {cells})")
        if step.options:
            lines.append("  options: " + ", ".join(f"{k}={v}" for k, v in step.options.items()))
        if step.params:
            lines.append("  params:  " + ", ".join(step.params))
        if step.inputs:
            lines.append("  inputs:  " + ", ".join(f"{v} <- {p}" for v, p in step.inputs.items()))
        if step.outputs:
            lines.append("  outputs: " + ", ".join(step.outputs))
        extra = [u for u in step.upstream if u not in step.inputs.values()]
        if extra:
            lines.append("  after:   " + ", ".join(extra))
    lines.append("\nDAG:")
    lines.extend("  " + line for line in ascii_dag(spec))
    for warning in spec.warnings:
        lines.append(f"warning: {warning}")
    return "\n".join(lines) + "\n"


def ascii_dag(spec: PipelineSpec) -> list[str]:
    """One line per step in dependency order: `load -> clean, features`."""
    downstream: dict[str, list[str]] = {s.name: [] for s in spec.steps}
    for step in spec.steps:
        for up in step.upstream:
            downstream[up].append(step.name)
    lines = []
    for name in topological_order(spec):
        targets = downstream[name]
        lines.append(f"{name} -> {', '.join(targets)}" if targets else f"{name} (end)")
    return lines
