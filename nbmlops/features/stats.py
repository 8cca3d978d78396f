"""Statistics of every feature of a set version over all its offline rows (window features evaluated at each
event's own time), cached in the catalog (the version's row) and recomputed only after new ingests."""

from __future__ import annotations

import hashlib
import json
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from nbmlops.features.definitions import SetSpec
from nbmlops.features.join import join_set
from nbmlops.features.offline import IngestRecord, OfflineStore

if TYPE_CHECKING:
    from nbmlops.features.catalog_db import CatalogDB

BINS = 10


def column_stats(values: Any) -> dict[str, Any]:
    series = pd.Series(values)
    nulls = int(series.isna().sum())
    present = series.dropna()
    out: dict[str, Any] = {"count": int(len(present)), "nulls": nulls, "min": None, "max": None, "mean": None,
                           "distinct": int(present.nunique()), "histogram": None}
    if len(present) == 0:
        return out
    if pd.api.types.is_numeric_dtype(present.dtype) and not pd.api.types.is_bool_dtype(present.dtype):
        numbers = present.to_numpy(dtype=np.float64)
        out.update(min=float(numbers.min()), max=float(numbers.max()), mean=float(numbers.mean()))
        counts, edges = np.histogram(numbers, bins=BINS)
        out["histogram"] = {"edges": edges.tolist(), "counts": counts.tolist()}
    else:
        if pd.api.types.is_datetime64_any_dtype(present.dtype):
            out.update(min=str(present.min()), max=str(present.max()))
        top = present.astype(str).value_counts().head(BINS)
        out["histogram"] = {"values": top.index.tolist(), "counts": top.tolist()}
    return out


def set_stats(offline: OfflineStore, catalog: CatalogDB, spec: SetSpec,
              ingests: list[IngestRecord]) -> dict[str, dict[str, Any]]:
    """Every feature's statistics over the version's rows: from the catalog's cache while its ingests are the
    same, else computed and cached there."""
    state = hashlib.sha256(json.dumps([r.id for r in ingests]).encode()).hexdigest()
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
