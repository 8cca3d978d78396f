"""The point-in-time lens on a training set from get_offline_features: for each row and feature set, which event
the join picked (the entity's latest at or before the row's time), how stale it was, whether the set's TTL had
expired, and what a naive latest-value join (each entity's newest event, whatever its time) would have taken
instead: a value from the row's future.

    report = point_in_time_report(train, vector, timestamp_column="ts", sample=20)
    report.rows        # one row per sampled training row and set: picked_ts, age_s, ttl_expired, naive_ts, leaked
    report.summary     # per set: rows, rows with a value, expired, leaked rows and leaked values (all rows)

The counts cover every row of the training set; `rows` holds only the sample. Row features (one event per row)
are what a latest-value join gets wrong; window aggregations are counted with their set's leaked rows too (a
naive join would read the window as of the newest event).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from nbmlops.features.errors import FeatureError
from nbmlops.features.transform import timestamps_ns
from nbmlops.features.vectors import FeatureVector, resolve

if TYPE_CHECKING:
    from nbmlops.features.store import FeatureStore


@dataclass
class PointInTimeReport:
    vector: str
    timestamp_column: str
    rows: pd.DataFrame  # the sample: row, set, entity, query_ts, picked_ts, age_s, ttl_s, ttl_expired, naive_ts, leaked
    summary: pd.DataFrame  # per set: rows, with_value, ttl_expired, leaked_rows, features, leaked_values
    total_rows: int

    @property
    def leaked_values(self) -> int:
        return int(self.summary["leaked_values"].sum()) if len(self.summary) else 0


def training_vector(training_df: pd.DataFrame, store: FeatureStore) -> FeatureVector:
    """The vector a training set was made from, by the key get_offline_features left in `training_df.attrs`."""
    import json

    key = training_df.attrs.get("training_set")
    if not key:
        raise FeatureError(
            "this frame carries no training-set key (attrs['training_set'], which "
            "get_offline_features sets and a copy may lose): pass vector="
        )
    entry = store.files.read_bytes(f"features/training_sets/{key}.json")
    if entry is None:
        raise FeatureError(
            f"training set {key[:12]} is not in the feature store at {store.files.where('')}: pass vector="
        )
    record = store.catalog.vector(json.loads(entry)["vector"])
    return FeatureVector(record["name"], record["features"], record.get("label"), record.get("description") or "")


def point_in_time_report(
    training_df: pd.DataFrame,
    vector: FeatureVector | None,
    store: FeatureStore,
    *,
    timestamp_column: str = "ts",
    sample: int = 20,
    seed: int = 0,
) -> PointInTimeReport:
    if not isinstance(training_df, pd.DataFrame):
        raise FeatureError(f"a training set is a DataFrame from get_offline_features, not {type(training_df).__name__}")
    vector = vector or training_vector(training_df, store)
    if timestamp_column not in training_df.columns:
        raise FeatureError(
            f"training set of vector '{vector.name}': no timestamp column '{timestamp_column}' "
            f"(columns: {', '.join(map(str, training_df.columns[:20]))})"
        )
    resolved = resolve(vector, store.catalog)
    q_ts = timestamps_ns(training_df[timestamp_column], where=f"training set of '{vector.name}'")
    rng = np.random.default_rng(seed)
    n = len(training_df)
    picked_rows = np.sort(rng.choice(n, size=min(sample, n), replace=False)) if n else np.array([], dtype=int)
    sample_parts, summary = [], []
    for group in resolved.groups:
        spec = group.spec
        entities = list(spec.entities)
        missing = [e for e in entities if e not in training_df.columns]
        if missing:
            raise FeatureError(
                f"training set of vector '{vector.name}': no entity column {', '.join(missing)} of "
                f"feature set '{spec.name}'"
            )
        events = store.offline.read(spec, columns=[*entities, spec.timestamp]).to_pandas()
        events["_ts"] = (
            timestamps_ns(events[spec.timestamp], where=f"feature set '{spec.name}'")
            if len(events)
            else np.array([], dtype="int64")
        )
        keys = training_df[entities].astype(str).agg("\x1f".join, axis=1) if entities else pd.Series([""] * n)
        event_keys = events[entities].astype(str).agg("\x1f".join, axis=1) if len(events) else pd.Series([], dtype=str)
        frame = pd.DataFrame({"_key": keys.to_numpy(), "_q": q_ts, "_row": np.arange(n)})
        found = pd.DataFrame({"_key": event_keys.to_numpy(), "_ts": events["_ts"].to_numpy(dtype="int64")})
        picked = pd.merge_asof(
            frame.sort_values("_q"),
            found.sort_values("_ts"),
            left_on="_q",
            right_on="_ts",
            by="_key",
            direction="backward",
        ).sort_values("_row")
        newest = found.groupby("_key")["_ts"].max()
        naive = frame["_key"].map(newest)
        age_ns = picked["_q"].to_numpy() - picked["_ts"].to_numpy()
        has = ~np.isnan(picked["_ts"].to_numpy(dtype=float))
        ttl = spec.ttl_ns
        expired = has & (age_ns > ttl) if ttl else np.zeros(n, dtype=bool)
        leaked = (naive.to_numpy(dtype=float) > q_ts) & ~np.isnan(naive.to_numpy(dtype=float))
        summary.append(
            {
                "set": f"{spec.name}:v{spec.version}",
                "rows": n,
                "with_value": int(has.sum()),
                "ttl_expired": int(expired.sum()),
                "leaked_rows": int(leaked.sum()),
                "features": len(group.features),
                "leaked_values": int(leaked.sum()) * len(group.features),
            }
        )
        for i in picked_rows:
            row = training_df.iloc[int(i)]
            sample_parts.append(
                {
                    "row": int(i),
                    "set": f"{spec.name}:v{spec.version}",
                    "entity": ", ".join(f"{e}={row[e]}" for e in entities),
                    "query_ts": _stamp(q_ts[i]),
                    "picked_ts": _stamp(picked["_ts"].iloc[i]) if has[i] else None,
                    "age_s": float(age_ns[i]) / 1e9 if has[i] else None,
                    "ttl_s": ttl / 1e9 if ttl else None,
                    "ttl_expired": bool(expired[i]),
                    "naive_ts": _stamp(naive.iloc[i]) if not pd.isna(naive.iloc[i]) else None,
                    "leaked": bool(leaked[i]),
                    "values": {c: _plain(row[c]) for c in group.columns if c in training_df.columns},
                }
            )
    return PointInTimeReport(vector.name, timestamp_column, pd.DataFrame(sample_parts), pd.DataFrame(summary), n)


def _stamp(ns: Any) -> pd.Timestamp:
    return pd.Timestamp(int(ns), unit="ns")


def _plain(value: Any) -> Any:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return None
    return value.item() if hasattr(value, "item") else value
