"""Feature definitions, written once: a FeatureSet names its entities, its timestamp and its features.

Features are source columns, column expressions (`Expr`), vectorised Python functions over a DataFrame
(`Transform`) and sliding-window aggregations (`Window`). Row features are computed per event; window features
are evaluated at read time over the events in (t - window, t]. `spec()` is the JSON-able form the catalog stores;
its fingerprint (without description/owner) decides the version: change the schema, get a new version.

`"*"` among the features (or no features at all) stands for the columns of the first frame ingested into the
version, other than entities, timestamp and the declared features: the store infers them once, records them in
that version's catalog entry (with their types) and holds later ingests of the same definition to them.

A definition is only a definition: this module imports nothing of the feature store. `fset.ingest(df)`,
`fset.push(event)` and `fset.push_many(events)` are shortcuts for `store.ingest(fset, df)` and so on: into the
store given as `store=`, else the project's default store, which nbmlops.features.api registers here when the
package loads (`use_default_store`).
"""

from __future__ import annotations

import hashlib
import inspect
import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import pandas as pd

from nbmlops.features import durations
from nbmlops.features.errors import FeatureError
from nbmlops.names import check_name

AGGREGATIONS = ("count", "sum", "mean", "min", "max", "last", "distinct")
INFER = "*"  # in a feature list: the other columns of the first ingested frame


@dataclass(frozen=True)
class Expr:
    """A column expression evaluated with DataFrame.eval, e.g. Expr("amount_usd", "amount * rate")."""

    name: str
    expr: str
    description: str = ""


@dataclass(frozen=True)
class Transform:
    """A vectorised function DataFrame -> DataFrame (columns = outputs) or Series (one output)."""

    fn: Callable[[pd.DataFrame], pd.DataFrame | pd.Series]
    outputs: tuple[str, ...] = ()
    inputs: tuple[str, ...] = ()
    description: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "outputs", tuple(self.outputs) or (self.fn.__name__,))
        object.__setattr__(self, "inputs", tuple(self.inputs))


def transform(
    *, outputs: Sequence[str] = (), inputs: Sequence[str] = (), description: str = ""
) -> Callable[[Callable[..., Any]], Transform]:
    """Decorator form of Transform: `@transform(outputs=["len"]) def text_len(df): ...`."""

    def wrap(fn: Callable[..., Any]) -> Transform:
        return Transform(fn, tuple(outputs), tuple(inputs), description or (fn.__doc__ or "").strip())

    return wrap


@dataclass(frozen=True)
class Window:
    """Sliding-window aggregations of `column` (None counts events) over each window, named
    `<column>_<agg>_<window>` (or `<prefix>_<agg>_<window>`), e.g. amount_sum_7d."""

    column: str | None
    aggs: Sequence[str] = ("count",)
    windows: Sequence[str] = ("1d",)
    prefix: str | None = None
    description: str = ""


@dataclass(frozen=True)
class WindowFeature:
    name: str
    column: str | None
    agg: str
    window_ns: int


def _code_sha(fn: Callable[..., Any]) -> str:
    """Source when available (edits make a new version), else the bytecode."""
    try:
        text = inspect.getsource(fn)
    except (OSError, TypeError):
        code = getattr(fn, "__code__", None)
        text = repr(code.co_code) + repr(code.co_consts) if code else repr(fn)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


