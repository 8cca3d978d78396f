"""How a pandas column is read for drift: its kind, and its values with missing ones counted apart.

Kinds are nbmlops.profiling's: numeric, categorical, and skipped for its datetime and unsupported ones (drift
tests on them would mislead; the reason says why).
Infinite numbers count as missing, as in Evidently.
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from nbmlops import profiling

NUMERIC = profiling.NUMERIC
CATEGORICAL = profiling.CATEGORICAL
SKIPPED = "skipped"


def column_kind(series: pd.Series) -> tuple[str, str | None]:
    """(kind, reason when skipped): nbmlops.profiling's kinds, with datetime and unsupported columns skipped."""
    kind, reason = profiling.column_kind(series)
    if kind == profiling.DATETIME:
        return SKIPPED, f"{series.dtype} column: a timestamp is not a feature distribution (derive e.g. an age in days)"
    if kind == profiling.UNSUPPORTED:
        return SKIPPED, reason
    return kind, None


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


CHUNK = 1 << 16  # elements per temporary in chunked passes: 512 KiB, however long the column


class SortBuffer:
    """One float64 array reused for every column a worker thread sorts: a drift run then holds a column-sized copy
    per side and thread, not one per column (and no allocator churn of column-sized blocks). Arrays handed out
    are views of the buffer, valid until the next take()."""

    def __init__(self) -> None:
        self._array: np.ndarray | None = None

    def take(self, n: int) -> np.ndarray:
        if self._array is None or len(self._array) < n:
            self._array = None  # free the smaller one before allocating
            self._array = np.empty(n, dtype=np.float64)
        return self._array[:n]


class ThreadBuffers:
    """`per_thread` SortBuffers for each thread that asks, for one call: they go when this object goes."""

    def __init__(self, per_thread: int) -> None:
        self._local = threading.local()
        self._per_thread = per_thread

    def get(self) -> tuple[SortBuffer, ...]:
        found = getattr(self._local, "buffers", None)
        if found is None:
            found = self._local.buffers = tuple(SortBuffer() for _ in range(self._per_thread))
        return found


def numeric_values(series: pd.Series, buffer: SortBuffer | None = None) -> NumericValues:
    """Finite values sorted once: every numeric statistic below reads this one sorted array.

    The frame is never modified. A float64 column is copied once (into `buffer` when given, else a new array) and
    sorted in place; other numeric dtypes are converted to a new float64 array, which is itself sorted in place."""
    if series.dtype == np.float64:  # a plain float column: NaN is already its missing value
        raw = series.to_numpy(copy=False)
        owned = False
    else:  # ints, float32, nullable Int64/Float64 (pd.NA -> NaN), Arrow numbers
        raw = series.to_numpy(dtype=np.float64, na_value=np.nan)
        owned = raw.flags.owndata and raw.flags.writeable  # a fresh conversion (never a view of the frame)
    if owned:
        values = raw
    else:
        values = buffer.take(len(raw)) if buffer is not None else np.empty(len(raw), dtype=np.float64)
        np.copyto(values, raw)
    del raw
    values.sort()
    # sorting puts -inf first and +inf, then NaN, last: the finite values are one slice, found by two searches
    lo = int(np.searchsorted(values, -np.inf, side="right")) if len(values) and values[0] == -np.inf else 0
    hi = len(values) if not len(values) or np.isfinite(values[-1]) else int(np.searchsorted(values, np.inf, "left"))
    finite = values[lo:hi]
    return NumericValues(sorted=finite, missing=int(len(values) - len(finite)), rows=len(values))


def population_std(sorted_values: np.ndarray) -> float:
    """np.std (ddof=0) without a column-sized temporary: the centred squares are summed chunk by chunk."""
    n = len(sorted_values)
    if not n:
        return 0.0
    mean = sorted_values.mean()
    scratch = np.empty(min(n, CHUNK), dtype=np.float64)
    partials = []
    for start in range(0, n, CHUNK):
        part = scratch[: min(CHUNK, n - start)]
        np.subtract(sorted_values[start : start + CHUNK], mean, out=part)
        np.square(part, out=part)  # not np.dot: a BLAS call per chunk wakes BLAS's threads each time (ms each)
        partials.append(float(part.sum()))
    return float(np.sqrt(math.fsum(partials) / n))


def category_counts(series: pd.Series) -> CategoryCounts:
    """Counts per category seen, labels as str (1 and "1" are one category, as in a CSV round trip). A category
    dtype's unused categories are not values of the column: value_counts lists them with 0, and a 0 on both sides
    would make a chi-square cell 0/0."""
    counts = series.value_counts(dropna=True, sort=False)
    if isinstance(series.dtype, pd.CategoricalDtype):
        counts = counts[counts > 0]
    labels = counts.index.map(str) if len(counts) else pd.Index([], dtype=object)
    if len(counts) and labels.has_duplicates:
        counts = pd.Series(counts.to_numpy(), index=labels).groupby(level=0).sum()
        labels = counts.index
    order = np.argsort(-counts.to_numpy(), kind="stable")
    values = np.asarray(labels, dtype=str)[order] if len(counts) else np.array([], dtype=str)
    missing = int(series.isna().sum())
    return CategoryCounts(
        values=values, counts=counts.to_numpy(dtype=np.int64)[order], missing=missing, rows=len(series)
    )


def unique_counts(sorted_values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Distinct values and their counts of an ascending array, in one O(n) pass (no second sort)."""
    if not len(sorted_values):
        return sorted_values, np.array([], dtype=np.int64)
    starts = np.concatenate(([0], np.flatnonzero(sorted_values[1:] != sorted_values[:-1]) + 1))
    counts = np.diff(np.concatenate((starts, [len(sorted_values)])))
    return sorted_values[starts], counts.astype(np.int64)


def distinct_count(sorted_values: np.ndarray) -> int:
    """Distinct values of an ascending array: value changes between neighbours, counted chunk by chunk."""
    n = len(sorted_values)
    if not n:
        return 0
    changes = 0
    for start in range(0, n - 1, CHUNK):
        stop = min(start + CHUNK, n - 1)
        changes += int(np.count_nonzero(sorted_values[start + 1 : stop + 1] != sorted_values[start:stop]))
    return changes + 1


def describe(value: Any) -> str:
    return f"{type(value).__module__}.{type(value).__qualname__}"
