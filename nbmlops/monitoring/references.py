"""The artifact-store blobs monitoring keeps alive: the reference profiles drift is measured against. `nbmlops gc`
(nbmlops.store.gc) combines these with the other packages' references and removes only what none names."""

from __future__ import annotations

from typing import Any


def monitoring_references(q: Any, root: Any = None) -> set[str]:
    """Hashes named by monitor references. `q`: the gc transaction's query function."""
    return {row["sha256"] for row in q("SELECT sha256 FROM monitor_references") if row["sha256"]}
