"""Project home, metadata database and content-addressed artifacts. Importing this loads no SQLAlchemy."""

from nbmlops.store.artifacts import ArtifactError, ArtifactStore, StoredBlob
from nbmlops.store.config import ConfigError, Settings, load_settings
from nbmlops.store.errors import QueryError, SchemaError, StoreBusyError
from nbmlops.store.home import project_home
from nbmlops.store.liveness import HEARTBEAT_S, STALE_AFTER_S
from nbmlops.store.records import ArtifactInfo, Edge, MetricPoint, RunInfo, StepInfo
from nbmlops.store.store import Store, new_run_id, open_store

__all__ = ["HEARTBEAT_S", "STALE_AFTER_S", "ArtifactError", "ArtifactInfo", "ArtifactStore", "ConfigError", "Edge",
           "MetricPoint", "QueryError", "RunInfo", "SchemaError", "Settings", "StepInfo", "Store", "StoreBusyError",
           "StoredBlob", "load_settings", "new_run_id", "open_store", "project_home"]
