"""FeatureVector: the features a model uses, by reference ('set.feature' or 'set.*'), plus an optional label."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from nbmlops.features.catalog_files import CatalogFiles
from nbmlops.features.definitions import SetSpec
from nbmlops.features.errors import FeatureError


@dataclass
class FeatureVector:
    name: str
    features: Sequence[str]
    label: str | None = None  # a column of the entity DataFrame, or a 'set.feature' joined like the others
    description: str = ""

    def __post_init__(self) -> None:
        self.features = list(self.features)
        if not self.features:
            raise FeatureError(f"feature vector '{self.name}': list at least one feature ('set.feature')")

    def record(self) -> dict[str, object]:
        return {"name": self.name, "features": list(self.features), "label": self.label,
                "description": self.description}


@dataclass
class Group:
    """The features of one set version that a vector reads, and the output column of each."""

    spec: SetSpec
    features: list[str] = field(default_factory=list)
    columns: list[str] = field(default_factory=list)

    @property
    def row(self) -> list[str]:
        return [f for f in self.features if f in self.spec.row_features]

    @property
    def windows(self) -> list:
        return [w for w in self.spec.windows if w.name in self.features]


@dataclass
class Resolved:
    vector: FeatureVector
    groups: list[Group]
    label_ref: str | None  # set when the label is a feature reference

    @property
    def entities(self) -> list[str]:
        return list(dict.fromkeys(e for g in self.groups for e in g.spec.entities))

    @property
    def columns(self) -> list[str]:
        return [c for g in self.groups for c in g.columns]


def _split(ref: str, vector: str) -> tuple[str, str]:
    if ref.count(".") != 1:
        raise FeatureError(f"feature vector '{vector}': '{ref}' is not 'set.feature' (or 'set.*')")
    name, feature = ref.split(".")
    return name, feature


def resolve(vector: FeatureVector, catalog: CatalogFiles) -> Resolved:
    """Each reference against the newest version of its set; unknown sets or features name themselves."""
    groups: dict[str, Group] = {}
    refs = list(vector.features)
    label_ref = vector.label if vector.label and "." in vector.label else None
    if label_ref:
        refs.append(label_ref)
    for ref in refs:
        set_name, feature = _split(ref, vector.name)
        if set_name not in groups:
            groups[set_name] = Group(catalog.get(set_name, fresh=False))
        group = groups[set_name]
        names = group.spec.feature_names if feature == "*" else [feature]
        for name in names:
            if name not in group.spec.feature_names:
                raise FeatureError(f"feature vector '{vector.name}': unknown feature '{ref}' (set '{set_name}' "
                                   f"v{group.spec.version} has: {', '.join(group.spec.feature_names)})")
            if name not in group.features:
                group.features.append(name)
    seen: dict[str, int] = {}
    for group in groups.values():
        for name in group.features:
            seen[name] = seen.get(name, 0) + 1
    for group in groups.values():  # a name two sets share is spelled set__feature in the output
        group.columns = [f if seen[f] == 1 else f"{group.spec.name}__{f}" for f in group.features]
    if label_ref:
        set_name, feature = _split(label_ref, vector.name)
        group = groups[set_name]
        group.columns[group.features.index(feature)] = feature
    return Resolved(vector, list(groups.values()), label_ref)
