"""ipywidgets to browse nbmlops from a notebook: drift dashboards (runs, features, registry to follow).

    from nbmlops.widgets import DriftDashboard
    DriftDashboard(detect_drift(train_df, live_df))                  # one result
    DriftDashboard.for_model("churn@production", current="live.parquet")  # monitor now, stored, with history
    DriftDashboard.history("churn")                                  # browse the stored results of a model

The widgets only call the public APIs of nbmlops.monitoring, nbmlops.registry and nbmlops.tracking. Charts are
plotly figures shown through plotly's own JupyterLab renderer (bundled with plotly): nothing loads from a CDN.
"""

from nbmlops.widgets.drift import DriftDashboard

__all__ = ["DriftDashboard"]
