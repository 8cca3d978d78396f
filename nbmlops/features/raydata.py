"""The point-in-time join on Ray Data, for entity frames too big for one process: entity rows and events are
split by entity (hash of its code) so every partition joins on its own with the same join_set as in-process;
results come back in the entity frame's order. Ray is imported only here, when a cluster is configured."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from nbmlops.features.definitions import SetSpec, WindowFeature
from nbmlops.features.errors import FeatureError
from nbmlops.features.pit import entity_codes

ROW = "__nbf_row"
PART = "__nbf_part"


def _init(address: str | None) -> Any:
    try:
        import ray
    except ImportError:
        raise FeatureError('the Ray join engine needs the ray extra: pip install "nbmlops[ray]"') from None
    if not ray.is_initialized():
        ray.init(
            address=None if address in (None, "", "local") else address,
            ignore_reinit_error=True,
            log_to_driver=False,
            include_dashboard=False,
        )
    return ray


def join_on_ray(
    spec: SetSpec,
    events: pd.DataFrame,
    queries: pd.DataFrame,
    q_ts: np.ndarray,
    row_features: list[str],
    windows: list[WindowFeature],
    address: str | None,
    partitions: int | None = None,
) -> dict[str, np.ndarray]:
    ray = _init(address)
    parts = partitions or max(2, int(ray.cluster_resources().get("CPU", 2)) * 2)
    ev_codes, q_codes = entity_codes(events, queries, spec.entities)
    ev_part = ev_codes % parts
    event_refs = [ray.put(events[ev_part == p].reset_index(drop=True)) for p in range(parts)]
    q = queries.reset_index(drop=True).assign(**{ROW: np.arange(len(queries)), "__nbf_ts": q_ts, PART: q_codes % parts})
    frames = [q[q[PART] == p] for p in range(parts)]
    dataset = ray.data.from_pandas([f for f in frames if len(f)])

    def join_batch(batch: pd.DataFrame) -> pd.DataFrame:
        from nbmlops.features.join import join_set

        out = []
        for part, rows in batch.groupby(PART, sort=False):
            part_events = ray.get(event_refs[int(part)])
            arrays = join_set(
                spec, part_events, rows[list(spec.entities)], rows["__nbf_ts"].to_numpy(), row_features, windows
            )
            out.append(pd.DataFrame({ROW: rows[ROW].to_numpy(), **arrays}))
        return pd.concat(out, ignore_index=True)

    joined = dataset.map_batches(join_batch, batch_format="pandas", batch_size=None).to_pandas()
    joined = joined.sort_values(ROW, kind="stable")
    names = row_features + [w.name for w in windows]
    return {name: joined[name].to_numpy() for name in names}
