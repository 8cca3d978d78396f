"""The project's models and feature sets for the Pipeline panel's tabs, through the registry's and the feature
store's public APIs: plain functions from a project home to JSON-able dicts (the handlers call them in a thread).
"""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path
from typing import Any


def _plain(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def models(home: Path) -> dict[str, Any]:
    """Every registered model with its versions (newest first), their metrics and aliases."""
    from nbmlops.registry import list_model_versions, list_models

    if not home.is_dir():
        return {"models": []}
    found = []
    for model in list_models(home=home):
        versions = [
            {
                "version": v.version,
                "created_at": v.created_at,
                "run_id": v.run_id,
                "model_type": v.model_type,
                "metrics": _plain(v.metrics),
                "aliases": v.aliases,
                "artifact_sha256": v.artifact_sha256,
                "notebook_path": v.notebook_path,
            }
            for v in list_model_versions(model.name, home=home)
        ]
        found.append({**_plain(model.to_dict()), "version_list": versions})
    return {"models": found}


def promote(home: Path, name: str, alias: str, version: int) -> dict[str, Any]:
    """Point `name@alias` at `version`; returns the version it pointed at before (None if new)."""
    from nbmlops.registry import set_alias

    before = set_alias(name, alias, version, home=home)
    return {"model": name, "alias": alias, "version": version, "previous": before}


def feature_sets(home: Path) -> dict[str, Any]:
    """Every feature set of the project's catalog with its versions and per-feature statistics."""
    from nbmlops.features import FeatureStore, catalog

    if not home.is_dir():
        return {"feature_sets": []}
    return {"feature_sets": _plain(catalog(FeatureStore(home), stats=True))}
