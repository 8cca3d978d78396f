"""/metrics where several processes answer one address (uvicorn's `--workers N`, Ray Serve's replicas): a scrape
lands on one of them, and its own counters alone would make Prometheus read counters jumping between processes
as resets. Each process pushes its metrics text to a board every PUSH_S seconds and when it answers a scrape; the
answer is the board's texts merged (metrics.merge), each sample labelled with its process. A process that
stopped pushing (gone, or stuck) drops out after EXPIRE_S.

Boards: FolderBoard (a folder the workers of one machine share) and ray_metrics.RayBoard (a named Ray actor).
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
import time
from pathlib import Path
from typing import Protocol

from nbmlops.serving.metrics import Metrics, merge

PUSH_S = 2.0
EXPIRE_S = 30.0
log = logging.getLogger("nbmlops.serving")


class Board(Protocol):
    def put(self, source: str, text: bytes) -> None: ...

    def drop(self, source: str) -> None: ...

    def all(self) -> dict[str, bytes]: ...


class FolderBoard:
    """One file per process in `folder`, replaced whole on each push (readers never see half a text)."""

    def __init__(self, folder: str | Path) -> None:
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)

    def put(self, source: str, text: bytes) -> None:
        part = self.folder / f".{source}.{threading.get_ident()}.tmp"
        part.write_bytes(text)
        os.replace(part, self.folder / f"{source}.prom")

    def drop(self, source: str) -> None:
        (self.folder / f"{source}.prom").unlink(missing_ok=True)

    def all(self) -> dict[str, bytes]:
        found, now = {}, time.time()
        for file in self.folder.glob("*.prom"):
            with contextlib.suppress(FileNotFoundError):  # a process ending meanwhile
                if now - file.stat().st_mtime < EXPIRE_S:
                    found[file.stem] = file.read_bytes()
        return found


class SharedMetrics:
    """Hooks one process's Metrics to a board: pushes in the background, answers a scrape with everyone's."""

    def __init__(self, metrics: Metrics, source: str, board: Board, label: str) -> None:
        self.metrics, self.source, self.board, self.label = metrics, source, board, label
        metrics.gather = self.gather
        self._stop = threading.Event()
        threading.Thread(target=self._push_loop, name="nbmlops-metrics-push", daemon=True).start()

    def _push_loop(self) -> None:
        while not self._stop.wait(PUSH_S):
            try:
                self.board.put(self.source, self.metrics.own_text())
            except Exception as exc:  # noqa: BLE001 - the board busy or gone: the next push tries again
                log.debug("metrics: push failed: %s", exc)

    def gather(self, own: bytes) -> bytes:
        try:
            self.board.put(self.source, own)
            texts = self.board.all()
        except Exception as exc:  # noqa: BLE001 - answer with this process's own figures rather than fail
            log.warning("metrics: the shared board did not answer (%s); this process's metrics only", exc)
            texts = {}
        return merge({**texts, self.source: own}, label=self.label)

    def close(self) -> None:
        self._stop.set()
        with contextlib.suppress(Exception):
            self.board.drop(self.source)
