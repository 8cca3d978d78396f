"""Monitoring a registered model: its stored reference profile against current data (a DataFrame, a file, or the
predictions logged in a time window), stored as a time series, with alerts that can start retraining."""

from __future__ import annotations

import time
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from nbmlops.monitoring import logs, storage
from nbmlops.monitoring.alerts import AlertRule, Retraining, retrain
from nbmlops.monitoring.drift import DRIFT_SHARE, DriftResult, detect_drift
from nbmlops.monitoring.errors import MonitoringError
from nbmlops.monitoring.performance import performance_metrics
from nbmlops.monitoring.reference import STORED_MAX_VALUES, ReferenceProfile, build_reference

if TYPE_CHECKING:
    from nbmlops.registry import ModelVersion
    from nbmlops.store import Store

PREDICTION = logs.PREDICTION


@dataclass
class MonitorRun:
    result_id: str
    model: str  # name:version
    drift: DriftResult
    metrics: dict[str, float] = field(default_factory=dict)
    window: str | None = None
    window_start: float | None = None
    window_end: float | None = None
    alert: bool = False
    retraining: Retraining | None = None


def _store(store: Store | None, home: str | Path | None) -> Store:
    if store is not None:
        return store
    from nbmlops.tracking import get_store

    return get_store(home)


def _frame(data: Any) -> pd.DataFrame:
    if isinstance(data, pd.DataFrame):
        return data
    import numpy as np

    array = np.asarray(data)
    if array.ndim == 1:
        array = array[:, None]
    return pd.DataFrame(array, columns=[str(i) for i in range(array.shape[1])])


def _feature_names(version: ModelVersion, frame: pd.DataFrame) -> list[str]:
    signature = version.signature or {}
    if signature.get("type") == "dataframe":
        return [c["name"] for c in signature.get("columns", [])]
    return [c for c in frame.columns if c not in (PREDICTION, logs.ID, logs.LABEL, logs.TIMESTAMP)]


def _predict(model: Any, version: ModelVersion, frame: pd.DataFrame) -> Any:
    names = _feature_names(version, frame)
    missing = [n for n in names if n not in frame.columns]
    if missing:
        raise MonitoringError(f"the data lacks the model's input column(s) {', '.join(missing)}")
    return model.predict(frame[names])


def reference_profile(
    uri: str, *, store: Store | None = None, home: str | Path | None = None, rebuild: bool = False
) -> tuple[ReferenceProfile, str | None, ModelVersion]:
    """(profile, prediction column or None, model version) for `uri`: the stored profile, else built once from the
    reference data registered with the version (plus the model's predictions on it) and stored."""
    from nbmlops.registry import get_model_version, load_model, load_reference_data

    store = _store(store, home)
    version = get_model_version(uri, store=store)
    found = None if rebuild else storage.load_reference(store, version.name, version.version)
    if found is not None:
        return found[0], found[1], version
    if not version.reference_sha256:
        raise MonitoringError(
            f"model {version.uri} was registered without reference_data, so there is nothing to "
            "compare with: register it with reference_data=X_train, or call "
            "nbmlops.monitoring.detect_drift(reference_df, current_df)"
        )
    data = _frame(load_reference_data(version.uri, store=store)).copy()
    prediction = None
    if PREDICTION not in data.columns:
        try:
            data[PREDICTION] = _predict(load_model(version.uri, store=store), version, data)
            prediction = PREDICTION
        except Exception as exc:  # noqa: BLE001 - any model may fail on its own data; say so, monitor features
            warnings.warn(
                f"model {version.uri}: no prediction drift, predicting on the reference data failed: "
                f"{type(exc).__name__}: {exc}",
                stacklevel=2,
            )
    profile = build_reference(data, max_values=STORED_MAX_VALUES)
    storage.save_reference(store, version.name, version.version, profile, prediction)
    return profile, prediction, version


