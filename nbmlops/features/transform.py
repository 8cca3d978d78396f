"""Running a FeatureSet's row transformations on a DataFrame: a batch, or a live event as a one-row frame.

The same function serves both paths, so a feature defined once computes the same value either way (row
transformations must be row-wise: a function that looks at other rows of its batch breaks that promise).
Input checks raise FeatureError naming the set and the column.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from nbmlops.features.definitions import Expr, FeatureSet, Transform
from nbmlops.features.errors import FeatureError

KINDS = ("number", "bool", "str", "datetime", "null")


def kind_of(series: pd.Series, *, where: str) -> str:
    """The coarse type recorded in the catalog; ints and floats are both 'number' (a null turns ints to floats)."""
    dtype = series.dtype
    if pd.api.types.is_bool_dtype(dtype):
        return "bool"
    if pd.api.types.is_numeric_dtype(dtype):
        return "number"
    if pd.api.types.is_datetime64_any_dtype(dtype):
        return "datetime"
    inferred = pd.api.types.infer_dtype(series, skipna=True)
    if inferred == "empty":
        return "null"  # no values yet: takes whatever type the feature has
    if inferred == "string":
        return "str"
    if inferred in ("integer", "floating", "mixed-integer-float", "decimal"):
        return "number"
    if inferred == "boolean":
        return "bool"
    raise FeatureError(
        f"{where}: column holds mixed or unsupported values ({inferred}); give numbers, booleans, strings or datetimes"
    )


def timestamps_ns(series: pd.Series, *, where: str) -> np.ndarray:
    """Event times as int64 nanoseconds since the epoch, UTC (naive datetimes are taken as UTC)."""
    if series.isna().any():
        raise FeatureError(f"{where}: {int(series.isna().sum())} row(s) have no timestamp")
    if pd.api.types.is_numeric_dtype(series.dtype) or pd.api.types.is_bool_dtype(series.dtype):
        raise FeatureError(f"{where}: timestamps must be datetimes or ISO strings, got {series.dtype}")
    if not pd.api.types.is_datetime64_any_dtype(series.dtype):
        try:
            series = pd.to_datetime(series, utc=True, format="mixed")
        except (ValueError, TypeError) as exc:
            raise FeatureError(f"{where}: values that are not timestamps: {exc}") from None
    if getattr(series.dtype, "tz", None) is not None:
        series = series.dt.tz_convert("UTC").dt.tz_localize(None)
    return series.astype("datetime64[ns]").to_numpy().view("int64")


def check_entities(frame: pd.DataFrame, entities: Any, *, where: str) -> None:
    for column in entities:
        if column not in frame.columns:
            shown = ", ".join(map(str, frame.columns))
            raise FeatureError(f"{where}: missing entity column '{column}' (columns: {shown})")
        values = frame[column]
        if values.isna().any():
            raise FeatureError(f"{where}: entity column '{column}' has {int(values.isna().sum())} null value(s)")
        if pd.api.types.is_bool_dtype(values.dtype) or pd.api.types.is_float_dtype(values.dtype):
            raise FeatureError(
                f"{where}: entity column '{column}' holds {values.dtype}; entity keys must be integers or strings"
            )
        if not pd.api.types.is_integer_dtype(values.dtype) and kind_of(values, where=f"{where} '{column}'") != "str":
            raise FeatureError(f"{where}: entity column '{column}' must hold integers or strings")


def apply_rows(fset: FeatureSet, data: pd.DataFrame) -> pd.DataFrame:
    """Entities, timestamp (datetime64[ns], UTC) and the stored columns of every row, in input order."""
    where = f"feature set '{fset.name}'"
    if fset.timestamp not in data.columns:
        raise FeatureError(f"{where}: missing timestamp column '{fset.timestamp}'")
    check_entities(data, fset.entities, where=where)
    ts = timestamps_ns(data[fset.timestamp], where=f"{where}, timestamp column '{fset.timestamp}'")
    frame = data.reset_index(drop=True)
    for item in fset.features:
        if isinstance(item, str):
            if item not in frame.columns:
                raise FeatureError(f"{where}: missing feature column '{item}'")
        elif isinstance(item, Expr):
            frame[item.name] = _eval(frame, item, where)
        elif isinstance(item, Transform):
            frame = _run(frame, item, where)
    for column in fset.window_inputs:
        if column not in frame.columns:
            raise FeatureError(f"{where}: window aggregation over missing column '{column}'")
    out = frame[[*fset.entities, *fset.stored_columns]].copy()
    out.insert(len(fset.entities), fset.timestamp, pd.Series(ts.view("datetime64[ns]"), index=out.index))
    return out


def _eval(frame: pd.DataFrame, item: Expr, where: str) -> pd.Series:
    try:
        result = frame.eval(item.expr)
    except Exception as exc:  # pandas raises many types (NameError, SyntaxError, TypeError...): name the feature
        raise FeatureError(
            f"{where}: expression '{item.expr}' of feature '{item.name}' failed: {type(exc).__name__}: {exc}"
        ) from None
    if not isinstance(result, pd.Series):
        result = pd.Series(result, index=frame.index)
    return result


def _run(frame: pd.DataFrame, item: Transform, where: str) -> pd.DataFrame:
    missing = [c for c in item.inputs if c not in frame.columns]
    if missing:
        raise FeatureError(f"{where}: transform '{item.fn.__name__}' needs missing column(s) {', '.join(missing)}")
    arg = frame[list(item.inputs)] if item.inputs else frame
    try:
        result = item.fn(arg)
    except FeatureError:
        raise
    except Exception as exc:  # user code: report which transform failed and keep the cause
        raise FeatureError(f"{where}: transform '{item.fn.__name__}' failed: {type(exc).__name__}: {exc}") from exc
    if isinstance(result, pd.Series):
        result = result.to_frame(item.outputs[0]) if len(item.outputs) == 1 else None
    if not isinstance(result, pd.DataFrame):
        raise FeatureError(
            f"{where}: transform '{item.fn.__name__}' must return a DataFrame with columns "
            f"{', '.join(item.outputs)} (or a Series for one output)"
        )
    if len(result) != len(frame):
        raise FeatureError(f"{where}: transform '{item.fn.__name__}' returned {len(result)} rows for {len(frame)}")
    missing = [c for c in item.outputs if c not in result.columns]
    if missing:
        raise FeatureError(f"{where}: transform '{item.fn.__name__}' did not return column(s) {', '.join(missing)}")
    frame = frame.copy()
    for column in item.outputs:
        frame[column] = result[column].to_numpy()
    return frame


def column_kinds(frame: pd.DataFrame, columns: Any, *, set_name: str) -> dict[str, str]:
    return {c: kind_of(frame[c], where=f"feature set '{set_name}', column '{c}'") for c in columns}


def check_kinds(found: dict[str, str], recorded: dict[str, str], *, set_name: str) -> None:
    """A column whose type differs from what earlier ingests stored is an error, not a silent mix."""
    for column, kind in found.items():
        before = recorded.get(column)
        if before and kind != before and "null" not in (kind, before):
            raise FeatureError(
                f"feature set '{set_name}': column '{column}' holds {kind} values but the stored feature is {before}"
            )
