"""The reference side of drift, computed once: per column a sorted sample (numeric) or category counts.

A monitoring run then reads only the current data: KS, Wasserstein, binned Jensen–Shannon/PSI (whose bins span
reference and current, as Evidently's do) all come from the sorted reference by binary search.
Stored per model version as one .npz blob (see storage.py); `max_values` caps a numeric column to evenly spaced
order statistics, so a 100-million-row training set is still a few MB (the cap is reported as `sampled_from`).
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from nbmlops.monitoring.columns import (
    CATEGORICAL,
    NUMERIC,
    SKIPPED,
    CategoryCounts,
    NumericValues,
    SortBuffer,
    ThreadBuffers,
    category_counts,
    column_kind,
    distinct_count,
    numeric_values,
    population_std,
)
from nbmlops.monitoring.errors import MonitoringError

FORMAT_VERSION = 1
STORED_MAX_VALUES = 1_000_000  # per numeric column in a stored profile: exact statistics up to this many rows


@dataclass
class ColumnReference:
    name: str
    kind: str  # numeric | categorical | skipped
    dtype: str
    rows: int
    missing: int = 0
    reason: str | None = None  # why skipped
    numeric: NumericValues | None = None
    categories: CategoryCounts | None = None
    distinct: int = 0
    std: float = 0.0  # population std (ddof=0), Evidently's Wasserstein norm
    sampled_from: int | None = None  # rows before the cap, when capped

    @property
    def count(self) -> int:
        """Non-missing values."""
        if self.numeric is not None:
            return len(self.numeric.sorted)
        if self.categories is not None:
            return self.categories.total
        return 0


@dataclass
class ReferenceProfile:
    rows: int
    columns: dict[str, ColumnReference] = field(default_factory=dict)

    def to_bytes(self) -> bytes:
        """An .npz of plain arrays (no pickle): safe to load from a shared artifact store."""
        arrays: dict[str, np.ndarray] = {}
        meta: dict[str, Any] = {"format": FORMAT_VERSION, "rows": self.rows, "columns": []}
        for i, col in enumerate(self.columns.values()):
            meta["columns"].append(
                {
                    "name": col.name,
                    "kind": col.kind,
                    "dtype": col.dtype,
                    "rows": col.rows,
                    "missing": col.missing,
                    "reason": col.reason,
                    "distinct": col.distinct,
                    "std": col.std,
                    "sampled_from": col.sampled_from,
                }
            )
            if col.numeric is not None:
                arrays[f"n{i}"] = col.numeric.sorted
            if col.categories is not None:
                arrays[f"v{i}"] = col.categories.values
                arrays[f"c{i}"] = col.categories.counts
        arrays["meta"] = np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8)
        buffer = io.BytesIO()
        np.savez(buffer, **arrays)
        return buffer.getvalue()

    @classmethod
    def from_bytes(cls, payload: bytes) -> ReferenceProfile:
        with np.load(io.BytesIO(payload), allow_pickle=False) as npz:
            meta = json.loads(npz["meta"].tobytes().decode())
            if meta.get("format") != FORMAT_VERSION:
                raise MonitoringError(
                    f"drift reference profile format {meta.get('format')} is not supported "
                    f"(this nbmlops reads {FORMAT_VERSION}); rebuild it with `nbmlops monitor prepare`"
                )
            profile = cls(rows=meta["rows"])
            for i, item in enumerate(meta["columns"]):
                col = ColumnReference(**item)
                if f"n{i}" in npz:
                    col.numeric = NumericValues(sorted=npz[f"n{i}"], missing=col.missing, rows=col.rows)
                if f"v{i}" in npz:
                    col.categories = CategoryCounts(
                        values=npz[f"v{i}"], counts=npz[f"c{i}"], missing=col.missing, rows=col.rows
                    )
                profile.columns[col.name] = col
        return profile


def _capped(values: np.ndarray, max_values: int | None) -> np.ndarray:
    if max_values is None or len(values) <= max_values:
        return values
    # evenly spaced order statistics keep the distribution's shape and both extremes
    picks = np.round(np.linspace(0, len(values) - 1, max_values)).astype(np.int64)
    return values[picks]


def reference_column(
    name: str, series: pd.Series, max_values: int | None = None, buffer: SortBuffer | None = None
) -> ColumnReference:
    """One column's reference side. With a `buffer`, a numeric column is sorted in it and the result's sorted values
    are a view of it (valid until the buffer's next use) unless capped to `max_values` (then a new array)."""
    kind, reason = column_kind(series)
    col = ColumnReference(name=name, kind=kind, dtype=str(series.dtype), rows=len(series), reason=reason)
    if kind == NUMERIC:
        values = numeric_values(series, buffer)
        col.missing = values.missing
        col.distinct = distinct_count(values.sorted)
        col.std = population_std(values.sorted)
        capped = _capped(values.sorted, max_values)
        if len(capped) != len(values.sorted):
            col.sampled_from = len(values.sorted)
        col.numeric = NumericValues(sorted=capped, missing=values.missing, rows=values.rows)
    elif kind == CATEGORICAL:
        col.categories = category_counts(series)
        col.missing = col.categories.missing
        col.distinct = len(col.categories.values)
    else:
        col.missing = int(series.isna().sum())
    return col


def build_reference(
    data: pd.DataFrame, *, max_values: int | None = None, columns: list[str] | None = None, parallel: bool = True
) -> ReferenceProfile:
    """Profile the reference data once (numeric columns sorted, categories counted), columns in parallel."""
    if not isinstance(data, pd.DataFrame):
        raise MonitoringError(f"reference data must be a pandas DataFrame, not {type(data).__qualname__}")
    names = [str(c) for c in data.columns] if columns is None else columns
    frame = data.set_axis([str(c) for c in data.columns], axis=1)
    from nbmlops.monitoring.parallel import map_columns

    # a column longer than the cap is sorted in a per-thread buffer and only its capped sample is kept
    buffers = ThreadBuffers(1) if max_values is not None and len(frame) > max_values else None

    def one(name: str) -> ColumnReference:
        col = reference_column(name, frame[name], max_values, buffers.get()[0] if buffers is not None else None)
        if buffers is not None and col.numeric is not None and col.sampled_from is None:
            col.numeric.sorted = col.numeric.sorted.copy()  # not capped (nulls brought it under): own the values
        return col

    built = map_columns(one, names, parallel=parallel)
    return ReferenceProfile(rows=len(data), columns=dict(zip(names, built, strict=True)))


__all__ = [
    "CATEGORICAL",
    "NUMERIC",
    "SKIPPED",
    "STORED_MAX_VALUES",
    "ColumnReference",
    "ReferenceProfile",
    "build_reference",
    "reference_column",
]