def _current(
    current: Any, window: str | None, name: str, now: float | None, home: str | Path | None
) -> tuple[pd.DataFrame, str | None, float | None, float | None]:
    """(data, source, window start, window end)."""
    source = None
    if current is None:
        if window is None:
            raise MonitoringError("say what to compare: current data (a DataFrame or a file) or a window like 1d")
        frame, start, end = logs.read_window(name, logs.parse_window(window), now=now, home=home)
        return frame, f"prediction log, last {window}", start, end
    if isinstance(current, str | Path):
        source = str(current)
        current = logs.read_table(current)
    if not isinstance(current, pd.DataFrame):
        raise MonitoringError(f"current data must be a DataFrame or a file path, not {type(current).__qualname__}")
    if window is None:
        return current, source, None, None
    if logs.TIMESTAMP not in current.columns:
        raise MonitoringError(
            f"--window needs a '{logs.TIMESTAMP}' column in the current data "
            f"({source or 'DataFrame'} has {', '.join(map(str, current.columns))})"
        )
    end = float(now if now is not None else time.time())
    start = end - logs.parse_window(window)
    stamps = current[logs.TIMESTAMP]
    if pd.api.types.is_datetime64_any_dtype(stamps.dtype):
        stamps = stamps.astype("datetime64[ns, UTC]" if getattr(stamps.dt, "tz", None) else "datetime64[ns]")
        stamps = stamps.astype("int64") / 1e9
    keep = (stamps >= start) & (stamps <= end)
    return current[keep].reset_index(drop=True), source, start, end


def monitor_model(
    uri: str,
    current: Any = None,
    *,
    window: str | None = None,
    now: float | None = None,
    tests: str | Mapping[str, str] | None = None,
    thresholds: float | Mapping[str, float] | None = None,
    min_effect: float | Mapping[str, float] | None = None,
    drift_share: float | None = None,
    label_column: str = logs.LABEL,
    task: str | None = None,
    alert: AlertRule | None = None,
    on_drift: str | None = None,
    store: Store | None = None,
    home: str | Path | None = None,
    progress: bool | None = None,
    capture_retraining: bool = False,
) -> MonitorRun:
    """Compare `current` (DataFrame or file; or the predictions logged in `window`, e.g. '1d') with the model
    version's reference, store the result, and evaluate the model's alert; `on_drift` (or the alert's command)
    starts retraining when it fires. Per-model defaults come from `nbmlops monitor configure`."""
    store = _store(store, home)
    profile, prediction, version = reference_profile(uri, store=store)
    settings = storage.get_settings(store, version.name)
    tests = tests if tests is not None else settings.get("tests")
    thresholds = thresholds if thresholds is not None else settings.get("thresholds")
    min_effect = min_effect if min_effect is not None else settings.get("min_effect")
    share = drift_share if drift_share is not None else settings.get("drift_share", DRIFT_SHARE)
    rule = alert or AlertRule.from_dict(settings.get("alert", {}))
    command = on_drift or rule.on_drift

    frame, source, start, end = _current(current, window, version.name, now, home)
    if prediction and prediction not in frame.columns and len(frame):
        try:
            from nbmlops.registry import load_model

            frame = frame.copy()
            frame[prediction] = _predict(load_model(version.uri, store=store), version, frame)
        except Exception as exc:  # noqa: BLE001 - report it and monitor the features anyway
            warnings.warn(
                f"model {version.uri}: no prediction drift for this data: {type(exc).__name__}: {exc}", stacklevel=2
            )
    result = detect_drift(
        profile,
        frame,
        tests,
        thresholds,
        min_effect=min_effect,
        drift_share=share,
        prediction=prediction,
        progress=progress,
    )
    metrics: dict[str, float] = {}
    if prediction and label_column in frame.columns and prediction in frame.columns:
        metrics = performance_metrics(frame[label_column], frame[prediction], task=task)
    result_id = storage.save_result(
        store,
        result,
        model_name=version.name,
        model_version=version.version,
        window=window,
        window_start=start,
        window_end=end,
        source=source,
        metrics=metrics,
    )
    store.add_edge(storage.DRIFT_RESULT, result_id, "model_version", version.lineage_id, "monitors")
    history = storage.list_results(store, version.name, limit=rule.n)
    signals = [
        rule.signal(bool(r.dataset_drift), None if pd.isna(r.prediction_drift) else bool(r.prediction_drift))
        for r in history.itertuples()
    ]
    fired = rule.fires(signals)
    run = MonitorRun(
        result_id=result_id,
        model=version.uri,
        drift=result,
        metrics=metrics,
        window=window,
        window_start=start,
        window_end=end,
        alert=fired,
    )
    if fired:
        storage.set_alert_flag(store, result_id, True)
        if command:
            run.retraining = retrain(
                command,
                model_name=version.name,
                result_id=result_id,
                store=store,
                home=home,
                capture=capture_retraining,
            )
    return run
