"""The artifact-store blobs the registry keeps alive: every version's model artifact and reference data. `nbmlops
gc` (nbmlops.store.gc) combines these with the other packages' references and removes only what none names."""

from __future__ import annotations

from typing import Any


def registry_references(q: Any, root: Any = None) -> set[str]:
    """Hashes named by model versions. `q`: the gc transaction's query function."""
    rows = q("SELECT artifact_sha256, reference_sha256 FROM model_versions")
    return {sha for row in rows for sha in (row["artifact_sha256"], row["reference_sha256"]) if sha}
