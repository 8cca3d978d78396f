"""Project home, metadata database and content-addressed artifacts.

Importing this loads neither SQLAlchemy nor the artifact and record modules: the names below load on first use,
so a pipeline run that only writes pays for none of them.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from nbmlops.store.config import ConfigError, Settings, load_settings
from nbmlops.store.errors import QueryError, SchemaError, StoreBusyError
from nbmlops.store.home import project_home
from nbmlops.store.liveness import HEARTBEAT_S, STALE_AFTER_S
from nbmlops.store.store import Store, new_run_id, open_store

if TYPE_CHECKING:
    from nbmlops.store.artifacts import ArtifactError, ArtifactStore, StoredBlob
    from nbmlops.store.records import ArtifactInfo, Edge, MetricPoint, RunInfo, StepInfo

_LAZY = {
    **dict.fromkeys(("ArtifactError", "ArtifactStore", "StoredBlob"), "nbmlops.store.artifacts"),
    **dict.fromkeys(("ArtifactInfo", "Edge", "MetricPoint", "RunInfo", "StepInfo"), "nbmlops.store.records"),
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'nbmlops.store' has no attribute '{name}'")
    return getattr(importlib.import_module(module), name)


__all__ = [
    "HEARTBEAT_S",
    "STALE_AFTER_S",
    "ArtifactError",
    "ArtifactInfo",
    "ArtifactStore",
    "ConfigError",
    "Edge",
    "MetricPoint",
    "QueryError",
    "RunInfo",
    "SchemaError",
    "Settings",
    "StepInfo",
    "Store",
    "StoreBusyError",
    "StoredBlob",
    "load_settings",
    "new_run_id",
    "open_store",
    "project_home",
]
