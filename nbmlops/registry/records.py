"""Value objects the registry hands back: plain dataclasses, detached from the database."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any


def _loads(text: str | None, default: Any = None) -> Any:
    return json.loads(text) if text else default


@dataclass
class ModelVersion:
    name: str
    version: int
    created_at: float
    format: str  # joblib | pickle
    artifact_sha256: str
    artifact_size: int
    model_type: str | None = None
    run_id: str | None = None
    signature: dict[str, Any] | None = None
    input_example: dict[str, Any] | None = None
    metrics: dict[str, float] = field(default_factory=dict)
    params: dict[str, Any] = field(default_factory=dict)
    data_sha256: str | None = None  # the training data's hash (reference data, else the input example)
    reference_sha256: str | None = None  # the stored reference data (see load_reference_data)
    reference_format: str | None = None  # parquet | npy
    profile: dict[str, Any] | None = None  # None in listings; see nbmlops.registry.data for the format
    notebook_path: str | None = None
    notebook_sha256: str | None = None
    git_commit: str | None = None
    description: str | None = None
    tags: dict[str, str] = field(default_factory=dict)
    aliases: list[str] = field(default_factory=list)

    @property
    def uri(self) -> str:
        return f"{self.name}:{self.version}"

    @property
    def lineage_id(self) -> str:
        """Its node id in the lineage graph (kind 'model_version')."""
        return self.uri

    def to_dict(self) -> dict[str, Any]:
        return {"uri": self.uri, **asdict(self)}

    @classmethod
    def from_dict(cls, row: dict[str, Any]) -> ModelVersion:
        data = dict(row)
        data.pop("id", None)
        for key, default in (
            ("signature", None),
            ("input_example", None),
            ("profile", None),
            ("metrics", {}),
            ("params", {}),
        ):
            if key in data:
                data[key] = _loads(data[key], default)
        return cls(**data)


@dataclass
class RegisteredModel:
    name: str
    created_at: float
    updated_at: float
    latest_version: int | None = None
    versions: int = 0  # how many versions exist now
    aliases: dict[str, int] = field(default_factory=dict)
    description: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class AliasMove:
    """One change of `name@alias`: to `version` (None: removed) from `previous_version` (None: new), by whom
    (the user name, when known) and when (seconds since the epoch)."""

    name: str
    alias: str
    version: int | None
    previous_version: int | None
    moved_by: str | None
    moved_at: float

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)
