"""The step graph of a PipelineSpec: an order that respects the edges, and what lies up or down from a step.
Everything that walks the DAG (rendering, the orchestrator, sweeps, the Ray target) asks here."""

from __future__ import annotations

from nbmlops.errors import SpecError
from nbmlops.pipeline.spec import PipelineSpec


def topological_order(spec: PipelineSpec) -> list[str]:
    """Steps in an order where each comes after its upstream steps (notebook order breaks ties)."""
    done: list[str] = []
    remaining = [s.name for s in spec.steps]
    while remaining:
        for name in remaining:
            if all(up in done for up in spec.step(name).upstream):
                done.append(name)
                remaining.remove(name)
                break
        else:  # the compiler rejects cycles; a hand-edited spec may still have one
            raise SpecError(f"steps {', '.join(remaining)} depend on each other in a cycle")
    return done


def descendants(spec: PipelineSpec, name: str) -> set[str]:
    """Steps that depend on `name`, directly or not."""
    found: set[str] = set()
    frontier = [name]
    while frontier:
        current = frontier.pop()
        for step in spec.steps:
            if current in step.upstream and step.name not in found:
                found.add(step.name)
                frontier.append(step.name)
    return found


def ancestors(spec: PipelineSpec, name: str) -> set[str]:
    """Steps `name` depends on, directly or not."""
    found: set[str] = set()
    frontier = [name]
    while frontier:
        for up in spec.step(frontier.pop()).upstream:
            if up not in found:
                found.add(up)
                frontier.append(up)
    return found


def layers(spec: PipelineSpec) -> list[list[str]]:
    """Steps by their longest path from a source: each layer's steps can run once the earlier layers ran."""
    depth: dict[str, int] = {}
    for name in topological_order(spec):
        depth[name] = max((depth[up] + 1 for up in spec.step(name).upstream), default=0)
    found: list[list[str]] = [[] for _ in range(max(depth.values(), default=-1) + 1)]
    for name, level in depth.items():
        found[level].append(name)
    return found
