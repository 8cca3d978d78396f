"""Errors a request or a graph definition can cause. Each carries the HTTP status the server answers with, so
`graph.test(...)` raises exactly what the server would answer."""

from __future__ import annotations

from typing import Any

from nbmlops.errors import NbmlopsError


class ServingError(NbmlopsError):
    """A request the graph refuses (status 4xx) or could not answer (5xx); `detail` is extra JSON for the body."""

    status = 500
    code = "INTERNAL_ERROR"

    def __init__(self, message: str, *, status: int | None = None, detail: Any = None) -> None:
        super().__init__(message)
        if status is not None:
            self.status = status
        self.detail = detail


class BadRequest(ServingError):
    """A body that is not JSON, or JSON that is not one of the accepted shapes."""

    status = 400
    code = "BAD_REQUEST"


class InvalidInput(ServingError):
    """Rows that don't match the model's signature, or an unknown entity where the graph forbids it."""

    status = 422
    code = "INVALID_PARAMETER_VALUE"


class ModelFailed(ServingError):
    """The model (or a transform) raised on valid input."""

    status = 500
    code = "INTERNAL_ERROR"


class NotReady(ServingError):
    """No model loaded yet, or too many requests queued."""

    status = 503
    code = "TEMPORARILY_UNAVAILABLE"


class GraphError(NbmlopsError):
    """A serving graph that is wired wrongly (no model step, a step after the response, an unknown target)."""
