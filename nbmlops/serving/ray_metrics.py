"""/metrics of a Ray Serve deployment counts every replica, not only the one Serve's proxy sent the scrape to
(which would make Prometheus read counters jumping between replicas as resets).

Each replica pushes its own metrics text to one small named actor (the board) every PUSH_S seconds and when it
answers a scrape; the scrape's answer is the board's texts merged (metrics.merge), each sample labelled with its
replica. A replica that stopped pushing (gone, or stuck) drops out after EXPIRE_S.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time

from nbmlops.serving.metrics import Metrics, merge

NAMESPACE = "nbmlops"
PUSH_S = 2.0
EXPIRE_S = 30.0
log = logging.getLogger("nbmlops.serving")


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


class ReplicaMetrics:
    """Hooks one replica's Metrics to the board: pushes in the background, gathers on a scrape."""

    def __init__(self, metrics: Metrics, replica: str, app: str) -> None:
        import ray

        self.metrics, self.replica = metrics, replica
        # detached: it outlives the replica that made it (replicas come and go); ray_engine.stop() ends it
        self.board = (
            ray.remote(_Board)
            .options(name=board_name(app), namespace=NAMESPACE, get_if_exists=True, lifetime="detached", num_cpus=0)
            .remote()
        )
        metrics.gather = self.gather
        self._stop = threading.Event()
        threading.Thread(target=self._push_loop, name="nbmlops-metrics-push", daemon=True).start()

    def _push_loop(self) -> None:
        while not self._stop.wait(PUSH_S):
            with contextlib.suppress(Exception):  # the board restarting or gone: the next push tries again
                self.board.put.remote(self.replica, self.metrics.own_text())

    def gather(self, own: bytes) -> bytes:
        import ray

        try:
            ray.get(self.board.put.remote(self.replica, own), timeout=5)
            texts = ray.get(self.board.all.remote(), timeout=5)
        except Exception as exc:  # noqa: BLE001 - any Ray failure: answer with this replica's own figures
            log.warning("metrics: the replicas' board did not answer (%s); this replica's metrics only", exc)
            texts = {self.replica: own}
        return merge(texts)

    def close(self) -> None:
        self._stop.set()
        with contextlib.suppress(Exception):
            self.board.drop.remote(self.replica)


def end_board(app: str) -> None:
    """Kill the deployment's board (after serve.shutdown)."""
    import ray

    with contextlib.suppress(Exception):  # none was made, or Ray is down
        ray.kill(ray.get_actor(board_name(app), namespace=NAMESPACE))


def replica_id() -> str:
    from ray import serve

    return str(serve.get_replica_context().replica_id.unique_id)
