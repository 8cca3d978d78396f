"""`nbmlops serve TARGET --engine ray`: the same graph and HTTP contract as Ray Serve deployments, for traffic
that outgrows one process. Each replica builds the same Starlette app (nbmlops.serving.app) and answers Ray
Serve's HTTP requests through it, so routes, errors, the token, alias following and prediction logging are the
embedded server's; /metrics counts every replica, each sample labelled with its replica (shared_metrics.py).
replicas: a number, or "auto" (Ray Serve's autoscaling between 1 and the cluster's CPUs).
"""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path
from typing import Any

from nbmlops.serving.app import Options, create_app
from nbmlops.serving.errors import GraphError
from nbmlops.serving.graph import Graph
from nbmlops.serving.ray_metrics import RayBoard, end_board, replica_id
from nbmlops.serving.ray_runtime import init_ray
from nbmlops.serving.shared_metrics import SharedMetrics
from nbmlops.serving.target import load_target

APP_NAME = "nbmlops"


class GraphReplica:
    """One Ray Serve replica: the graph loaded, its follower and log running, the app answering."""

    def __init__(self, target: str | Graph, options: dict[str, Any]) -> None:
        self.options = Options(**options)
        graph = load_target(target, home=self.options.home)
        self.app = create_app(graph, self.options)
        self.service = self.app.state.service
        self.service.first_load()  # Ray Serve runs no ASGI lifespan for a plain deployment: start it here
        self.service.start()
        self.shared_metrics = SharedMetrics(self.service.metrics, replica_id(), RayBoard(APP_NAME), "replica")

    async def __call__(self, request: Any) -> Any:
        from starlette.responses import Response

        body = await request.body()
        sent: list[dict[str, Any]] = []
        delivered = False

        async def receive() -> dict[str, Any]:
            nonlocal delivered
            if delivered:
                return {"type": "http.disconnect"}
            delivered = True
            return {"type": "http.request", "body": body, "more_body": False}

        async def send(message: dict[str, Any]) -> None:
            sent.append(message)

        scope = {**request.scope, "root_path": "", "app": self.app}
        await self.app(scope, receive, send)
        start = next(m for m in sent if m["type"] == "http.response.start")
        content = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
        headers = {
            k.decode("latin-1"): v.decode("latin-1")
            for k, v in start.get("headers", [])
            if k.lower() != b"content-length"
        }
        return Response(content, status_code=start["status"], headers=headers)

    def __del__(self) -> None:
        service = getattr(self, "service", None)
        if service is not None:
            service.stop()
        shared = getattr(self, "shared_metrics", None)
        if shared is not None:
            shared.close()


def _deployment(replicas: str | int, cpus: int) -> Any:
    from ray import serve

    settings: dict[str, Any] = {"name": "nbmlops_graph", "max_ongoing_requests": 64}
    if str(replicas) == "auto":
        # Ray Serve's defaults for "auto" (2 requests in flight per replica), capped at the cluster's CPUs
        # instead of its 100: a replica is one process answering on one core
        settings["num_replicas"] = "auto"
        settings["autoscaling_config"] = {"min_replicas": 1, "max_replicas": max(1, cpus)}
    else:
        count = int(replicas)
        if count < 1:
            raise GraphError(f"--replicas must be at least 1 or 'auto', not {replicas}")
        settings["num_replicas"] = count
    return serve.deployment(**settings)(GraphReplica)


def deploy(
    target: str | Graph,
    *,
    host: str = "127.0.0.1",
    port: int = 8000,
    ray_address: str | None = None,
    replicas: str | int = 1,
    home: str | Path | None = None,
    timeout: float = 300.0,
    **option_values: Any,
) -> str:
    """Deploy the graph on Ray Serve's HTTP proxy at host:port and wait until it answers /ready; returns its
    URL. serve.shutdown() (or stop()) removes it."""
    from ray import serve

    from nbmlops.serving.server import options

    if home is None:
        from nbmlops.store.config import load_settings

        home = load_settings(None).home  # replicas may run elsewhere: they get the home, not the cwd
    opts = options(home=str(home), **option_values)
    graph = load_target(target, home=home)  # errors in the target show here, before any replica starts
    init_ray(ray_address)
    import ray

    deployment = _deployment(replicas, int(ray.cluster_resources().get("CPU", 1)))
    serve.start(http_options={"host": host, "port": port})
    payload = target if isinstance(target, str) else graph
    serve.run(deployment.bind(payload, dataclasses.asdict(opts)), name=APP_NAME, route_prefix="/", blocking=False)
    url = f"http://{host}:{port}"
    _wait_ready(url, opts.token, timeout)
    return url


def _wait_ready(url: str, token: str | None, timeout: float) -> None:
    import urllib.error
    import urllib.request

    deadline = time.monotonic() + timeout
    request = urllib.request.Request(f"{url}/ready", headers={"Authorization": f"Bearer {token}"} if token else {})
    last = ""
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, OSError) as exc:
            last = str(exc)
        time.sleep(0.5)
    raise GraphError(f"the Ray Serve deployment at {url} was not ready within {timeout:.0f}s ({last})")


def stop() -> None:
    """Remove the deployment and stop Ray Serve (the Ray runtime stays up)."""
    from ray import serve

    serve.shutdown()
    end_board(APP_NAME)


def run_ray(
    target: str,
    *,
    host: str = "127.0.0.1",
    port: int = 8000,
    ray_address: str | None = None,
    replicas: str | int = 1,
    **option_values: Any,
) -> None:
    """`nbmlops serve --engine ray`: deploy, then keep the driver alive until Ctrl-C."""
    url = deploy(target, host=host, port=port, ray_address=ray_address, replicas=replicas, **option_values)
    print(f"nbmlops: serving {target} on Ray Serve at {url} (Ctrl-C stops)", flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        stop()
