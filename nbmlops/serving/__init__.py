"""Real-time serving: a graph from the online feature store through a registered model to the response, served
over HTTP (Starlette on uvicorn, or Ray Serve), following alias moves without dropping a request, and logging
every prediction for monitoring off the request path.

    from nbmlops.serving import Graph, Canary, serve
    graph = Graph().enrich(vector, impute=0.0).model("churn@production")
    graph.test({"customer_id": 3})          # what POST /predict answers, same code path
    server = serve(graph, port=0)           # in the background; server.url, server.stop()
    nbmlops.log_label(request_id, 1)        # ground truth, joined by monitor_model

`nbmlops serve churn@production` and `nbmlops predict churn@production --input x.parquet` are the CLI forms.
The HTTP contract is in nbmlops.serving.app; the routers in nbmlops.serving.routers.
"""

from __future__ import annotations

from typing import Any

from nbmlops.serving.errors import BadRequest, GraphError, InvalidInput, ModelFailed, NotReady, ServingError
from nbmlops.serving.graph import Graph, Result
from nbmlops.serving.model_step import Model
from nbmlops.serving.prediction_log import PredictionLog, log_label
from nbmlops.serving.routers import Canary, Ensemble, Shadow
from nbmlops.serving.steps import Enrich, Post, Transform
from nbmlops.serving.target import load_target


def serve(target: Any, **kwargs: Any) -> Any:
    """Serve a model URI or a Graph in the background of this process (see nbmlops.serving.server.serve)."""
    from nbmlops.serving.server import serve as _serve

    return _serve(target, **kwargs)


def predict(target: Any, input: Any, output: Any = None, **kwargs: Any) -> Any:  # noqa: A002 - the CLI's name
    """Batch scoring through the same graph (see nbmlops.serving.batch.predict)."""
    from nbmlops.serving.batch import predict as _predict

    return _predict(target, input, output, **kwargs)


__all__ = [
    "BadRequest",
    "Canary",
    "Enrich",
    "Ensemble",
    "Graph",
    "GraphError",
    "InvalidInput",
    "Model",
    "ModelFailed",
    "NotReady",
    "Post",
    "PredictionLog",
    "Result",
    "ServingError",
    "Shadow",
    "Transform",
    "load_target",
    "log_label",
    "predict",
    "serve",
]
