"""Alembic migrations of the metadata database, shipped inside the package and run programmatically.

REVISIONS lists every revision this version of nbmlops knows, oldest first; HEAD is the last. Opening a
database compares its stamped revision with these directly, so an up-to-date store never loads Alembic.
A new revision (e.g. the model registry tables) adds a file under versions/ and appends its id here.
"""

from __future__ import annotations

from pathlib import Path

LOCATION = Path(__file__).resolve().parent
REVISIONS: tuple[str, ...] = (
    "0001_tracking",
    "0002_artifacts_lineage",
    "0003_registry",
    "0004_monitoring",
    "0005_metrics_latest_index",
    "0006_reused_step_records",
    "0007_feature_catalog",
    "0008_schedules",
    "0009_model_alias_history",
)
HEAD = REVISIONS[-1]
# Our own version table, so a PostgreSQL database shared with another Alembic-managed app is no conflict.
VERSION_TABLE = "nbmlops_alembic_version"