@dataclass
class FeatureSet:
    """A named group of features of the same entities, stamped by one event-time column."""

    name: str
    entities: Sequence[str]
    timestamp: str = "ts"
    features: Sequence[str | Expr | Transform | Window] = (INFER,)
    ttl: str | int | None = None
    description: str = ""
    owner: str = ""
    tags: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        check_name(self.name, "feature set", dots=False, error=FeatureError)  # '.' separates 'set.feature'
        if isinstance(self.entities, str):
            self.entities = [self.entities]
        self.entities = list(self.entities)
        if not self.entities:
            raise FeatureError(f"feature set '{self.name}': give at least one entity column")
        self.features = list(self.features) or [INFER]  # no list at all: infer, as Feast and MLRun do
        self.ttl_ns = durations.to_ns(self.ttl, what=f"feature set '{self.name}' ttl") if self.ttl else None
        self.row_features: list[str] = []  # names of per-event features, in order
        self.windows: list[WindowFeature] = []
        self._check()

    # -- validation -------------------------------------------------------------------------------------
    def _check(self) -> None:
        reserved = {*self.entities, self.timestamp}
        names: list[str] = []
        self.infers = self.features.count(INFER) > 0
        if self.features.count(INFER) > 1:
            raise FeatureError(f"feature set '{self.name}': '{INFER}' (infer the other columns) given twice")
        for item in self.features:
            if item == INFER:
                continue
            if isinstance(item, str):
                names.append(item)
            elif isinstance(item, Expr):
                names.append(item.name)
            elif isinstance(item, Transform):
                names.extend(item.outputs)
            elif isinstance(item, Window):
                self.windows.extend(self._expand(item))
            else:
                raise FeatureError(
                    f"feature set '{self.name}': {item!r} is not a column name, Expr, Transform or Window"
                )
        self.row_features = names
        all_names = names + [w.name for w in self.windows]
        for name in all_names:
            if name in reserved:
                raise FeatureError(f"feature set '{self.name}': feature '{name}' is an entity or timestamp column")
        dupes = sorted({n for n in all_names if all_names.count(n) > 1})
        if dupes:
            raise FeatureError(f"feature set '{self.name}': feature names defined twice: {', '.join(dupes)}")

    def _expand(self, item: Window) -> Iterable[WindowFeature]:
        base = item.prefix or item.column or "events"
        for agg in item.aggs:
            if agg not in AGGREGATIONS:
                raise FeatureError(
                    f"feature set '{self.name}': unknown aggregation '{agg}' on "
                    f"'{item.column}' (one of {', '.join(AGGREGATIONS)})"
                )
            if item.column is None and agg != "count":
                raise FeatureError(f"feature set '{self.name}': aggregation '{agg}' needs a column")
            for window in item.windows:
                ns = durations.to_ns(window, what=f"feature set '{self.name}' window of '{base}'")
                spelled = window.replace(" ", "") if isinstance(window, str) else durations.label(ns)
                yield WindowFeature(f"{base}_{agg}_{spelled}", item.column, agg, ns)

    # -- what the catalog stores ---------------------------------------------------------------------------
    @property
    def feature_names(self) -> list[str]:
        return self.row_features + [w.name for w in self.windows]

    @property
    def window_inputs(self) -> list[str]:
        """Columns the windows aggregate, in first-use order."""
        seen: list[str] = []
        for w in self.windows:
            if w.column is not None and w.column not in seen:
                seen.append(w.column)
        return seen

    @property
    def stored_columns(self) -> list[str]:
        """Columns written per event besides entities and timestamp: row features, then window inputs."""
        return self.row_features + [c for c in self.window_inputs if c not in self.row_features]

    def spec(self) -> dict[str, Any]:
        rows: list[dict[str, Any]] = []
        for item in self.features:
            if item == INFER:
                rows.append({"kind": "infer"})  # the columns themselves are recorded at the first ingest
            elif isinstance(item, str):
                rows.append({"kind": "column", "name": item})
            elif isinstance(item, Expr):
                rows.append({"kind": "expr", "name": item.name, "expr": item.expr, "description": item.description})
            elif isinstance(item, Transform):
                rows.append(
                    {
                        "kind": "transform",
                        "outputs": list(item.outputs),
                        "inputs": list(item.inputs),
                        "fn": f"{item.fn.__module__}.{item.fn.__qualname__}",
                        "code": _code_sha(item.fn),
                        "description": item.description,
                    }
                )
        return {
            "name": self.name,
            "entities": list(self.entities),
            "timestamp": self.timestamp,
            "ttl_ns": self.ttl_ns,
            "row": rows,
            "windows": [
                {"name": w.name, "column": w.column, "agg": w.agg, "window_ns": w.window_ns} for w in self.windows
            ],
            "description": self.description,
            "owner": self.owner,
            "tags": dict(self.tags),
        }

    def fingerprint(self) -> str:
        return spec_fingerprint(self.spec())

    # -- shortcuts: write through a store -------------------------------------------------------------------
    def ingest(self, data: pd.DataFrame | str, *, store: FeatureWriter | None = None, **kwargs: Any) -> Any:
        """store.ingest(self, data, ...): into `store`, else the project's default store."""
        return _writer(store).ingest(self, data, **kwargs)

    def push(self, event: dict[str, Any], *, store: FeatureWriter | None = None, **kwargs: Any) -> None:
        _writer(store).push(self, event, **kwargs)

    def push_many(
        self, events: Sequence[dict[str, Any]] | pd.DataFrame, *, store: FeatureWriter | None = None, **kwargs: Any
    ) -> None:
        _writer(store).push_many(self, events, **kwargs)


