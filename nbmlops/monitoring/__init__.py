"""Drift monitoring: data, prediction and performance drift, reports, alerts and retraining.

    from nbmlops.monitoring import detect_drift
    result = detect_drift(train_df, live_df)            # or a ReferenceProfile from build_reference(train_df)
    result.table                                        # feature, kind, test, statistic, p_value, threshold, drifted,
                                                        # effect_size, missing/unseen shares, status, reason ...
    result.dataset_drift

    monitor_model("churn@production", "live.parquet")   # or window="1d" over logged predictions; stored as a
                                                        # time series, alert evaluated, retraining started

By default each column gets a calibrated two-sample test, chosen by kind and size as Evidently chooses;
detect_drift(..., tests="evidently") gives Evidently's own tests. See nbmlops.monitoring.choice; formulas are in
stattests and contingency.
"""

from nbmlops.monitoring.alerts import AlertRule, Retraining, retrain
from nbmlops.monitoring.choice import TESTS, auto_test
from nbmlops.monitoring.drift import COLUMNS, DRIFT_SHARE, MIN_ROWS, DriftResult, detect_drift
from nbmlops.monitoring.errors import MonitoringDataError, MonitoringError, UnknownDriftResult
from nbmlops.monitoring.figures import distribution_figure, history_figure, share_figure
from nbmlops.monitoring.logs import log_labels, log_predictions, parse_window, read_table
from nbmlops.monitoring.monitor import MonitorRun, monitor_model, reference_profile
from nbmlops.monitoring.performance import join_labels, performance_metrics
from nbmlops.monitoring.reference import ColumnReference, ReferenceProfile, build_reference
from nbmlops.monitoring.report import render_html, write_report
from nbmlops.monitoring.storage import (
    DRIFT_RESULT,
    feature_history,
    get_settings,
    list_results,
    load_result,
    set_settings,
)

__all__ = [
    "COLUMNS",
    "DRIFT_RESULT",
    "DRIFT_SHARE",
    "MIN_ROWS",
    "TESTS",
    "AlertRule",
    "ColumnReference",
    "DriftResult",
    "MonitorRun",
    "MonitoringDataError",
    "MonitoringError",
    "ReferenceProfile",
    "Retraining",
    "UnknownDriftResult",
    "auto_test",
    "build_reference",
    "detect_drift",
    "distribution_figure",
    "feature_history",
    "get_settings",
    "history_figure",
    "join_labels",
    "list_results",
    "load_result",
    "log_labels",
    "log_predictions",
    "monitor_model",
    "parse_window",
    "performance_metrics",
    "read_table",
    "reference_profile",
    "render_html",
    "retrain",
    "set_settings",
    "share_figure",
    "write_report",
]
