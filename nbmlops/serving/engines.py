"""Serving engines, a plain registry as papermill keeps its engines: name -> "module:function" that serves a
target in the foreground until stopped. `register_engine` adds one (a third-party server, a cluster)."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

from nbmlops.serving.errors import GraphError

ENGINES: dict[str, str] = {
    "local": "nbmlops.serving.server:run_forever",  # Starlette on uvicorn, --workers N processes
    "ray": "nbmlops.serving.ray_engine:run_ray",  # Ray Serve deployments
}


def register_engine(name: str, function: str) -> None:
    ENGINES[name] = function


def engine(name: str) -> Callable[..., Any]:
    """The run function of engine `name` (imported on first use)."""
    if name not in ENGINES:
        raise GraphError(f"unknown serving engine '{name}' (engines: {', '.join(sorted(ENGINES))})")
    module, _, attribute = ENGINES[name].partition(":")
    return getattr(importlib.import_module(module), attribute)
