"""The steps around the model: enrichment from the online feature store, pandas transforms before the model, and
post-processing of its predictions.

Enrich(vector, impute=..., unknown="impute"|"reject"): each row's entity keys (the vector's sets' entities) are
looked up in the online store; the vector's features join the row (a column the request already carries keeps the
request's value). An unknown entity gets nulls, filled by `impute` (a value for every feature, or a dict of
column: value; None leaves the nulls for the model); unknown="reject" answers 422 naming the entity instead.
The vector is resolved against the feature catalog when the graph loads and re-resolved by the server's follower
thread (refresh), so a request reads only the online store: one batched lookup per feature set.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import pandas as pd

from nbmlops.serving.errors import GraphError, InvalidInput, ModelFailed
from nbmlops.serving.rows import Rows


class Enrich:
    def __init__(self, vector: Any, *, impute: Any = None, unknown: str = "impute", store: Any = None) -> None:
        from nbmlops.features import FeatureVector

        if not isinstance(vector, FeatureVector):
            raise GraphError(f"enrich takes a nbmlops.features.FeatureVector, not {type(vector).__name__}")
        if unknown not in ("impute", "reject"):
            raise GraphError(f"enrich: unknown= must be 'impute' or 'reject', not '{unknown}'")
        self.vector, self.impute, self.unknown, self._store = vector, impute, unknown, store
        self._own_store = store is None  # the default store is opened again where the step is unpickled
        self._resolved: Any = None

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        if self._own_store:
            state["_store"] = None  # its database connections stay in this process
        return state

    def load(self) -> Any:
        """Resolve the vector's references (set versions, columns) against the catalog; requests use the result."""
        self._resolved = self.store.resolve(self.vector, fresh=True)
        return self._resolved

    refresh = load  # the server's follower re-resolves off the request path: another process may switch a version

    @property
    def store(self) -> Any:
        if self._store is None:
            from nbmlops.features import default_store

            self._store = default_store()
        return self._store

    def label(self) -> str:
        return f"enrich: {self.vector.name}"

    def describe(self) -> dict[str, Any]:
        return {
            "step": "enrich",
            "vector": self.vector.name,
            "features": list(self.vector.features),
            "impute": self.impute if not isinstance(self.impute, float) or np.isfinite(self.impute) else None,
            "unknown": self.unknown,
        }

    def entities(self) -> list[str]:
        return (self._resolved or self.load()).entities

    def __call__(self, rows: Rows) -> Rows:
        resolved = self._resolved or self.load()
        entities, present = resolved.entities, set(rows.names)
        missing = [e for e in entities if e not in present]
        if missing:
            raise InvalidInput(
                f"enrich '{self.vector.name}': the rows lack the entity key(s) {', '.join(missing)}",
                detail=[{"column": e, "problem": "missing", "expected": "entity key"} for e in missing],
            )
        keys = [
            dict(zip(entities, values, strict=True)) for values in zip(*(rows.column(e) for e in entities), strict=True)
        ]
        found = self.store.get_online_features(self.vector, keys, resolved=resolved)
        if self.unknown == "reject":
            unknown = [
                k for k, fresh in zip(keys, found.freshness, strict=True) if all(age is None for age in fresh.values())
            ]
            if unknown:
                shown = ", ".join(str(k) for k in unknown[:5])
                raise InvalidInput(
                    f"enrich '{self.vector.name}': unknown entit{'y' if len(unknown) == 1 else 'ies'}"
                    f" {shown} (this graph forbids imputing them)",
                    detail=[
                        {"column": ",".join(entities), "problem": "unknown entity", "expected": str(k)} for k in unknown
                    ],
                )
        new = [c for c in resolved.columns if c not in present]  # a column the request carries keeps its value
        return rows.with_columns({c: self._imputed(c, [r.get(c) for r in found.rows]) for c in new})

    def _imputed(self, column: str, values: list[Any]) -> list[Any]:
        fill = self.impute.get(column) if isinstance(self.impute, Mapping) else self.impute
        if fill is None:
            return values
        return [fill if v is None or (isinstance(v, float) and math.isnan(v)) else v for v in values]


class Transform:
    """A function of the rows' DataFrame, returning the DataFrame the next step gets."""

    def __init__(self, fn: Callable[[pd.DataFrame], pd.DataFrame], name: str | None = None) -> None:
        if not callable(fn):
            raise GraphError(f"transform takes a function of a DataFrame, not {type(fn).__name__}")
        self.fn, self.name = fn, name or getattr(fn, "__name__", "transform")

    def label(self) -> str:
        return self.name

    def describe(self) -> dict[str, Any]:
        return {"step": "transform", "name": self.name}

    def __call__(self, rows: Rows) -> Rows:
        try:
            out = self.fn(rows.frame())
        except Exception as exc:  # noqa: BLE001 - the user's code: a 500 that names the step
            raise ModelFailed(f"transform '{self.name}' raised {type(exc).__name__}: {exc}") from exc
        if not isinstance(out, pd.DataFrame):
            raise ModelFailed(f"transform '{self.name}' returned {type(out).__name__}, not a DataFrame")
        return Rows(frame=out)


class Post:
    """A function of (predictions, model input rows) returning one JSON-able answer per row."""

    def __init__(self, fn: Callable[[np.ndarray, pd.DataFrame], Any], name: str | None = None) -> None:
        if not callable(fn):
            raise GraphError(f"post takes a function of (predictions, rows), not {type(fn).__name__}")
        self.fn, self.name = fn, name or getattr(fn, "__name__", "post")

    def label(self) -> str:
        return self.name

    def describe(self) -> dict[str, Any]:
        return {"step": "post", "name": self.name}

    def __call__(self, predictions: np.ndarray, frame: pd.DataFrame) -> np.ndarray:
        try:
            out = np.asarray(self.fn(predictions, frame))
        except Exception as exc:  # noqa: BLE001 - the user's code: a 500 that names the step
            raise ModelFailed(f"post-processing '{self.name}' raised {type(exc).__name__}: {exc}") from exc
        if len(out) != len(frame):
            raise ModelFailed(f"post-processing '{self.name}' returned {len(out)} answers for {len(frame)} rows")
        return out
