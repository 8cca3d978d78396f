"""PipelineSpec model, the notebook compiler, parameters and DAG rendering."""

from nbmlops.pipeline.compiler import compile_notebook
from nbmlops.pipeline.params import parse_value, resolve_parameters
from nbmlops.pipeline.render import ascii_dag, to_dot, to_mermaid, to_text, topological_order
from nbmlops.pipeline.spec import CellCode, Parameter, PipelineSpec, Step


def load_pipeline(path: str) -> PipelineSpec:
    """A PipelineSpec from a notebook (compiled) or a pipeline.json (loaded)."""
    if str(path).endswith(".json"):
        return PipelineSpec.load(path)
    return compile_notebook(path)


__all__ = ["CellCode", "Parameter", "PipelineSpec", "Step", "ascii_dag", "compile_notebook", "load_pipeline",
           "parse_value", "resolve_parameters", "to_dot", "to_mermaid", "to_text", "topological_order"]
