"""Checking model inputs against a registered signature (nbmlops.registry.data.signature's format).

conform() hands the model exactly the columns it was trained on, in order and with their dtypes, or raises
InvalidInput naming every missing, extra or mistyped column with the type it expects.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from nbmlops.serving.errors import InvalidInput

# pandas.api.types.infer_dtype's answers (nulls skipped) that each dtype family accepts
_ACCEPTS = {
    "int": {"integer", "floating", "mixed-integer-float", "empty"},  # floats only where whole (checked below)
    "float": {"integer", "floating", "mixed-integer-float", "decimal", "empty"},
    "bool": {"boolean", "empty"},
    "str": {"string", "empty"},
    "datetime": {"datetime64", "datetime", "date", "string", "empty"},
}


def family(dtype: str) -> str:
    """'int64' -> 'int', 'float32' -> 'float', 'object'/'string'/'category' -> 'str', 'datetime64[ns]' -> 'datetime'."""
    text = dtype.lower()
    if text.startswith(("int", "uint")):
        return "int"
    if text.startswith(("float", "double")):
        return "float"
    if text in ("bool", "boolean"):
        return "bool"
    if text.startswith("datetime"):
        return "datetime"
    return "str"


def input_columns(signature: dict[str, Any] | None) -> list[str] | None:
    """The column names a dataframe signature lists, in order (None without one)."""
    if not signature or signature.get("type") != "dataframe":
        return None
    return [c["name"] for c in signature.get("columns", [])]


def _mistyped(series: pd.Series, dtype: str) -> str | None:
    """Why the values can't be the signature's dtype, or None when they can."""
    kind = family(dtype)
    if series.dtype.kind in "iu" and kind in ("int", "float") or series.dtype.kind == "f" and kind == "float":
        return None  # the common case, without inferring
    inferred = pd.api.types.infer_dtype(series, skipna=True)
    if inferred not in _ACCEPTS[kind]:
        sample = next((v for v in series if v is not None and not (isinstance(v, float) and np.isnan(v))), None)
        return f"got {inferred} values such as {sample!r}"
    if kind == "int" and inferred in ("floating", "mixed-integer-float"):
        values = pd.to_numeric(series, errors="coerce").dropna().to_numpy(dtype=float)
        if not np.all(np.isfinite(values) & (values == np.round(values))):
            return "got numbers that are not whole"  # the online store keeps numbers as float64: 5.0 is 5
    return None


def _cast(series: pd.Series, dtype: str) -> pd.Series:
    if str(series.dtype) == dtype:
        return series
    kind = family(dtype)
    if kind in ("int", "float"):
        if series.isna().any():
            return series.astype("float64")  # a null in an integer column: NaN, as pandas reads it
        return series.astype(dtype)
    if kind == "datetime":
        return pd.to_datetime(series)
    if kind == "bool" and not series.isna().any():
        return series.astype(bool)
    return series


def conform(frame: pd.DataFrame, signature: dict[str, Any] | None, *, allow_extra: bool, where: str) -> Any:
    """The model's input from `frame`: the signature's columns in order, cast to its dtypes (an ndarray for an
    ndarray signature). `allow_extra`: columns beyond the signature are dropped instead of refused (a graph's
    entity keys and intermediate columns)."""
    if not signature:
        return frame
    if signature.get("type") == "ndarray":
        return _as_array(frame, signature, where)
    expected = signature.get("columns", [])
    names = [c["name"] for c in expected]
    problems = []
    present = set(map(str, frame.columns))
    for column in expected:
        if column["name"] not in present:
            problems.append({"column": column["name"], "problem": "missing", "expected": column["dtype"]})
    if not allow_extra:
        problems += [
            {"column": str(c), "problem": "unexpected column", "expected": None}
            for c in frame.columns
            if str(c) not in set(names)
        ]
    out = {}
    for column in expected:
        if column["name"] not in present:
            continue
        series = frame[column["name"]]
        why = _mistyped(series, column["dtype"])
        if why:
            problems.append({"column": column["name"], "problem": why, "expected": column["dtype"]})
            continue
        try:
            out[column["name"]] = _cast(series, column["dtype"])
        except (ValueError, TypeError) as exc:
            problems.append({"column": column["name"], "problem": str(exc), "expected": column["dtype"]})
    if problems:
        text = "; ".join(
            f"'{p['column']}': {p['problem']}" + (f" (expected {p['expected']})" if p["expected"] else "")
            for p in problems
        )
        raise InvalidInput(f"{where}: the rows don't match the model's signature: {text}", detail=problems)
    return pd.DataFrame(out, index=frame.index)


def _as_array(frame: pd.DataFrame, signature: dict[str, Any], where: str) -> np.ndarray:
    shape = signature.get("shape") or [-1]
    width = shape[1] if len(shape) > 1 else None
    if width is not None and frame.shape[1] != width:
        raise InvalidInput(
            f"{where}: the model takes rows of {width} values, got {frame.shape[1]}",
            detail=[{"column": "*", "problem": f"{frame.shape[1]} values", "expected": str(width)}],
        )
    try:
        return frame.to_numpy(dtype=signature.get("dtype") or None)
    except (ValueError, TypeError) as exc:
        raise InvalidInput(
            f"{where}: the rows are not {signature.get('dtype')} values: {exc}",
            detail=[{"column": "*", "problem": str(exc), "expected": signature.get("dtype")}],
        ) from exc
