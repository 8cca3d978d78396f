"""Sliding-window aggregations evaluated at query times: the value at t aggregates events in (t - w, t].

One function serves the offline join (queries = training rows) and the online read (queries = entities at the
read time, events = the online store's buffered events): the window holds the same events in the same order on
both paths, so sums come out bit for bit equal. Reductions run over each window's own slice (ufunc.reduceat),
never as differences of running totals, which would round differently over different histories.

Empty window: count/sum/distinct are 0, mean/min/max/last are null. No event at or before t (or the last one
older than the TTL): every feature of the set is null.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from nbmlops.features.definitions import WindowFeature
from nbmlops.features.pit import EventIndex


def _reduce(ufunc: np.ufunc, values: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """ufunc over values[lo+1 : hi+1] per query (undefined where the slice is empty: callers mask those)."""
    padded = np.append(values, values[:1] if len(values) else np.zeros(1, values.dtype))
    idx = np.empty(2 * len(lo), dtype=np.int64)
    idx[0::2], idx[1::2] = lo + 1, hi + 1
    if len(idx) == 0:
        return np.zeros(0, dtype=values.dtype)
    return ufunc.reduceat(padded, idx)[0::2]


def evaluate(
    index: EventIndex,
    columns: dict[str, pd.Series],
    windows: Sequence[WindowFeature],
    q_codes: np.ndarray,
    q_ts: np.ndarray,
    hi: np.ndarray,
    alive: np.ndarray,
) -> dict[str, np.ndarray]:
    """Window features per query. `columns` hold the events' input columns in index (sorted) order; `hi` is each
    query's last-event position (-1: none); `alive` marks queries with an event within the TTL."""
    out: dict[str, np.ndarray] = {}
    lo_cache: dict[int, np.ndarray] = {}
    for feature in windows:
        lo = lo_cache.get(feature.window_ns)
        if lo is None:
            lo = lo_cache[feature.window_ns] = np.where(alive, index.floor(q_codes, q_ts - feature.window_ns), -1)
        top = np.where(alive, hi, -1)  # dead queries: an empty slice at the start, masked below
        lo = np.minimum(lo, top)
        empty = lo == top
        values = _agg(feature, columns, lo, top, empty)
        out[feature.name] = np.where(alive, values, np.nan) if values.dtype.kind == "f" else _null(values, alive)
    return out


def _null(values: np.ndarray, alive: np.ndarray) -> np.ndarray:
    result = values.astype(object)
    result[~alive] = None
    return result


def _agg(
    feature: WindowFeature, columns: dict[str, pd.Series], lo: np.ndarray, hi: np.ndarray, empty: np.ndarray
) -> np.ndarray:
    if feature.column is None:  # events in the window
        return (hi - lo).astype(np.float64)
    series = columns[feature.column]
    notnull = series.notna().to_numpy()
    if feature.agg == "last":
        values = series.to_numpy()
        picked = values[np.maximum(hi, 0)] if len(values) else np.full(len(hi), np.nan)
        if picked.dtype.kind in "iub":
            picked = picked.astype(np.float64)
        if picked.dtype.kind == "f":
            return np.where(empty, np.nan, picked)
        picked = picked.astype(object)
        picked[empty] = None
        return picked
    counts = np.concatenate([[0], np.cumsum(notnull)])  # integer prefix sums are exact
    nonnull = (counts[hi + 1] - counts[lo + 1]).astype(np.float64)
    if feature.agg == "count":
        return nonnull
    if feature.agg == "distinct":
        return _distinct(series, notnull, lo, hi)
    numbers = pd.to_numeric(series, errors="raise").to_numpy(dtype=np.float64, na_value=np.nan)
    if feature.agg in ("sum", "mean"):
        sums = _reduce(np.add, np.where(notnull, numbers, 0.0), lo, hi)
        sums = np.where(empty, 0.0, sums)
        if feature.agg == "sum":
            return sums
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(nonnull > 0, sums / np.where(nonnull > 0, nonnull, 1), np.nan)
    ufunc = np.fmin if feature.agg == "min" else np.fmax
    extreme = _reduce(ufunc, numbers, lo, hi)
    return np.where(empty | (nonnull == 0), np.nan, extreme)


def _distinct(series: pd.Series, notnull: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """Distinct non-null values in (lo, hi]: events whose previous equal value lies at or before lo."""
    codes, _ = pd.factorize(series)  # nulls get -1
    n = len(codes)
    prev = np.full(n, -2, dtype=np.int64)  # -2: no earlier equal value anywhere
    order = np.argsort(codes, kind="stable")
    same = np.zeros(n, dtype=bool)
    if n > 1:
        same[1:] = codes[order][1:] == codes[order][:-1]
    prev[order[same]] = order[np.flatnonzero(same) - 1]
    # count per query over its slice; windows rarely hold many events, so a loop over queries is fine
    prev = np.where(notnull, prev, np.iinfo(np.int64).max)
    result = np.zeros(len(lo), dtype=np.float64)
    for i, (a, b) in enumerate(zip(lo, hi, strict=True)):
        if b > a:
            result[i] = np.count_nonzero(prev[a + 1 : b + 1] <= a)
    return result
