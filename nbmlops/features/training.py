"""Training sets: cached by a hash of the definitions' versions, the data ingested, the entity rows and the
code, stored as Parquet in the content-addressed artifact store, and named in the active run's lineage."""

from __future__ import annotations

import hashlib
import io
import json
import time
from typing import TYPE_CHECKING, Any

import pandas as pd

from nbmlops.features.offline import IngestRecord
from nbmlops.features.vectors import Resolved

if TYPE_CHECKING:
    from nbmlops.features.store import FeatureStore

FORMAT = 1
_recorded: set[tuple[str, str]] = set()


def cache_key(resolved: Resolved, ingests: dict[tuple[str, int], list[IngestRecord]], entity_df: pd.DataFrame,
              timestamp_column: str) -> str:
    from nbmlops._version import __version__
    from nbmlops.features.store import hash_frame

    state = {
        "format": FORMAT, "nbmlops": __version__, "timestamp_column": timestamp_column,
        "vector": resolved.vector.record() | {"description": None},
        "sets": [[g.spec.name, g.spec.version, g.spec.raw["fingerprint"], g.features, g.columns,
                  [r.id for r in ingests[g.key]]] for g in resolved.groups],
        "entity_df": hash_frame(entity_df),
    }
    return hashlib.sha256(json.dumps(state, sort_keys=True).encode()).hexdigest()


def _index(key: str) -> str:
    return f"features/training_sets/{key}.json"


def _artifacts(store: FeatureStore) -> Any:
    from nbmlops.store.artifacts import ArtifactStore

    return ArtifactStore(store.files.root)


def load(store: FeatureStore, key: str) -> pd.DataFrame | None:
    data = store.files.read_bytes(_index(key))
    if data is None:
        return None
    entry = json.loads(data)
    artifacts = _artifacts(store)
    if not artifacts.exists(entry["sha256"]):
        return None  # blob removed: recompute
    frame = pd.read_parquet(io.BytesIO(artifacts.get_bytes(entry["sha256"])))
    frame.attrs["training_set"] = key
    return frame


def save(store: FeatureStore, key: str, frame: pd.DataFrame, resolved: Resolved) -> None:
    from nbmlops.features.store import parquet_bytes

    blob = _artifacts(store).put_bytes(parquet_bytes(frame))
    entry = {"key": key, "sha256": blob.sha256, "rows": len(frame), "vector": resolved.vector.name,
             "sets": [f"{g.spec.name}:v{g.spec.version}" for g in resolved.groups], "created_at": time.time()}
    store.files.write_bytes(_index(key), json.dumps(entry).encode())


def record_lineage(resolved: Resolved, key: str) -> None:
    """run -> training_set (input) -> feature vector and set versions, once per run and set."""
    from nbmlops.tracking import active_run

    run = active_run()
    if run is None or (run.id, key) in _recorded:
        return
    kw = {"run_id": run.id, "step_name": run.step}
    run.store.add_edge("run", run.id, "training_set", key, "input", name=resolved.vector.name, **kw)
    run.store.add_edge("training_set", key, "feature_vector", resolved.vector.name, "vector", **kw)
    for group in resolved.groups:
        run.store.add_edge("training_set", key, "feature_set", f"{group.spec.name}:v{group.spec.version}",
                           "features", name=",".join(group.features), **kw)
    _recorded.add((run.id, key))
