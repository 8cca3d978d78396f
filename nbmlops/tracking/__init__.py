"""Runs, params, metrics, artifacts and lineage: the logging API.

    import nbmlops
    with nbmlops.start_run("baseline", params={"C": 0.5}):
        nbmlops.log_metric("auc", 0.91)

Inside a pipeline step no run handling is needed: the runner attaches the step (attach()), and log_* calls
land on that pipeline run and step. Importing this package stays cheap: SQLAlchemy loads on first use.
"""

from nbmlops.tracking.api import (
    end_run,
    log_artifact,
    log_metric,
    log_metrics,
    log_param,
    log_params,
    set_tag,
    set_tags,
    start_run,
)
from nbmlops.tracking.context import ENV_RUN_ID, ENV_STEP, active_run, attach, get_store
from nbmlops.tracking.provenance import file_sha256, git_info, package_versions
from nbmlops.tracking.run import ActiveRun

__all__ = [
    "ENV_RUN_ID",
    "ENV_STEP",
    "ActiveRun",
    "active_run",
    "attach",
    "end_run",
    "file_sha256",
    "get_store",
    "git_info",
    "log_artifact",
    "log_metric",
    "log_metrics",
    "log_param",
    "log_params",
    "package_versions",
    "set_tag",
    "set_tags",
    "start_run",
]
