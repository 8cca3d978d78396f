"""PipelineSpec model, the notebook compiler, parameters and DAG rendering.

Names load on first use: `nbmlops run` of a notebook whose spec is cached never imports the compiler."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from nbmlops.pipeline.spec import PipelineSpec

_LAZY = {
    "compile_notebook": "nbmlops.pipeline.compiler",
    **{name: "nbmlops.pipeline.params" for name in ("parse_value", "resolve_parameters")},
    **{name: "nbmlops.pipeline.render" for name in ("ascii_dag", "to_dot", "to_mermaid", "to_text")},
    **{name: "nbmlops.pipeline.graph" for name in ("ancestors", "descendants", "layers", "topological_order")},
    **{name: "nbmlops.pipeline.spec" for name in ("CellCode", "Parameter", "PipelineSpec", "Step")},
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)


def load_pipeline(path: str) -> PipelineSpec:
    """A PipelineSpec from a notebook (compiled, or its cached spec) or a pipeline.json (loaded)."""
    if str(path).endswith(".json"):
        from nbmlops.pipeline.spec import PipelineSpec

        return PipelineSpec.load(path)
    from nbmlops.pipeline.spec_cache import compile_cached

    return compile_cached(path)


__all__ = [
    "CellCode",
    "Parameter",
    "PipelineSpec",
    "Step",
    "ancestors",
    "ascii_dag",
    "compile_notebook",
    "descendants",
    "layers",
    "load_pipeline",
    "parse_value",
    "resolve_parameters",
    "to_dot",
    "to_mermaid",
    "to_text",
    "topological_order",
]
