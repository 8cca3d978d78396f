"""What `nbmlops serve TARGET` serves: a model URI (`churn@production`, `churn:3`, `churn`) or a graph object
named `module:attribute` or `path/to/file.py:attribute`."""

from __future__ import annotations

import importlib
import importlib.util
import sys
from pathlib import Path

from nbmlops.serving.errors import GraphError
from nbmlops.serving.graph import Graph


def is_graph_ref(target: str) -> bool:
    """`pkg.mod:graph` or `file.py:graph` (the part after ':' a Python name); `churn:3` is a model version."""
    head, colon, attr = target.rpartition(":")
    return bool(colon and head and attr.isidentifier())


def load_target(target: str | Graph, *, home: str | Path | None = None) -> Graph:
    """The Graph a target names (not loaded yet)."""
    if isinstance(target, Graph):
        return target
    if not is_graph_ref(target):
        return Graph.from_model(target, home=home)
    where, _, attr = target.rpartition(":")
    if where.endswith(".py") or "/" in where:
        path = Path(where)
        if not path.is_file():
            raise GraphError(f"serve target '{target}': no file {path}")
        spec = importlib.util.spec_from_file_location(f"nbmlops_graph_{path.stem}", path)
        if spec is None or spec.loader is None:
            raise GraphError(f"serve target '{target}': {path} is not a Python module")
        module = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = module  # pickling and dataclasses look the module up by name
        try:
            spec.loader.exec_module(module)
        except Exception as exc:  # noqa: BLE001 - the user's module: say where it failed
            raise GraphError(f"serve target '{target}': running {path} raised {type(exc).__name__}: {exc}") from exc
    else:
        try:
            module = importlib.import_module(where)
        except ImportError as exc:
            raise GraphError(f"serve target '{target}': can't import module '{where}': {exc}") from exc
    graph = getattr(module, attr, None)
    if not isinstance(graph, Graph):
        found = "nothing" if graph is None else type(graph).__name__
        raise GraphError(f"serve target '{target}': '{attr}' in {where} is {found}, not a nbmlops.serving.Graph")
    if home is not None and graph.home is None:
        graph.home = home
    return graph
