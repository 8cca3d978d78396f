"""nbmlops: tagged Jupyter notebooks as tracked, parameterized ML pipelines.

    import nbmlops
    nbmlops.log_metric("auc", 0.91)          # inside a pipeline step: lands on that run and step
    model = nbmlops.load_model("churn@production")

The public verbs load on first use, so `import nbmlops` stays cheap.
"""

from __future__ import annotations

import importlib
from typing import Any

from nbmlops._version import __version__

_LAZY = {
    **{
        name: "nbmlops.tracking"
        for name in (
            "start_run",
            "end_run",
            "active_run",
            "attach",
            "log_param",
            "log_params",
            "log_metric",
            "log_metrics",
            "log_artifact",
            "set_tag",
            "set_tags",
        )
    },
    **{
        name: "nbmlops.registry"
        for name in ("register_model", "load_model", "get_model_version", "list_models", "set_alias", "delete_alias")
    },
    "log_label": "nbmlops.serving",
    "predict": "nbmlops.serving",
    "compile_notebook": "nbmlops.pipeline",
    "run_pipeline": "nbmlops.runners",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'nbmlops' has no attribute '{name}'")
    return getattr(importlib.import_module(module), name)


def load_ipython_extension(ipython: Any) -> None:
    """`%load_ext nbmlops`: the %%step, %%setup, %%skip, %pipeline and %nbmlops magics. The kernel and the
    widgets are both top layers (neither imports the other): the entry point hands %nbmlops the widgets."""
    from nbmlops.kernel import widget_magics
    from nbmlops.kernel.magics import register

    register(ipython)
    widget_magics.use_widgets(lambda name: getattr(importlib.import_module("nbmlops.widgets"), name))


__all__ = ["__version__", "load_ipython_extension", *_LAZY]
