"""The board Ray Serve replicas share their metrics on (shared_metrics.py): one small named actor per
deployment, detached so that it outlives the replica that made it (replicas come and go); stop() ends it."""

from __future__ import annotations

import contextlib
import time

from nbmlops.serving.shared_metrics import EXPIRE_S

NAMESPACE = "nbmlops"
TIMEOUT_S = 5.0


class _Board:
    """The latest metrics text of each replica (a Ray actor)."""

    def __init__(self) -> None:
        self.texts: dict[str, tuple[float, bytes]] = {}

    def put(self, replica: str, text: bytes) -> None:
        self.texts[replica] = (time.time(), text)

    def drop(self, replica: str) -> None:
        self.texts.pop(replica, None)

    def all(self) -> dict[str, bytes]:
        now = time.time()
        self.texts = {r: (at, t) for r, (at, t) in self.texts.items() if now - at < EXPIRE_S}
        return {r: t for r, (_, t) in self.texts.items()}


def board_name(app: str) -> str:
    return f"nbmlops_serve_metrics:{app}"


class RayBoard:
    """shared_metrics.Board over the deployment's actor (made by the first replica that asks)."""

    def __init__(self, app: str) -> None:
        import ray

        self.actor = (
            ray.remote(_Board)
            .options(name=board_name(app), namespace=NAMESPACE, get_if_exists=True, lifetime="detached", num_cpus=0)
            .remote()
        )

    def put(self, source: str, text: bytes) -> None:
        import ray

        ray.get(self.actor.put.remote(source, text), timeout=TIMEOUT_S)

    def drop(self, source: str) -> None:
        self.actor.drop.remote(source)

    def all(self) -> dict[str, bytes]:
        import ray

        return ray.get(self.actor.all.remote(), timeout=TIMEOUT_S)


def end_board(app: str) -> None:
    """Kill the deployment's board (after serve.shutdown)."""
    import ray

    with contextlib.suppress(Exception):  # none was made, or Ray is down
        ray.kill(ray.get_actor(board_name(app), namespace=NAMESPACE))


def replica_id() -> str:
    from ray import serve

    return str(serve.get_replica_context().replica_id.unique_id)
