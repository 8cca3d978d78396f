"""One reading of a pandas column for every part that profiles data: the registry's reference profile, the
feature catalog's statistics and drift monitoring all classify columns and bin histograms here, so a column is
the same kind everywhere (a datetime is a datetime, not a category in one place and skipped in another).

Kinds:
    numeric      ints, floats, nullable Int64/Float64 (infinite values count apart from the finite ones)
    categorical  bool, category, string, object
    datetime     datetime64 with or without a time zone
    unsupported  timedelta, period, interval, complex: no distribution to compare or summarise; the reason
                 says what to convert them to
Histograms of numbers have HISTOGRAM_BINS equal-width bins over the finite values; of categories, the TOP_N most
frequent values (as text) and the count of the rest.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

NUMERIC = "numeric"
CATEGORICAL = "categorical"
DATETIME = "datetime"
UNSUPPORTED = "unsupported"
HISTOGRAM_BINS = 20
TOP_N = 20
PROFILER_VERSION = 1  # part of cached statistics' keys: a change of bins or kinds recomputes them


def column_kind(series: pd.Series) -> tuple[str, str | None]:
    """(kind, reason) of a column; the reason is set for unsupported columns only."""
    dtype = series.dtype
    if pd.api.types.is_bool_dtype(dtype):
        return CATEGORICAL, None
    if pd.api.types.is_datetime64_any_dtype(dtype):
        return DATETIME, None
    if isinstance(dtype, pd.PeriodDtype):
        return UNSUPPORTED, f"{dtype} column: convert periods to timestamps (.dt.to_timestamp())"
    if pd.api.types.is_timedelta64_dtype(dtype):
        return UNSUPPORTED, f"{dtype} column: convert durations to a number of seconds"
    if pd.api.types.is_complex_dtype(dtype):
        return UNSUPPORTED, f"{dtype} column: complex numbers have no order to compare"
    if isinstance(dtype, pd.IntervalDtype):
        return UNSUPPORTED, f"{dtype} column: intervals are not supported"
    if pd.api.types.is_numeric_dtype(dtype):
        return NUMERIC, None
    return CATEGORICAL, None


def finite_numbers(series: pd.Series) -> tuple[np.ndarray, int]:
    """The finite values of a numeric column as float64, and how many values were infinite."""
    values = series.dropna().to_numpy(dtype=np.float64, na_value=np.nan)
    finite = values[np.isfinite(values)]
    return finite, int(len(values) - len(finite))


def numeric_histogram(finite: np.ndarray) -> dict[str, list[Any]] | None:
    """{"edges": [HISTOGRAM_BINS + 1 floats], "counts": [HISTOGRAM_BINS ints]}, or None without values."""
    if not len(finite):
        return None
    counts, edges = np.histogram(finite, bins=HISTOGRAM_BINS)
    return {"edges": [float(e) for e in edges], "counts": [int(c) for c in counts]}


def category_counts(series: pd.Series) -> pd.Series:
    """Counts of a column's non-null values as text, most frequent first."""
    return series.dropna().astype(str).value_counts()


def top_values(counts: pd.Series) -> tuple[dict[str, int], int]:
    """The TOP_N most frequent values with their counts, and the count of all the others."""
    top = counts.head(TOP_N)
    return {str(k): int(v) for k, v in top.items()}, int(counts.sum() - top.sum())
