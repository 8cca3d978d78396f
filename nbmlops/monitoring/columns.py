"""How a pandas column is read for drift: its kind, and its values with missing ones counted apart.

Kinds: numeric (ints, floats, nullable Int64/Float64), categorical (bool, category, string, object), and
skipped (datetime, timedelta, period, interval, complex: drift tests on them would mislead; the reason says why).
Infinite numbers count as missing, as in Evidently.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

NUMERIC = "numeric"
CATEGORICAL = "categorical"
SKIPPED = "skipped"


def column_kind(series: pd.Series) -> tuple[str, str | None]:
    """(kind, reason when skipped)."""
    dtype = series.dtype
    if pd.api.types.is_bool_dtype(dtype):
        return CATEGORICAL, None
    if pd.api.types.is_datetime64_any_dtype(dtype) or isinstance(dtype, pd.PeriodDtype):
        return SKIPPED, f"{dtype} column: a timestamp is not a feature distribution (derive e.g. an age in days)"
    if pd.api.types.is_timedelta64_dtype(dtype):
        return SKIPPED, f"{dtype} column: convert durations to a number of seconds to test them"
    if pd.api.types.is_complex_dtype(dtype):
        return SKIPPED, f"{dtype} column: complex numbers have no order to compare"
    if isinstance(dtype, pd.IntervalDtype):
        return SKIPPED, f"{dtype} column: intervals are not supported"
    if pd.api.types.is_numeric_dtype(dtype):
        return NUMERIC, None
    return CATEGORICAL, None


@dataclass
class NumericValues:
    sorted: np.ndarray  # finite values, ascending, float64
    missing: int  # nulls and infinities
    rows: int


@dataclass
class CategoryCounts:
    values: np.ndarray  # category labels as str, most frequent first
    counts: np.ndarray  # int64, aligned with values
    missing: int
    rows: int

    @property
    def total(self) -> int:
        return int(self.counts.sum())

    def as_dict(self) -> dict[str, int]:
        return dict(zip(self.values.tolist(), self.counts.tolist(), strict=True))


def numeric_values(series: pd.Series) -> NumericValues:
    """Finite values sorted once: every numeric statistic below reads this one sorted array."""
    if series.dtype == np.float64:  # a plain float column: read it in place, NaN is already its missing value
        raw = series.to_numpy(copy=False)
    else:  # ints, float32, nullable Int64/Float64 (pd.NA -> NaN), bool-free numerics
        raw = series.to_numpy(dtype=np.float64, na_value=np.nan)
    values = np.sort(raw)  # a sorted copy; the frame is untouched
    # sorting puts -inf first and +inf, then NaN, last: the finite values are one slice, found by two searches
    lo = int(np.searchsorted(values, -np.inf, side="right")) if len(values) and values[0] == -np.inf else 0
    hi = len(values) if not len(values) or np.isfinite(values[-1]) else int(np.searchsorted(values, np.inf, "left"))
    finite = values[lo:hi]
    return NumericValues(sorted=finite, missing=int(len(values) - len(finite)), rows=len(values))


def population_std(sorted_values: np.ndarray) -> float:
    """np.std (ddof=0) with one temporary instead of three: BLAS dot of the centred values."""
    if not len(sorted_values):
        return 0.0
    centred = sorted_values - sorted_values.mean()
    return float(np.sqrt(np.dot(centred, centred) / len(centred)))


def category_counts(series: pd.Series) -> CategoryCounts:
    """Counts per category, labels as str (1 and "1" are one category, as in a CSV round trip)."""
    counts = series.value_counts(dropna=True, sort=False)
    labels = counts.index.map(str) if len(counts) else pd.Index([], dtype=object)
    if len(counts) and labels.has_duplicates:
        counts = pd.Series(counts.to_numpy(), index=labels).groupby(level=0).sum()
        labels = counts.index
    order = np.argsort(-counts.to_numpy(), kind="stable")
    values = np.asarray(labels, dtype=str)[order] if len(counts) else np.array([], dtype=str)
    missing = int(series.isna().sum())
    return CategoryCounts(values=values, counts=counts.to_numpy(dtype=np.int64)[order], missing=missing,
                          rows=len(series))


def unique_counts(sorted_values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Distinct values and their counts of an ascending array, in one O(n) pass (no second sort)."""
    if not len(sorted_values):
        return sorted_values, np.array([], dtype=np.int64)
    starts = np.concatenate(([0], np.flatnonzero(sorted_values[1:] != sorted_values[:-1]) + 1))
    counts = np.diff(np.concatenate((starts, [len(sorted_values)])))
    return sorted_values[starts], counts.astype(np.int64)


def distinct_count(sorted_values: np.ndarray) -> int:
    if not len(sorted_values):
        return 0
    return int(np.count_nonzero(sorted_values[1:] != sorted_values[:-1]) + 1)


def describe(value: Any) -> str:
    return f"{type(value).__module__}.{type(value).__qualname__}"
