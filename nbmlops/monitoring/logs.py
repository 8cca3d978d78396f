"""Logged predictions and labels of a model (Parquet under <home>/monitoring/<model>/), and time windows.

Serving calls log_predictions off the request path; labels arrive later through log_labels and are joined to
predictions by id. `--window 1d` reads the predictions logged in the last day.
"""

from __future__ import annotations

import re
import secrets
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from nbmlops.monitoring.errors import MonitoringDataError

TIMESTAMP, ID, PREDICTION, LABEL = "timestamp", "id", "prediction", "label"
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


def parse_window(text: str) -> float:
    """'90s', '30m', '12h', '1d', '2w' -> seconds."""
    found = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*", str(text))
    if not found or float(found.group(1)) <= 0:
        raise MonitoringDataError(f"window '{text}' is not a duration like 30m, 12h, 1d or 2w")
    return float(found.group(1)) * _UNITS[found.group(2)]


def log_dir(home: str | Path | None, model_name: str) -> Path:
    from nbmlops.store.config import load_settings

    return Path(load_settings(home).home) / "monitoring" / model_name


def _write(folder: Path, frame: pd.DataFrame) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{time.strftime('%Y%m%d-%H%M%S', time.gmtime())}-{secrets.token_hex(4)}.parquet"
    tmp = path.with_suffix(".tmp")
    frame.to_parquet(tmp, index=False)
    tmp.replace(path)  # readers never see a half-written file
    return path


def log_predictions(
    model_name: str,
    features: pd.DataFrame,
    predictions: Any,
    *,
    ids: Any = None,
    timestamp: float | None = None,
    home: str | Path | None = None,
) -> Path:
    """Append a batch of model inputs and outputs to the model's prediction log."""
    frame = features.reset_index(drop=True).copy()
    preds = np.asarray(predictions)
    if len(preds) != len(frame):
        raise MonitoringDataError(f"{len(preds)} predictions for {len(frame)} rows of features")
    frame[PREDICTION] = preds
    if ids is not None:
        frame[ID] = np.asarray(ids)
    frame[TIMESTAMP] = float(timestamp if timestamp is not None else time.time())
    return _write(log_dir(home, model_name) / "predictions", frame)


def log_labels(
    model_name: str, ids: Any, labels: Any, *, timestamp: float | None = None, home: str | Path | None = None
) -> Path:
    """Record ground truth as it arrives; monitoring joins it to predictions by id."""
    frame = pd.DataFrame({ID: np.asarray(ids), LABEL: np.asarray(labels)})
    frame[TIMESTAMP] = float(timestamp if timestamp is not None else time.time())
    return _write(log_dir(home, model_name) / "labels", frame)


def _read_all(folder: Path) -> pd.DataFrame | None:
    files = sorted(folder.glob("*.parquet")) if folder.is_dir() else []
    if not files:
        return None
    return pd.concat([pd.read_parquet(f) for f in files], ignore_index=True)


def read_window(
    model_name: str, seconds: float, *, now: float | None = None, home: str | Path | None = None
) -> tuple[pd.DataFrame, float, float]:
    """(predictions logged in [now - seconds, now] with labels joined by id, start, end)."""
    end = float(now if now is not None else time.time())
    start = end - seconds
    folder = log_dir(home, model_name)
    logged = _read_all(folder / "predictions")
    if logged is None:
        raise MonitoringDataError(
            f"no predictions logged for model '{model_name}' under {folder / 'predictions'} "
            "(log them with nbmlops.monitoring.log_predictions, or pass --current FILE)"
        )
    window = logged[(logged[TIMESTAMP] >= start) & (logged[TIMESTAMP] <= end)].reset_index(drop=True)
    labels = _read_all(folder / "labels")
    if labels is not None and ID in window.columns:
        from nbmlops.monitoring.performance import join_labels

        window = join_labels(window, labels.drop(columns=[TIMESTAMP]))
    return window, start, end


def read_table(path: str | Path) -> pd.DataFrame:
    """A Parquet, CSV or JSON-lines file as a DataFrame."""
    file = Path(path)
    if not file.exists():
        raise MonitoringDataError(f"current data file {file} does not exist")
    suffix = file.suffix.lower()
    try:
        if suffix in (".parquet", ".pq") or file.is_dir():
            return pd.read_parquet(file)
        if suffix in (".csv", ".tsv"):
            return pd.read_csv(file, sep="\t" if suffix == ".tsv" else ",")
        if suffix in (".jsonl", ".json"):
            return pd.read_json(file, lines=suffix == ".jsonl")
    except (OSError, ValueError) as exc:
        raise MonitoringDataError(f"can't read {file}: {exc}") from exc
    raise MonitoringDataError(f"{file}: unknown data format '{suffix}' (use .parquet, .csv, .tsv, .json or .jsonl)")
