"""One daemon thread per process beats for every run this process owns, so a killed process goes quiet."""

from __future__ import annotations

import os
import threading
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from nbmlops.store import Store


def interval() -> float:
    from nbmlops.store.liveness import HEARTBEAT_S

    return float(os.environ.get("NBMLOPS_HEARTBEAT_S") or HEARTBEAT_S)


class Heartbeat:
    def __init__(self) -> None:
        self._runs: dict[str, Store] = {}
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self._pid = os.getpid()

    def register(self, store: Store, run_id: str) -> None:
        with self._lock:
            if self._pid != os.getpid():  # forked: the parent's thread did not come along
                self._runs, self._thread, self._pid = {}, None, os.getpid()
            self._runs[run_id] = store
            self._wake.set()  # beat now, and pick up a changed interval (NBMLOPS_HEARTBEAT_S) at once
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._loop, name="nbmlops-heartbeat", daemon=True)
                self._thread.start()

    def unregister(self, run_id: str) -> None:
        with self._lock:
            self._runs.pop(run_id, None)

    def _loop(self) -> None:
        while True:
            self._wake.wait(interval())
            self._wake.clear()
            with self._lock:
                runs = list(self._runs.items())
            for run_id, store in runs:
                try:
                    store.heartbeat(run_id)
                except Exception as exc:  # a missed beat must not kill the thread; the next one may succeed
                    import logging

                    logging.getLogger("nbmlops.tracking").warning(
                        "nbmlops: heartbeat of run %s failed: %s", run_id, exc
                    )


HEARTBEAT = Heartbeat()
