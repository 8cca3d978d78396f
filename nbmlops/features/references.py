"""The artifact-store blobs the feature store keeps alive: cached training sets, each named by an index file
`features/training_sets/<key>.json` under the artifact root. `nbmlops gc` (nbmlops.store.gc) combines these with
the other packages' references and removes only what none names."""

from __future__ import annotations

import json
from typing import Any

INDEX = "features/training_sets"


def feature_references(q: Any, root: Any) -> set[str]:
    """Hashes the training-set index files under `root` (the artifact root, a nbmlops.store.filesystems Root) name.
    An index file that can't be read keeps nothing alive: a training set whose index is gone is recomputed."""
    found: set[str] = set()
    for name in root.listdir(INDEX):
        if not name.endswith(".json"):
            continue
        data = root.read_bytes(f"{INDEX}/{name}")
        try:
            sha = json.loads(data or b"{}").get("sha256")
        except (ValueError, AttributeError):
            continue
        if isinstance(sha, str):
            found.add(sha)
    return found