class FeatureWriter(Protocol):
    """What FeatureSet's shortcuts write through: a FeatureStore."""

    def ingest(self, fset: FeatureSet, data: Any, **kwargs: Any) -> Any: ...

    def push(self, fset: FeatureSet, event: dict[str, Any], **kwargs: Any) -> None: ...

    def push_many(self, fset: FeatureSet, events: Any, **kwargs: Any) -> None: ...


# Where the shortcuts write without store=: set by nbmlops.features.api (loaded with the package), so a
# definition needs nothing above it.
_default_writer: Callable[[], FeatureWriter] | None = None


def use_default_store(factory: Callable[[], FeatureWriter]) -> None:
    """Make `factory()` the store FeatureSet.ingest/push/push_many write to when given no store=."""
    global _default_writer
    _default_writer = factory


def _writer(store: FeatureWriter | None) -> FeatureWriter:
    if store is not None:
        return store
    if _default_writer is None:  # only while nbmlops.features is still loading (api.py registers it)
        raise FeatureError(
            "FeatureSet.ingest/push: no default feature store is set; pass store=FeatureStore(...) "
            "or import nbmlops.features"
        )
    return _default_writer()


_METADATA = ("description", "owner", "tags")


def spec_fingerprint(spec: dict[str, Any]) -> str:
    """Hash of what decides the stored schema; descriptions and owners may change without a new version."""
    core = {k: v for k, v in spec.items() if k not in _METADATA}
    core["row"] = [{k: v for k, v in row.items() if k != "description"} for row in core["row"]]
    return hashlib.sha256(json.dumps(core, sort_keys=True).encode()).hexdigest()


@dataclass(frozen=True)
class SetSpec:
    """A catalogued version of a feature set: everything reads need, without the Python callables."""

    name: str
    version: int
    entities: tuple[str, ...]
    timestamp: str
    ttl_ns: int | None
    row_features: tuple[str, ...]
    windows: tuple[WindowFeature, ...]
    stored: tuple[str, ...]
    dtypes: dict[str, str]
    raw: dict[str, Any]

    @classmethod
    def from_record(cls, record: dict[str, Any]) -> SetSpec:
        spec = record["spec"]
        row: list[str] = []
        for item in spec["row"]:
            if item["kind"] == "infer":
                row.extend(record.get("inferred") or [])
            else:
                row.extend(item["outputs"] if item["kind"] == "transform" else [item["name"]])
        windows = tuple(WindowFeature(w["name"], w["column"], w["agg"], w["window_ns"]) for w in spec["windows"])
        inputs = [w.column for w in windows if w.column is not None]
        stored = list(row) + [c for c in dict.fromkeys(inputs) if c not in row]
        return cls(
            spec["name"],
            record["version"],
            tuple(spec["entities"]),
            spec["timestamp"],
            spec["ttl_ns"],
            tuple(row),
            windows,
            tuple(stored),
            dict(record.get("dtypes") or {}),
            record,
        )

    @property
    def feature_names(self) -> list[str]:
        return list(self.row_features) + [w.name for w in self.windows]

    @property
    def window_inputs(self) -> list[str]:
        return list(dict.fromkeys(w.column for w in self.windows if w.column is not None))

    @property
    def infers(self) -> bool:
        """The definition leaves (some of) its columns to be inferred from the first ingest."""
        return any(item["kind"] == "infer" for item in self.raw["spec"]["row"])

    @property
    def inferred(self) -> list[str] | None:
        """The columns inferred at the version's first ingest; None before it (or when nothing is inferred)."""
        found = self.raw.get("inferred")
        return list(found) if found is not None else None

    def with_inferred(self, columns: Sequence[str]) -> SetSpec:
        return SetSpec.from_record({**self.raw, "inferred": list(columns)})

    @property
    def max_window_ns(self) -> int:
        return max((w.window_ns for w in self.windows), default=0)
