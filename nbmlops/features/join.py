"""The point-in-time join of one feature set onto entity rows, shared by the in-process and Ray engines.

For a row (entity, t): row features come from the entity's last event with ts <= t, window features aggregate
its events in (t - w, t]; if there is no such event, or the last is older than the set's TTL, every feature of
the set is null for that row (the row itself is kept, as pandas.merge_asof keeps it).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from nbmlops.features import windows as win
from nbmlops.features.definitions import SetSpec, WindowFeature
from nbmlops.features.pit import EventIndex, entity_codes, take


def join_set(
    spec: SetSpec,
    events: pd.DataFrame,
    queries: pd.DataFrame,
    q_ts: np.ndarray,
    row_features: list[str],
    windows: list[WindowFeature],
) -> dict[str, np.ndarray]:
    """Feature arrays aligned with `queries` (which hold the set's entity columns); q_ts in int64 ns."""
    ev_codes, q_codes = entity_codes(events, queries, spec.entities)
    ev_ts = events[spec.timestamp].to_numpy().astype("datetime64[ns]").view(np.int64)
    index = EventIndex.build(ev_codes, ev_ts)
    hi = index.asof(q_codes, q_ts)
    alive = hi >= 0
    if spec.ttl_ns is not None and len(index.ts):
        alive &= index.ts[np.maximum(hi, 0)] >= q_ts - spec.ttl_ns
    hi = np.where(alive, hi, -1)
    out: dict[str, np.ndarray] = {}
    rows = np.where(alive, index.order[np.maximum(hi, 0)], -1) if len(index.order) else hi
    for name in row_features:
        out[name] = take(events[name].array, rows)
    if windows:
        inputs = {w.column for w in windows if w.column is not None}
        columns = {c: events[c].iloc[index.order].reset_index(drop=True) for c in inputs}
        out.update(win.evaluate(index, columns, windows, q_codes, q_ts, hi, alive))
    return out
