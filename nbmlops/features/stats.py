"""Statistics of every feature of a set version over all its offline rows (window features evaluated at each
event's own time), cached in the catalog (the version's row) and recomputed only after new ingests."""

from __future__ import annotations

import hashlib
import json
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from nbmlops import profiling
from nbmlops.features.definitions import SetSpec
from nbmlops.features.join import join_set
from nbmlops.features.offline import IngestRecord, OfflineStore

if TYPE_CHECKING:
    from nbmlops.features.catalog_db import CatalogDB


def column_stats(values: Any) -> dict[str, Any]:
    """count, nulls, distinct, min/max/mean and a histogram ({"edges", "counts"} of numbers, {"values", "counts"}
    of the most frequent categories), by nbmlops.profiling's kinds; datetimes get min/max only."""
    series = pd.Series(values)
    nulls = int(series.isna().sum())
    present = series.dropna()
    out: dict[str, Any] = {
        "count": int(len(present)),
        "nulls": nulls,
        "min": None,
        "max": None,
        "mean": None,
        "distinct": int(present.nunique()),
        "histogram": None,
    }
    if len(present) == 0:
        return out
    kind, _ = profiling.column_kind(present)
    if kind == profiling.NUMERIC:
        numbers, _ = profiling.finite_numbers(present)
        if len(numbers):
            out.update(min=float(numbers.min()), max=float(numbers.max()), mean=float(numbers.mean()))
        out["histogram"] = profiling.numeric_histogram(numbers)
    elif kind == profiling.DATETIME:
        out.update(min=present.min().isoformat(), max=present.max().isoformat())
    elif kind == profiling.CATEGORICAL:
        top, _ = profiling.top_values(profiling.category_counts(present))
        out["histogram"] = {"values": list(top), "counts": list(top.values())}
    return out


def set_stats(
    offline: OfflineStore, catalog: CatalogDB, spec: SetSpec, ingests: list[IngestRecord]
) -> dict[str, dict[str, Any]]:
    """Every feature's statistics over the version's rows: from the catalog's cache while its ingests are the
    same, else computed and cached there."""
    state = hashlib.sha256(json.dumps([profiling.PROFILER_VERSION, [r.id for r in ingests]]).encode()).hexdigest()
    cached = catalog.stats(spec)
    if cached is not None and cached.get("state") == state:
        return cached["features"]
    events = offline.read(spec, ingests=ingests).to_pandas()
    out = {name: column_stats(events[name]) for name in spec.row_features}
    if spec.windows and len(events):
        ts = events[spec.timestamp].to_numpy().astype("datetime64[ns]").view(np.int64)
        arrays = join_set(spec, events, events[list(spec.entities)], ts, [], list(spec.windows))
        out.update({w.name: column_stats(arrays[w.name]) for w in spec.windows})
    else:
        out.update({w.name: column_stats([]) for w in spec.windows})
    catalog.save_stats(spec, {"state": state, "features": out})
    return out
