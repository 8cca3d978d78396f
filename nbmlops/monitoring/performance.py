"""Model quality once labels arrive: classifier or regressor metrics, with labels joined to predictions by id."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from nbmlops.monitoring.errors import MonitoringDataError

CLASSIFIER = ("accuracy", "precision", "recall", "f1", "roc_auc")
REGRESSOR = ("mae", "rmse", "r2")


def join_labels(
    predictions: pd.DataFrame, labels: pd.DataFrame, *, id_column: str = "id", label_column: str = "label"
) -> pd.DataFrame:
    """Predictions with their label where one arrived (the latest label per id wins)."""
    for frame, what in ((predictions, "predictions"), (labels, "labels")):
        if id_column not in frame.columns:
            raise MonitoringDataError(
                f"the {what} have no '{id_column}' column to join on (columns: {', '.join(map(str, frame.columns))})"
            )
    if label_column not in labels.columns:
        raise MonitoringDataError(f"the labels have no '{label_column}' column")
    latest = labels[[id_column, label_column]].drop_duplicates(id_column, keep="last")
    base = predictions.drop(columns=[label_column], errors="ignore")
    return base.merge(latest, on=id_column, how="left")


def infer_task(y_true: pd.Series) -> str:
    """classification for bool/str/category labels or integers with few values; regression otherwise."""
    if not pd.api.types.is_numeric_dtype(y_true.dtype) or pd.api.types.is_bool_dtype(y_true.dtype):
        return "classification"
    values = y_true.dropna()
    if pd.api.types.is_integer_dtype(values.dtype) or (len(values) and np.all(np.mod(values, 1) == 0)):
        return "classification" if values.nunique() <= 20 else "regression"
    return "regression"


def performance_metrics(y_true: Any, y_pred: Any, *, task: str | None = None, y_score: Any = None) -> dict[str, float]:
    """accuracy, precision, recall, F1 (macro when more than two classes), ROC AUC (with scores, or from 0/1
    predictions of a binary classifier) — or MAE, RMSE, R². Rows without a label are left out; `n_labelled` says how
    many were used."""
    from sklearn import metrics as skm

    truth = pd.Series(np.asarray(y_true)).reset_index(drop=True)
    pred = pd.Series(np.asarray(y_pred)).reset_index(drop=True)
    if len(truth) != len(pred):
        raise MonitoringDataError(f"{len(truth)} labels but {len(pred)} predictions")
    keep = truth.notna() & pred.notna()
    truth, pred = truth[keep], pred[keep]
    score = pd.Series(np.asarray(y_score)).reset_index(drop=True)[keep] if y_score is not None else None
    out: dict[str, float] = {"n_labelled": float(len(truth))}
    if len(truth) == 0:
        return out
    task = task or infer_task(truth)
    if task == "regression":
        t, p = truth.astype(float), pred.astype(float)
        out.update(
            mae=float(skm.mean_absolute_error(t, p)),
            rmse=math.sqrt(skm.mean_squared_error(t, p)),
            r2=float(skm.r2_score(t, p)) if len(t) > 1 else math.nan,
        )
        return out
    if task != "classification":
        raise MonitoringDataError(f"task must be 'classification' or 'regression', not '{task}'")
    t, p = truth.astype(str), pred.astype(str)  # 1 and 1.0 and "1" are the same class once they went through a file
    t = t.str.replace(r"\.0$", "", regex=True)
    p = p.str.replace(r"\.0$", "", regex=True)
    classes = sorted(set(t) | set(p))
    binary = len(classes) <= 2
    average = "binary" if binary else "macro"
    positive = classes[-1] if binary else 1
    kwargs: dict[str, Any] = {"average": average, "zero_division": 0}
    if binary:
        kwargs["pos_label"] = positive
    out.update(
        accuracy=float(skm.accuracy_score(t, p)),
        precision=float(skm.precision_score(t, p, **kwargs)),
        recall=float(skm.recall_score(t, p, **kwargs)),
        f1=float(skm.f1_score(t, p, **kwargs)),
    )
    if binary and t.nunique() == 2:
        scores = score.astype(float) if score is not None else (p == positive).astype(float)
        out["roc_auc"] = float(skm.roc_auc_score((t == positive).astype(int), scores))
    else:
        out["roc_auc"] = math.nan  # one class only (or multiclass without per-class scores): undefined
    return out
