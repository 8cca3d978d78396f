"""Running the app on uvicorn: in the foreground (`nbmlops serve`), or in a background thread of this process
(`nbmlops.serving.serve(...)`, `%nbmlops serve`, tests) on a socket bound before it starts, so port 0 picks a
free port and `url` is known at once.

Several workers (`--workers N`) are separate uvicorn processes that each load the target again: the target must
be a model URI or an importable graph; their /metrics counts every worker (shared_metrics.py, a folder they share).
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import os
import shutil
import socket
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from nbmlops.serving.app import Options, create_app
from nbmlops.serving.errors import GraphError
from nbmlops.serving.graph import Graph
from nbmlops.serving.shared_metrics import FolderBoard, SharedMetrics
from nbmlops.serving.target import load_target

CONFIG_ENV = "NBMLOPS_SERVE_CONFIG"  # what worker processes read: target and options as JSON
TOKEN_ENV = "NBMLOPS_SERVE_TOKEN"


def options(**given: Any) -> Options:
    """Options with the token from NBMLOPS_SERVE_TOKEN where none is given."""
    values = {k: v for k, v in given.items() if v is not None}
    values.setdefault("token", os.environ.get(TOKEN_ENV) or None)
    return Options(**values)


def app_from_env() -> Any:
    """uvicorn's factory in each worker process."""
    config = json.loads(os.environ[CONFIG_ENV])
    opts = Options(**config["options"])
    app = create_app(load_target(config["target"], home=opts.home), opts)
    # /metrics counts every worker, whichever answers the scrape
    SharedMetrics(app.state.service.metrics, str(os.getpid()), FolderBoard(config["metrics_dir"]), "worker")
    return app


class BackgroundServer:
    """A uvicorn server on a thread of this process; `stop()` (or the end of the process) ends it."""

    def __init__(self, graph: Graph, opts: Options, host: str = "127.0.0.1", port: int = 0) -> None:
        import uvicorn

        self.graph = graph
        self.app = create_app(graph, opts)
        self.socket = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
        self.socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.socket.bind((host, port))
        self.host, self.port = host, self.socket.getsockname()[1]
        config = uvicorn.Config(self.app, log_level="warning", lifespan="on", access_log=False)
        self.server = uvicorn.Server(config)
        self.server.install_signal_handlers = lambda: None  # type: ignore[method-assign]  # not the main thread
        self._thread = threading.Thread(target=self._run, name=f"nbmlops-serve-{self.port}", daemon=True)

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def service(self) -> Any:
        return self.app.state.service

    def _run(self) -> None:
        asyncio.run(self.server.serve(sockets=[self.socket]))

    def start(self, timeout: float = 60.0) -> BackgroundServer:
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self.server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise GraphError(f"the server on {self.url} did not start within {timeout:.0f}s")
            time.sleep(0.01)
        return self

    def wait_ready(self, timeout: float = 60.0) -> BackgroundServer:
        """Block until every model step is loaded (GET /ready would answer 200)."""
        deadline = time.monotonic() + timeout
        while not self.graph.ready:
            if time.monotonic() > deadline:
                error = self.service.load_error
                raise GraphError(
                    f"the models of {self.url} did not load within {timeout:.0f}s" + (f": {error}" if error else "")
                )
            time.sleep(0.02)
        return self

    def stop(self, timeout: float = 30.0) -> None:
        self.server.should_exit = True
        self._thread.join(timeout)
        self.socket.close()

    def __enter__(self) -> BackgroundServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def __repr__(self) -> str:
        return f"<nbmlops server {self.graph!r} at {self.url}>"


def serve(
    target: str | Graph,
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    home: str | Path | None = None,
    wait: bool = True,
    **option_values: Any,
) -> BackgroundServer:
    """Serve a model URI or a graph in the background of this process; returns the running server (its `url`;
    `stop()` ends it). wait: return once the models are loaded."""
    opts = options(home=home, **option_values)
    server = BackgroundServer(load_target(target, home=home), opts, host, port).start()
    return server.wait_ready() if wait else server


def run_forever(
    target: str,
    *,
    host: str = "127.0.0.1",
    port: int = 8080,
    workers: int = 1,
    home: str | Path | None = None,
    log_level: str = "info",
    **option_values: Any,
) -> None:
    """`nbmlops serve`: uvicorn in the foreground until Ctrl-C (or SIGTERM)."""
    import uvicorn

    opts = options(home=str(home) if home is not None else None, **option_values)
    graph = load_target(target, home=home)  # errors in the target show before any worker starts
    if workers <= 1:
        uvicorn.run(create_app(graph, opts), host=host, port=port, log_level=log_level, access_log=False)
        return
    metrics_dir = tempfile.mkdtemp(prefix="nbmlops-serve-metrics-")
    config = {"target": target, "options": dataclasses.asdict(opts), "metrics_dir": metrics_dir}
    os.environ[CONFIG_ENV] = json.dumps(config, default=str)
    try:
        uvicorn.run(
            "nbmlops.serving.server:app_from_env",
            factory=True,
            host=host,
            port=port,
            workers=workers,
            log_level=log_level,
            access_log=False,
        )
    finally:
        shutil.rmtree(metrics_dir, ignore_errors=True)
