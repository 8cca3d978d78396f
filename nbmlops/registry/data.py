"""What the registry records about data: the model's signature, a few example rows, the training data's hash
and blob, and the reference profile that drift monitoring compares live data against.

Profile format (JSON, `PROFILE_VERSION`):
    {"version": 1, "rows": N, "columns": {NAME: COLUMN, ...}}
    numeric COLUMN:     {"kind": "numeric", "dtype", "count", "nulls", "infinite", "distinct", "mean", "std",
                         "min", "max", "quantiles": {"0.01": v, ..., "0.99": v},
                         "histogram": {"edges": [21 floats], "counts": [20 ints]}}
    categorical COLUMN: {"kind": "categorical", "dtype", "count", "nulls", "distinct",
                         "top": {value: count, ...} (most frequent first, at most TOP_N), "other": count}
    datetime COLUMN:    {"kind": "datetime", "dtype", "count", "nulls", "min", "max"} (ISO 8601)
    unsupported COLUMN: {"kind": "unsupported", "dtype", "count", "nulls", "reason"} (timedelta, complex, ...)
Kinds, histogram bins and TOP_N are nbmlops.profiling's, shared with the feature catalog and drift monitoring.
`count` is the number of non-null values; statistics of a numeric column use its finite values only.
"""

from __future__ import annotations

import hashlib
import io
import json
import math
from typing import Any

from nbmlops.registry.errors import RegistryError

PROFILE_VERSION = 1
QUANTILES = (0.01, 0.05, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95, 0.99)
EXAMPLE_ROWS = 5


def _is_frame(value: Any) -> bool:
    return any(f"{c.__module__.split('.')[0]}.{c.__name__}" == "pandas.DataFrame" for c in type(value).__mro__)


def _is_series(value: Any) -> bool:
    return any(f"{c.__module__.split('.')[0]}.{c.__name__}" == "pandas.Series" for c in type(value).__mro__)


def _is_ndarray(value: Any) -> bool:
    return type(value).__module__ == "numpy" and type(value).__name__ == "ndarray"


def as_data(value: Any, what: str) -> Any:
    """A DataFrame or ndarray as given; a Series, a list of records or a dict of columns as a DataFrame."""
    if _is_frame(value) or _is_ndarray(value):
        return value
    import pandas as pd

    if _is_series(value):
        return value.to_frame()
    if isinstance(value, dict) or (isinstance(value, list) and value and all(isinstance(r, dict) for r in value)):
        return pd.DataFrame(value)
    raise RegistryError(
        f"{what} must be a pandas DataFrame or Series, a numpy array, a list of records or a dict "
        f"of columns, not {type(value).__module__}.{type(value).__qualname__}"
    )


def signature(example: Any) -> dict[str, Any]:
    """The inputs the model expects: column names and dtypes of a DataFrame, or an array's dtype and shape
    (the first dimension, the batch, as -1)."""
    if _is_ndarray(example):
        return {"type": "ndarray", "dtype": str(example.dtype), "shape": [-1, *example.shape[1:]]}
    return {
        "type": "dataframe",
        "columns": [{"name": str(name), "dtype": str(dtype)} for name, dtype in example.dtypes.items()],
    }


def example_rows(example: Any) -> dict[str, Any]:
    """The first few rows, JSON-able: {"columns": [...], "data": [[...], ...]} (or {"data": [...]} for arrays)."""
    if _is_ndarray(example):
        head = example[:EXAMPLE_ROWS]
        return {"data": json.loads(json.dumps(head.tolist(), default=str))}
    return json.loads(example.head(EXAMPLE_ROWS).to_json(orient="split", index=False, date_format="iso"))


def data_bytes(data: Any) -> tuple[bytes, str]:
    """Bytes of the data as the runner would marshal it (DataFrame → Parquet, numeric array → .npy), so the same
    training set has the same hash in a pipeline's lineage and in the registry's."""
    if _is_ndarray(data) and not data.dtype.hasobject:
        import numpy as np

        buffer = io.BytesIO()
        np.save(buffer, data, allow_pickle=False)
        return buffer.getvalue(), "npy"
    frame = _frame(data)
    buffer = io.BytesIO()
    try:
        frame.to_parquet(buffer, engine="pyarrow")
    except Exception as exc:  # noqa: BLE001 - pyarrow's many type errors all mean: this data has no Parquet form
        raise RegistryError(f"the reference data can't be stored as Parquet: {type(exc).__name__}: {exc}") from exc
    return buffer.getvalue(), "parquet"


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _frame(data: Any) -> Any:
    import pandas as pd

    if _is_ndarray(data):
        if data.ndim == 1:
            return pd.DataFrame({"0": data})
        if data.ndim != 2:
            raise RegistryError(f"reference data arrays must have 1 or 2 dimensions, not {data.ndim}")
        return pd.DataFrame(data, columns=[str(i) for i in range(data.shape[1])])
    return data


def _num(value: Any) -> float | None:
    value = float(value)
    return value if math.isfinite(value) else None


def profile(data: Any) -> dict[str, Any]:
    """Per-column summary of the reference (training) data, for drift monitoring (format in the module doc)."""
    import numpy as np

    from nbmlops import profiling  # pandas: only when a profile is made

    frame = _frame(data)
    columns: dict[str, Any] = {}
    for name, series in frame.items():
        nulls = int(series.isna().sum())
        base = {"dtype": str(series.dtype), "count": int(len(series) - nulls), "nulls": nulls}
        kind, reason = profiling.column_kind(series)
        if kind == profiling.CATEGORICAL:
            counts = profiling.category_counts(series)
            top, other = profiling.top_values(counts)
            columns[str(name)] = {"kind": kind, **base, "distinct": int(len(counts)), "top": top, "other": other}
        elif kind == profiling.DATETIME:
            present = series.dropna()
            columns[str(name)] = {
                "kind": kind,
                **base,
                "min": present.min().isoformat() if len(present) else None,
                "max": present.max().isoformat() if len(present) else None,
            }
        elif kind == profiling.UNSUPPORTED:
            columns[str(name)] = {"kind": kind, **base, "reason": reason}
        else:
            finite, infinite = profiling.finite_numbers(series)
            column: dict[str, Any] = {
                "kind": kind,
                **base,
                "infinite": infinite,
                "distinct": int(len(np.unique(finite))),
            }
            if len(finite):
                column.update(
                    mean=_num(finite.mean()),
                    std=_num(finite.std(ddof=1)) if len(finite) > 1 else 0.0,
                    min=_num(finite.min()),
                    max=_num(finite.max()),
                    quantiles={str(q): _num(v) for q, v in zip(QUANTILES, np.quantile(finite, QUANTILES), strict=True)},
                    histogram=profiling.numeric_histogram(finite),
                )
            else:
                column.update(mean=None, std=None, min=None, max=None, quantiles={}, histogram=None)
            columns[str(name)] = column
    return {"version": PROFILE_VERSION, "rows": int(len(frame)), "columns": columns}
