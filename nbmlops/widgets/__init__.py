"""ipywidgets to browse and act on nbmlops from a notebook: runs, the model registry, features, training sets,
the pipeline and drift.

    from nbmlops.widgets import DriftDashboard, ModelRegistry, RunsBrowser
    RunsBrowser(filter="metrics.auc > 0.8")                          # paged, sorted, filtered in the database
    ModelRegistry("churn").promote("staging", "production")          # or the button, with a confirmation
    DriftDashboard(detect_drift(train_df, live_df))                  # one result
    DriftDashboard.for_model("churn@production", current="live.parquet")  # monitor now, stored, with history
    DriftDashboard.history("churn")                                  # browse the stored results of a model

The widgets only call the public APIs of nbmlops.tracking, registry, features, monitoring and pipeline. Charts are
plotly figures shown through plotly's own JupyterLab renderer (bundled with plotly): nothing loads from a CDN.
A store that is empty or cannot be reached, or a name that does not exist, is a message inside the widget with a
refresh button; where widgets don't render (a saved notebook, `jupyter nbconvert --execute`) they leave HTML.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from nbmlops.widgets._base import Deferred
    from nbmlops.widgets.drift import DriftDashboard
    from nbmlops.widgets.features import FeatureBrowser
    from nbmlops.widgets.models import ModelRegistry
    from nbmlops.widgets.pipeline import PipelineView
    from nbmlops.widgets.runs import RunsBrowser
    from nbmlops.widgets.training import TrainingSetInspector

# each widget loads on first use: RunsBrowser's first page should not wait for pandas and the drift statistics
_LAZY = {
    "Deferred": "nbmlops.widgets._base",
    "DriftDashboard": "nbmlops.widgets.drift",
    "FeatureBrowser": "nbmlops.widgets.features",
    "ModelRegistry": "nbmlops.widgets.models",
    "PipelineView": "nbmlops.widgets.pipeline",
    "RunsBrowser": "nbmlops.widgets.runs",
    "TrainingSetInspector": "nbmlops.widgets.training",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'nbmlops.widgets' has no attribute '{name}'")
    return getattr(importlib.import_module(module), name)


__all__ = [
    "Deferred",
    "DriftDashboard",
    "FeatureBrowser",
    "ModelRegistry",
    "PipelineView",
    "RunsBrowser",
    "TrainingSetInspector",
]
