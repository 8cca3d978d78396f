"""The model step: a registered model version (`churn:3`), or an alias or name it follows (`churn@production`,
`churn`), loaded through the registry (artifact sha256 checked) and swapped atomically when the alias moves.

A request reads the loaded version once, so it is answered by one version from start to end and the answer
names it; `refresh()` loads a new target beside the old one and swaps only once it loaded and its signature
takes the same inputs. A failed load leaves the old version serving and is kept in `failures`.
"""

from __future__ import annotations

import logging
import threading
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from nbmlops.serving.errors import GraphError, ModelFailed, NotReady
from nbmlops.serving.rows import Rows
from nbmlops.serving.signature import conform, input_columns

log = logging.getLogger("nbmlops.serving")
METHODS = ("predict", "predict_proba", "decision_function", "transform")


@dataclass(frozen=True)
class ArrayPath:
    """A numeric signature whose model answers a float array as it answers the DataFrame (checked on the
    registered input example at load): rows that match the signature skip the per-column DataFrame work."""

    names: list[str]
    index: pd.Index
    ints: list[int]  # positions of integer columns: their values must be whole


@dataclass(frozen=True)
class Loaded:
    """One loaded version: what a request uses from start to end."""

    uri: str  # name:version
    name: str
    version: int
    model: Any
    signature: dict[str, Any] | None
    artifact_sha256: str
    array_path: ArrayPath | None = None


_NUMBERS = (int, float, np.integer, np.floating)
_NO_NAMES = "X does not have valid feature names"  # sklearn's warning for arrays; the names were checked here


def _array_path(
    model: Any, method: str, signature: dict[str, Any] | None, example: dict[str, Any] | None
) -> ArrayPath | None:
    """An ArrayPath where every input is numeric and the model gives the same answer on the example as an
    array, else None (pipelines that select columns by name, models that need their dtypes)."""
    from nbmlops.serving.signature import family

    if not signature or signature.get("type") != "dataframe" or not example or not example.get("data"):
        return None
    columns = signature.get("columns", [])
    kinds = [family(c["dtype"]) for c in columns]
    if (
        not columns
        or any(k not in ("int", "float") for k in kinds)
        or example.get("columns") != [c["name"] for c in columns]
    ):
        return None
    try:
        frame = pd.DataFrame(example["data"], columns=example["columns"]).astype(
            {c["name"]: c["dtype"] for c in columns}
        )
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=_NO_NAMES)
            expected = np.asarray(getattr(model, method)(frame))
            got = np.asarray(getattr(model, method)(frame.to_numpy(dtype=np.float64)))
    except Exception:  # noqa: BLE001 - the model doesn't take arrays: the DataFrame path it is
        return None
    if expected.shape != got.shape or not np.array_equal(expected, got):
        return None
    _quiet_names()
    names = [c["name"] for c in columns]
    return ArrayPath(names, pd.Index(names), [i for i, k in enumerate(kinds) if k == "int"])


def _quiet_names() -> None:
    """sklearn warns on every array it gets from a model fitted on a frame; the array path checked the names."""
    warnings.filterwarnings("ignore", message=_NO_NAMES, category=UserWarning)


def _as_array(path: ArrayPath, rows: Rows, allow_extra: bool) -> np.ndarray | None:
    """The rows as the model's float array when they match the signature exactly, read from the parsed values;
    else None (the DataFrame path then checks them column by column and says what is wrong)."""
    names = rows.names
    if (not allow_extra and len(names) != len(path.names)) or not set(path.names).issubset(names):
        return None
    columns = [rows.column(c) for c in path.names]
    for values in columns:
        for value in values:
            kind = type(value)  # exact types first: the common case costs two comparisons
            if (
                kind is not float
                and kind is not int
                and value is not None
                and (isinstance(value, bool | np.bool_) or not isinstance(value, _NUMBERS))
            ):
                return None
    block = np.array(columns, dtype=np.float64).T
    if path.ints:
        whole = block[:, path.ints]
        if not np.array_equal(whole, np.round(whole)):
            return None
    return block


