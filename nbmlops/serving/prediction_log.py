"""Prediction logging off the request path: answered requests go on a bounded queue; one thread batches them into
the monitoring prediction log (nbmlops.monitoring.log_predictions: Parquet partitions under
<home>/monitoring/<model>/predictions) with each row's id, request id, model version and the features the model
saw. A full queue drops the batch and counts it; a request never waits on the log and never fails because of it.

Shadow models run on this thread too: their predictions go to '<model>@shadow' and are compared with what the
main model answered. Labels (POST /labels, nbmlops.log_label) are batched the same way into the label log, which
monitor_model joins to predictions by id.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from nbmlops.errors import NbmlopsError

log = logging.getLogger("nbmlops.serving")
REQUEST_ID, MODEL_VERSION = "request_id", "model_version"
SHADOW_SUFFIX = "@shadow"


@dataclass
class _Labels:
    model: str
    ids: list[Any]
    labels: list[Any]


def loggable(predictions: Any) -> np.ndarray:
    """One value per row: a binary classifier's probabilities as the positive class's, wider outputs as the
    index of the largest."""
    array = np.asarray(predictions)
    if array.ndim == 2:
        return array[:, -1] if array.shape[1] == 2 else array.argmax(axis=1)
    return array


def model_of(request_id: str) -> str:
    """The model name a serving request id ('churn-3f2a…', or 'churn-3f2a….0' for a row) starts with."""
    name, dash, rest = str(request_id).rpartition("-")
    if not dash or not name or not rest:
        raise NbmlopsError(
            f"'{request_id}' is not a request id nbmlops serving gave out (NAME-HEX): "
            "say which model it belongs to with model="
        )
    return name


def log_label(request_id: Any, label: Any, *, model: str | None = None, home: str | Path | None = None) -> Path:
    """Attach ground truth to a served prediction, by the request id (or row id) the response carried; monitoring
    joins it to the logged prediction. `model` where the id is the client's own (a row's "id")."""
    from nbmlops.monitoring import log_labels

    return log_labels(model or model_of(request_id), [str(request_id)], [label], home=home)


class PredictionLog:
    def __init__(
        self,
        home: str | Path | None = None,
        *,
        max_queue: int = 10_000,
        flush_s: float = 0.5,
        max_rows: int = 20_000,
        start: bool = True,
    ) -> None:
        self.home, self.flush_s, self.max_rows = home, flush_s, max_rows
        self._queue: queue.Queue[Any] = queue.Queue(maxsize=max_queue)
        self.logged_rows = self.dropped_rows = self.write_errors = self.labels_logged = 0
        self.shadow_agree = self.shadow_disagree = self.shadow_errors = 0
        self._stop = threading.Event()
        self._idle = threading.Event()
        self._hurry = threading.Event()  # drain(): write what is pending now instead of at the next flush
        self._thread = threading.Thread(target=self._run, name="nbmlops-prediction-log", daemon=True)
        if start:
            self._thread.start()

    def start(self) -> None:
        """Start the writing thread (where the log was made with start=False)."""
        self._thread.start()

    # -- the request side: never blocks ----------------------------------------------------------------------
    def submit(self, result: Any) -> bool:
        return self._offer(result, len(result.ids))

    def submit_labels(self, model: str, ids: list[Any], labels: list[Any]) -> bool:
        return self._offer(_Labels(model, list(ids), list(labels)), len(ids))

    def _offer(self, item: Any, rows: int) -> bool:
        try:
            self._queue.put_nowait(item)
        except queue.Full:
            self.dropped_rows += rows
            return False
        self._idle.clear()
        return True

    @property
    def depth(self) -> int:
        return self._queue.qsize()

    # -- the logging thread ----------------------------------------------------------------------------------
    def _run(self) -> None:
        pending: list[Any] = []
        rows, first = 0, 0.0
        while True:
            wait = 0.05 if not pending else min(0.05, first + self.flush_s - time.monotonic())
            try:
                item = self._queue.get(timeout=wait) if wait > 0 else self._queue.get_nowait()
                if not pending:
                    first = time.monotonic()
                pending.append(item)
                rows += len(item.ids)
            except queue.Empty:
                pass
            if pending and (
                rows >= self.max_rows
                or time.monotonic() - first >= self.flush_s
                or self._queue.empty()
                and (self._stop.is_set() or self._hurry.is_set())
            ):
                self._write(pending)
                pending, rows = [], 0
            if not pending and self._queue.empty():
                self._idle.set()
                if self._stop.is_set():
                    return

    def write(self, items: list[Any]) -> None:
        """Write answered Results (and labels) now, on this thread: batch scoring, where no request waits."""
        self._write(list(items))

    def _write(self, items: list[Any]) -> None:
        from nbmlops.monitoring import log_labels, log_predictions

        groups: dict[str, list[pd.DataFrame]] = defaultdict(list)
        labels: dict[str, list[_Labels]] = defaultdict(list)
        for item in items:
            if isinstance(item, _Labels):
                labels[item.model].append(item)
                continue
            answer = item.answer
            groups[answer.log_name].append(
                self._rows(answer.features, answer.predictions, item.ids, item.request_id, answer.model_version)
            )
            for shadow, frame in answer.shadows:
                self._shadow(shadow, frame, item, groups)
        for name, frames in groups.items():
            self._write_group(log_predictions, name, frames)
        for name, batches in labels.items():
            try:
                log_labels(
                    name,
                    [str(i) for b in batches for i in b.ids],
                    [v for b in batches for v in b.labels],
                    home=self.home,
                )
                self.labels_logged += sum(len(b.ids) for b in batches)
            except Exception:  # noqa: BLE001 - as above
                self.write_errors += 1
                log.exception("could not write labels of %s", name)

    def _write_group(self, write: Any, name: str, frames: list[pd.DataFrame]) -> None:
        """One Parquet partition for the group; where that fails (requests whose columns hold values of different
        types), each request's rows on their own, so one odd request loses only its own rows."""
        for batch in ([pd.concat(frames, ignore_index=True)], frames):
            failed = []
            for frame in batch:
                try:
                    write(
                        name,
                        frame.drop(columns=["prediction", "id"]),
                        frame["prediction"].to_numpy(),
                        ids=frame["id"].to_numpy(),
                        home=self.home,
                    )
                    if not name.endswith(SHADOW_SUFFIX):
                        self.logged_rows += len(frame)
                except Exception:  # noqa: BLE001 - counted and logged; serving goes on
                    failed.append(frame)
            if not failed:
                return
            if len(batch) > 1 or len(frames) == 1:
                self.write_errors += len(failed)
                log.error("could not write %d logged predictions of %s", sum(map(len, failed)), name)
                return

    @staticmethod
    def _rows(features: pd.DataFrame, predictions: Any, ids: list[Any], request_id: str, version: str) -> pd.DataFrame:
        frame = features.reset_index(drop=True).copy()
        frame["prediction"] = loggable(predictions)
        frame["id"] = [str(i) for i in ids]  # one type across requests; labels are joined as strings too
        frame[REQUEST_ID] = request_id
        frame[MODEL_VERSION] = version
        return frame

    def _shadow(self, shadow: Any, frame: pd.DataFrame, item: Any, groups: dict[str, list[pd.DataFrame]]) -> None:
        try:
            answer = shadow.predict(frame, allow_extra=True, request_id=item.request_id)
        except Exception:  # noqa: BLE001 - a shadow's failure never reaches the client; it is counted and logged
            self.shadow_errors += 1
            log.exception("shadow model %s failed on request %s", shadow.uri, item.request_id)
            return
        groups[answer.log_name + SHADOW_SUFFIX].append(
            self._rows(answer.features, answer.predictions, item.ids, item.request_id, answer.model_version)
        )
        same = loggable(answer.predictions) == loggable(item.answer.predictions)
        self.shadow_agree += int(np.sum(same))
        self.shadow_disagree += int(np.size(same) - np.sum(same))

    # -- lifecycle -------------------------------------------------------------------------------------------
    def drain(self, timeout: float = 30.0) -> bool:
        """Wait until everything submitted so far is written (tests, shutdown); False on timeout."""
        deadline = time.monotonic() + timeout
        self._hurry.set()
        try:
            while time.monotonic() < deadline:
                self._idle.clear()
                if self._idle.wait(0.2) and self._queue.empty():
                    return True
            return False
        finally:
            self._hurry.clear()

    def close(self, timeout: float = 30.0) -> None:
        self._stop.set()
        self._thread.join(timeout)
