"""Value objects the Store hands back: plain dataclasses, detached from any database session."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from typing import Any

from nbmlops.store.sql import RUN_STATUSES, STEP_STATUSES

__all__ = ["RUN_STATUSES", "STEP_STATUSES", "ArtifactInfo", "Edge", "MetricPoint", "RunInfo", "StepInfo"]


@dataclass
class RunInfo:
    id: str
    name: str | None
    kind: str
    pipeline: str | None
    status: str
    started_at: float
    ended_at: float | None = None
    duration: float | None = None
    heartbeat_at: float | None = None
    notebook_path: str | None = None
    notebook_sha256: str | None = None
    git_commit: str | None = None
    git_dirty: bool | None = None
    backend: str | None = None
    pid: int | None = None
    host: str | None = None
    python_version: str | None = None
    nbmlops_version: str | None = None
    packages: dict[str, str] = field(default_factory=dict)
    parent_run_id: str | None = None
    resumed_from: str | None = None
    error: str | None = None
    # what started a scheduled run: {"schedule", "kind", "occurrence_at", "files" | "drift_result" | ...}
    trigger: dict[str, Any] | None = None
    params: dict[str, Any] = field(default_factory=dict)
    metrics: dict[str, float] = field(default_factory=dict)  # latest value of each key
    tags: dict[str, str] = field(default_factory=dict)
    # the params, metrics and tags above that a cached step carried over, by field ("metrics.auc"): where they
    # were logged, {"run_id": ..., "step": ...} (the original execution, however many cached runs lie between)
    reused: dict[str, dict[str, str]] = field(default_factory=dict)

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> RunInfo:
        data = dict(row)
        data["packages"] = json.loads(data["packages"]) if data.get("packages") else {}
        data["trigger"] = json.loads(data["trigger"]) if data.get("trigger") else None
        if data.get("git_dirty") is not None:  # SQLite hands back 0/1
            data["git_dirty"] = bool(data["git_dirty"])
        return cls(**data)


@dataclass
class StepInfo:
    run_id: str
    name: str
    status: str
    started_at: float | None = None
    ended_at: float | None = None
    duration: float | None = None
    cache_hit: bool = False
    cache_key: str | None = None
    attempts: int | None = None
    inputs: dict[str, str] = field(default_factory=dict)  # variable -> value sha256
    outputs: dict[str, str] = field(default_factory=dict)
    stdout_path: str | None = None
    stderr_path: str | None = None
    error: str | None = None
    # taken from the cache or a resumed run: the step execution whose records (metrics, params, tags,
    # artifacts) this step carries, followed to the original through chains of cached runs
    reused_from_run: str | None = None
    reused_from_step: str | None = None

    @classmethod
    def from_row(cls, row: Any) -> StepInfo:
        data = dict(row._mapping) if hasattr(row, "_mapping") else dict(row)
        data.pop("id", None)
        data["inputs"] = json.loads(data["inputs"]) if data.get("inputs") else {}
        data["outputs"] = json.loads(data["outputs"]) if data.get("outputs") else {}
        data["cache_hit"] = bool(data["cache_hit"])
        return cls(**data)


@dataclass(frozen=True)
class MetricPoint:
    key: str
    value: float
    step: int | None
    timestamp: float
    step_name: str | None = None

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> MetricPoint:
        value = math.nan if row["value"] is None else row["value"]
        return cls(row["key"], value, row["step"], row["timestamp"], row["step_name"])


@dataclass(frozen=True)
class ArtifactInfo:
    run_id: str
    name: str
    sha256: str
    size: int
    path: str
    step_name: str | None = None
    created_at: float = 0.0


@dataclass(frozen=True)
class Edge:
    from_kind: str
    from_id: str
    to_kind: str
    to_id: str
    relation: str
    name: str | None = None
    run_id: str | None = None
    step_name: str | None = None

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> Edge:
        return cls(
            row["from_kind"],
            row["from_id"],
            row["to_kind"],
            row["to_id"],
            row["relation"],
            row["name"],
            row["run_id"],
            row["step_name"],
        )