@dataclass
class LoadFailure:
    version: str
    reason: str
    at: float = field(default_factory=time.time)


@dataclass
class Answer:
    """What a model step (or a router) answers for a batch of rows."""

    predictions: np.ndarray
    model_version: str
    log_name: str  # the monitoring log these rows go to: the answering model's name
    inputs: Any  # what the model took: a DataFrame, or a float array with `columns`
    columns: Any = None
    shadows: list[Any] = field(default_factory=list)  # (Model, Rows) pairs a shadow router runs off the path

    @property
    def features(self) -> pd.DataFrame:
        """The model's input as a frame (for post steps and the log; built only when asked for)."""
        if isinstance(self.inputs, pd.DataFrame):
            return self.inputs
        return pd.DataFrame(self.inputs, columns=self.columns, copy=False)


def as_list(predictions: Any) -> list[Any]:
    """JSON-able predictions: numpy scalars as Python numbers, 2-D outputs as lists per row."""
    array = np.asarray(predictions)
    return array.tolist()


def _same_inputs(old: dict[str, Any] | None, new: dict[str, Any] | None) -> str | None:
    """Why a version with signature `new` can't replace one with `old` in a running graph, or None."""
    if old is None or new is None:
        return None if old == new else "one of the two versions was registered without a signature"
    if old.get("type") != new.get("type"):
        return f"its input is a {new.get('type')}, the serving version's a {old.get('type')}"
    if old.get("type") == "ndarray":
        return None if old.get("shape") == new.get("shape") else f"its input shape {new.get('shape')} differs"
    before = [(c["name"], c["dtype"]) for c in old.get("columns", [])]
    after = [(c["name"], c["dtype"]) for c in new.get("columns", [])]
    if before == after:
        return None
    return f"its signature takes {after}, the serving version's takes {before}"


