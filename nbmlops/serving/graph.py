"""A serving graph: enrich → transforms → one model step (or router) → post-processing → the response.

    from nbmlops.serving import Graph, Canary
    graph = (Graph()
             .enrich(vector, impute=0.0)
             .transform(lambda df: df.assign(ratio=df.amount_sum_7d / (df.amount_count_7d + 1)))
             .model(Canary("churn@production", "churn@staging", percent=10))
             .post(lambda p, rows: [{"churn": bool(x)} for x in p]))
    graph.test({"customer_id": 3})   # exactly what POST /predict answers for {"rows": [{"customer_id": 3}]}

`answer()` is the one code path: the HTTP server, `graph.test` and batch scoring all call it. A graph that is
just a model (no enrich or transform) refuses columns its signature does not list; one with steps before the model
hands it only the columns it was trained on.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from nbmlops.serving.errors import GraphError
from nbmlops.serving.model_step import Answer, Model, as_list
from nbmlops.serving.payload import parse_predict, split_ids
from nbmlops.serving.routers import ROUTERS, Canary, Ensemble, Shadow
from nbmlops.serving.rows import Rows
from nbmlops.serving.steps import Enrich, Post, Transform


@dataclass
class Result:
    request_id: str
    ids: list[Any]
    predictions: list[Any]
    model_version: str
    answer: Answer  # raw predictions, the features the model saw, the log and the shadows: for logging

    def body(self) -> dict[str, Any]:
        return {
            "predictions": self.predictions,
            "model_version": self.model_version,
            "request_id": self.request_id,
            "ids": self.ids,
        }


def row_ids(request_id: str, given: list[Any] | None, n: int) -> list[Any]:
    """The rows' own ids where they carry one; else the request id (one row) or request_id.i."""
    if given is not None:
        return given
    return [request_id] if n == 1 else [f"{request_id}.{i}" for i in range(n)]


class Graph:
    def __init__(self, name: str | None = None, *, home: str | Path | None = None) -> None:
        self._name = name
        self.home = home
        self.before: list[Enrich | Transform] = []
        self.predictor: Model | Canary | Shadow | Ensemble | None = None
        self.after: list[Post] = []

    # -- building --------------------------------------------------------------------------------------------
    @classmethod
    def from_model(cls, uri: str, *, method: str = "predict", home: str | Path | None = None) -> Graph:
        return cls(home=home).model(uri, method=method)

    def enrich(self, vector: Any, *, impute: Any = None, unknown: str = "impute", store: Any = None) -> Graph:
        self._before_model("enrich")
        self.before.append(Enrich(vector, impute=impute, unknown=unknown, store=store))
        return self

    def transform(self, fn: Any, name: str | None = None) -> Graph:
        self._before_model("transform")
        self.before.append(Transform(fn, name))
        return self

    def model(self, step: Model | Canary | Shadow | Ensemble | str, *, method: str = "predict") -> Graph:
        if self.predictor is not None:
            raise GraphError(
                "a graph has one model step; split traffic between versions with Canary, Shadow or Ensemble"
            )
        if isinstance(step, str):
            step = Model(step, method=method)
        if not isinstance(step, (Model, *ROUTERS)):
            raise GraphError(f"model() takes a model URI, a Model or a router, not {type(step).__name__}")
        self.predictor = step
        return self

    route = model

    def post(self, fn: Any, name: str | None = None) -> Graph:
        if self.predictor is None:
            raise GraphError("post() comes after the model step: add .model('name@alias') first")
        self.after.append(Post(fn, name))
        return self

    def _before_model(self, what: str) -> None:
        if self.predictor is not None:
            raise GraphError(f"{what}() comes before the model step; after it only post() can follow")

    # -- describing ------------------------------------------------------------------------------------------
    def _checked(self) -> Model | Canary | Shadow | Ensemble:
        if self.predictor is None:
            raise GraphError("the serving graph has no model step: add .model('name@alias')")
        return self.predictor

    @property
    def name(self) -> str:
        """The graph's name (by default its first model's name): request ids and logs carry it."""
        return self._name or self._checked().models()[0].name

    def models(self) -> list[Model]:
        return self._checked().models()

    @property
    def strict(self) -> bool:
        """A bare model refuses columns it doesn't know; steps before it may add any."""
        return not self.before

    def describe(self) -> dict[str, Any]:
        predictor = self._checked()
        steps = [s.describe() for s in self.before] + [predictor.describe()] + [s.describe() for s in self.after]
        first = predictor.models()[0].current
        return {
            "graph": self.name,
            "steps": steps,
            "model_version": self.model_version,
            "signature": first.signature if first else None,
        }

    @property
    def model_version(self) -> str | None:
        loaded = [m.current.uri for m in self.models() if m.current is not None]
        return ",".join(loaded) if loaded else None

    # -- loading ---------------------------------------------------------------------------------------------
    def load(self, home: str | Path | None = None) -> Graph:
        """Load every model step (hash-checked); errors propagate."""
        for model in self.models():
            model.load(home if home is not None else self.home)
        self.refresh_steps()
        return self

    def refresh_steps(self) -> None:
        """Re-resolve the enrich steps' feature vectors (at load, then from the server's follower thread)."""
        for step in self.before:
            if isinstance(step, Enrich):
                step.refresh()

    @property
    def ready(self) -> bool:
        return self.predictor is not None and all(m.current is not None for m in self.models())

    # -- answering: the one code path ------------------------------------------------------------------------
    def new_request_id(self) -> str:
        return f"{self.name}-{secrets.token_hex(8)}"

    def answer(self, rows: Rows | pd.DataFrame, *, request_id: str | None = None) -> Result:
        """Run the rows (as parsed from a request, or a DataFrame) through the graph; models must be loaded."""
        predictor = self._checked()
        request_id = request_id or self.new_request_id()
        rows, given = split_ids(Rows.of(rows))
        ids = row_ids(request_id, given, len(rows))
        for step in self.before:
            rows = step(rows)
        answer = predictor.predict(rows, allow_extra=not self.strict, request_id=request_id)
        out = answer.predictions
        for step in self.after:
            out = step(out, answer.features)
        return Result(request_id, ids, as_list(out), answer.model_version, answer)

    def test(self, rows: dict[str, Any] | Sequence[dict[str, Any]] | pd.DataFrame) -> dict[str, Any]:
        """What POST /predict answers for these rows (a dict, a list of dicts or a DataFrame): the body is encoded
        and parsed as the server does, then answered by the same code; an error raises the ServingError whose
        status the server would send. Loads the models on first use; nothing is logged."""
        if isinstance(rows, pd.DataFrame):
            records = json.loads(rows.to_json(orient="records", date_format="iso"))
        else:
            records = [rows] if isinstance(rows, dict) else list(rows)
        body = json.dumps({"rows": records}, default=str).encode()
        if not self.ready:
            self.load()
        return self.answer(parse_predict(body)).body()

    # -- pictures --------------------------------------------------------------------------------------------
    def _repr_svg_(self) -> str:
        from nbmlops.serving.render import to_svg

        return to_svg(self)

    def __repr__(self) -> str:
        parts = [s.label() for s in self.before]
        if self.predictor is not None:
            parts.append(self.predictor.label())
        parts += [s.label() for s in self.after]
        return f"Graph({' → '.join(['request', *parts, 'response'])})"
