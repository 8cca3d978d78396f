"""Training sets: cached by a hash of the definitions' versions, the data ingested, the entity rows and the
code, stored as Parquet in the content-addressed artifact store, and named in the active run's lineage."""

from __future__ import annotations

import hashlib
import io
import json
import time
from typing import TYPE_CHECKING

import pandas as pd

from nbmlops.features.frames import hash_frame, parquet_bytes
from nbmlops.features.offline import IngestRecord
from nbmlops.features.vectors import Resolved

if TYPE_CHECKING:
    from nbmlops.store.artifacts import ArtifactStore
    from nbmlops.store.filesystems import Root

FORMAT = 1
_recorded: set[tuple[str, str]] = set()


def cache_key(
    resolved: Resolved,
    ingests: dict[tuple[str, int], list[IngestRecord]],
    entity_df: pd.DataFrame,
    timestamp_column: str,
) -> str:
    from nbmlops._version import __version__

    state = {
        "format": FORMAT,
        "nbmlops": __version__,
        "timestamp_column": timestamp_column,
        "vector": resolved.vector.record() | {"description": None},
        "sets": [
            [
                g.spec.name,
                g.spec.version,
                g.spec.raw["fingerprint"],
                g.features,
                g.columns,
                [r.id for r in ingests[g.key]],
            ]
            for g in resolved.groups
        ],
        "entity_df": hash_frame(entity_df),
    }
    return hashlib.sha256(json.dumps(state, sort_keys=True).encode()).hexdigest()


def _index(key: str) -> str:
    return f"features/training_sets/{key}.json"


def _artifacts(files: Root) -> ArtifactStore:
    from nbmlops.store.artifacts import ArtifactStore

    return ArtifactStore(files)  # the blobs share the feature store's root (and its opened filesystem)


def load(files: Root, key: str) -> pd.DataFrame | None:
    """The cached training set of this key; None when there is none (or its blob was removed)."""
    data = files.read_bytes(_index(key))
    if data is None:
        return None
    entry = json.loads(data)
    artifacts = _artifacts(files)
    if not artifacts.exists(entry["sha256"]):
        return None  # blob removed: recompute
    frame = pd.read_parquet(io.BytesIO(artifacts.get_bytes(entry["sha256"])))
    frame.attrs["training_set"] = key
    return frame


def save(files: Root, key: str, frame: pd.DataFrame, resolved: Resolved) -> None:
    blob = _artifacts(files).put_bytes(parquet_bytes(frame))
    entry = {
        "key": key,
        "sha256": blob.sha256,
        "rows": len(frame),
        "vector": resolved.vector.name,
        "sets": [f"{g.spec.name}:v{g.spec.version}" for g in resolved.groups],
        "created_at": time.time(),
    }
    files.write_bytes(_index(key), json.dumps(entry).encode())


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
        run.store.add_edge(
            "training_set",
            key,
            "feature_set",
            f"{group.spec.name}:v{group.spec.version}",
            "features",
            name=",".join(group.features),
            **kw,
        )
    _recorded.add((run.id, key))