class Model:
    """A model step: `Model("churn@production")`, `Model("churn:3", method="predict_proba")`."""

    def __init__(self, uri: str, *, method: str = "predict") -> None:
        from nbmlops.registry import parse_uri

        self.ref = parse_uri(uri)
        self.uri = str(self.ref)
        if method not in METHODS:
            raise GraphError(f"model step '{uri}': method must be one of {', '.join(METHODS)}, not '{method}'")
        self.method = method
        self.home: str | Path | None = None
        self.current: Loaded | None = None
        self.failures: list[LoadFailure] = []
        self.swaps = 0
        self._lock = threading.Lock()  # one load at a time; requests never take it

    def __getstate__(self) -> dict[str, Any]:
        # a graph is pickled to Ray workers (batch scoring, Serve replicas) with its loaded version; locks stay here
        return {k: v for k, v in self.__dict__.items() if k != "_lock"}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._lock = threading.Lock()
        if self.current is not None and self.current.array_path is not None:
            _quiet_names()  # in this process too

    @property
    def follows(self) -> bool:
        """Whether the step follows a moving target (an alias, or the latest version)."""
        return self.ref.version is None

    @property
    def name(self) -> str:
        return self.ref.name

    def models(self) -> list[Model]:
        return [self]

    def describe(self) -> dict[str, Any]:
        loaded = self.current
        return {
            "step": "model",
            "uri": self.uri,
            "method": self.method,
            "model_version": loaded.uri if loaded else None,
            "signature": loaded.signature if loaded else None,
        }

    def label(self) -> str:
        loaded = self.current
        return f"{self.uri} → {loaded.uri}" if loaded and loaded.uri != self.uri else self.uri

    # -- loading ----------------------------------------------------------------------------------------
    def _load_version(self, number: int) -> Loaded:
        from nbmlops.registry import get_model_version, load_model

        uri = f"{self.ref.name}:{number}"
        meta = get_model_version(uri, home=self.home)
        model = load_model(uri, home=self.home)  # verifies the artifact's sha256 before unpickling
        if not hasattr(model, self.method):
            raise GraphError(f"model {uri} ({type(model).__name__}) has no method '{self.method}'")
        return Loaded(
            uri,
            self.ref.name,
            number,
            model,
            meta.signature,
            meta.artifact_sha256,
            _array_path(model, self.method, meta.signature, meta.input_example),
        )

    def load(self, home: str | Path | None = None) -> Loaded:
        """Load the version the URI names now (first load: errors propagate)."""
        from nbmlops.registry import resolve_version

        self.home = home if home is not None else self.home
        with self._lock:
            if self.current is None:
                self.current = self._load_version(resolve_version(self.uri, home=self.home))
                log.info("serving %s as %s", self.uri, self.current.uri)
            return self.current

    def refresh(self) -> str | None:
        """If the URI names another version now, load it and swap; returns the new version's URI, or None.
        A version that fails to load or takes other inputs is recorded in `failures` and the old one stays."""
        from nbmlops.registry import resolve_version

        if self.current is None:
            self.load()
            return self.current.uri if self.current else None
        with self._lock:
            number = resolve_version(self.uri, home=self.home)
            old = self.current
            if number == old.version or any(f.version == f"{self.ref.name}:{number}" for f in self.failures[-1:]):
                return None  # unchanged, or the version that just failed (retried once the alias moves again)
            try:
                new = self._load_version(number)
                why = _same_inputs(old.signature, new.signature)
                if why:
                    raise GraphError(f"model {new.uri} can't replace {old.uri}: {why}")
            except Exception as exc:  # noqa: BLE001 - any failure keeps the old version; it is reported
                failure = LoadFailure(f"{self.ref.name}:{number}", f"{type(exc).__name__}: {exc}")
                self.failures.append(failure)
                log.error(
                    "%s: version %s failed to load, %s keeps serving: %s",
                    self.uri,
                    failure.version,
                    old.uri,
                    failure.reason,
                )
                return None
            self.current = new  # one reference assignment: a request sees the old version or the new one
            self.swaps += 1
            log.info("%s moved: now serving %s (was %s)", self.uri, new.uri, old.uri)
            return new.uri

    # -- answering --------------------------------------------------------------------------------------
    def predict(self, rows: Rows | pd.DataFrame, *, allow_extra: bool, request_id: str) -> Answer:
        loaded = self.current
        if loaded is None:
            raise NotReady(f"model {self.uri} is not loaded yet")
        rows = Rows.of(rows)
        columns = input_columns(loaded.signature)
        if columns and rows.names == [str(i) for i in range(len(columns))]:
            rows = rows.renamed(columns)  # positional rows (MLflow's "instances": [[...]])
        block = _as_array(loaded.array_path, rows, allow_extra) if loaded.array_path else None
        if block is not None:
            return self._answer(loaded, block, request_id, features=None)
        inputs = conform(rows.frame(), loaded.signature, allow_extra=allow_extra, where=f"model {loaded.uri}")
        features = inputs if isinstance(inputs, pd.DataFrame) else None
        return self._answer(loaded, inputs, request_id, features=features)

    def _answer(self, loaded: Loaded, inputs: Any, request_id: str, *, features: pd.DataFrame | None) -> Answer:
        try:
            predictions = np.asarray(getattr(loaded.model, self.method)(inputs))
        except Exception as exc:  # noqa: BLE001 - any model error is a 500 that names the request
            raise ModelFailed(
                f"model {loaded.uri} raised {type(exc).__name__}: {exc} (request {request_id})",
                detail={"model_version": loaded.uri},
            ) from exc
        columns = None
        if features is None:  # an array: named by the signature where it has the signature's width
            path, wide = loaded.array_path, np.ndim(inputs) == 2
            columns = (
                path.index
                if path is not None and wide and np.shape(inputs)[1] == len(path.names)
                else ([str(i) for i in range(np.shape(inputs)[1])] if wide else None)
            )
        return Answer(predictions, loaded.uri, loaded.name, inputs, columns)
