"""FeatureVector: the features a model uses, by reference ('set.feature' or 'set.*'; 'set@v2.feature' pins a
version, otherwise the set's current version reads: the one last ingested), plus an optional label."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from nbmlops.features.definitions import SetSpec
from nbmlops.features.errors import FeatureError

if TYPE_CHECKING:
    from nbmlops.features.catalog_db import CatalogDB


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
        return {
            "name": self.name,
            "features": list(self.features),
            "label": self.label,
            "description": self.description,
        }


@dataclass
class Group:
    """The features of one set version that a vector reads, and the output column of each."""

    spec: SetSpec
    features: list[str] = field(default_factory=list)
    columns: list[str] = field(default_factory=list)

    @property
    def key(self) -> tuple[str, int]:
        return self.spec.name, self.spec.version

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


@dataclass(frozen=True)
class Ref:
    """One parsed reference: 'set.feature', 'set.*', or pinned to a version: 'set@v2.feature'."""

    text: str
    set: str
    version: int | None
    feature: str


def split_pin(text: str, *, where: str, suffix: str = "") -> tuple[str, int | None]:
    """'set' -> ('set', None); 'set@v2' (or 'set@2') -> ('set', 2)."""
    name, at, pin = text.partition("@")
    if not at:
        return name, None
    number = pin[1:] if pin[:1] in ("v", "V") else pin
    if not number.isdigit() or int(number) < 1:
        raise FeatureError(f"{where}: '@{pin}' is not a version (write '{name}@v1{suffix}')")
    return name, int(number)


def parse_ref(ref: str, vector: str) -> Ref:
    if not isinstance(ref, str) or ref.count(".") != 1:
        raise FeatureError(
            f"feature vector '{vector}': {ref!r} is not 'set.feature' (or 'set.*', or 'set@v2.feature' for a version)"
        )
    head, feature = ref.split(".")
    name, version = split_pin(head, where=f"feature vector '{vector}': '{ref}'", suffix=f".{feature}")
    return Ref(ref, name, version, feature)


def _spec(ref: Ref, catalog: CatalogDB, vector: str, fresh: bool) -> SetSpec:
    if ref.version is None:
        return catalog.get(ref.set, fresh=fresh)
    try:
        return catalog.get(ref.set, ref.version, fresh=fresh)
    except FeatureError as exc:
        raise FeatureError(f"feature vector '{vector}': '{ref.text}': {exc}") from None


def _unknown(ref: Ref, spec: SetSpec, name: str, catalog: CatalogDB, vector: str) -> FeatureError:
    """Names what the version has and, where another version has the feature, how to pin that one."""
    others = [s.version for s in catalog.versions(spec.name) if s.version != spec.version and name in s.feature_names]
    hint = ""
    if others:
        current = catalog.current_version(spec.name, fresh=False)
        spelled = f"{spec.name}.{name}" if others[-1] == current else f"{spec.name}@v{others[-1]}.{name}"
        hint = f"; also in {', '.join(f'v{v}' for v in others)}: read it as '{spelled}'"
    return FeatureError(
        f"feature vector '{vector}': unknown feature '{ref.text}' (set '{spec.name}' "
        f"v{spec.version} has: {', '.join(spec.feature_names) or 'no features yet'}{hint})"
    )


def resolve(vector: FeatureVector, catalog: CatalogDB, *, fresh: bool = False) -> Resolved:
    """Each reference against its pinned version, else the set's current version (last ingested); unknown
    sets, versions or features name themselves."""
    groups: dict[tuple[str, int], Group] = {}
    refs = list(vector.features)
    label_ref = vector.label if vector.label and "." in vector.label else None
    if label_ref:
        refs.append(label_ref)
    label_at: tuple[tuple[str, int], str] | None = None
    read: set[str] = set()  # sets read afresh in this call: their other references use what was just read
    for text in refs:
        ref = parse_ref(text, vector.name)
        spec = _spec(ref, catalog, vector.name, fresh and ref.set not in read)
        read.add(ref.set)
        group = groups.setdefault((spec.name, spec.version), Group(spec))
        names = spec.feature_names if ref.feature == "*" else [ref.feature]
        for name in names:
            if name not in spec.feature_names:
                raise _unknown(ref, spec, name, catalog, vector.name)
            if name not in group.features:
                group.features.append(name)
        if text == label_ref:
            label_at = (group.key, ref.feature)
    for group in groups.values():  # a name several groups share is spelled set__feature (set_v2__feature)
        group.columns = [_column(group, f, groups.values()) for f in group.features]
    if label_at:
        group = groups[label_at[0]]
        group.columns[group.features.index(label_at[1])] = label_at[1]
    return Resolved(vector, list(groups.values()), label_ref)


def _column(group: Group, feature: str, groups: Iterable[Group]) -> str:
    sharing = [g for g in groups if feature in g.features]
    if len(sharing) == 1:
        return feature
    if sum(g.spec.name == group.spec.name for g in sharing) > 1:  # two versions of one set
        return f"{group.spec.name}_v{group.spec.version}__{feature}"
    return f"{group.spec.name}__{feature}"
