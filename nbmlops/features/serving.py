"""Reading the online store for a vector: row features straight from each entity's state, windows evaluated
at the read time by the same code as the offline join (windows.evaluate) over the buffered events."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from nbmlops.features import windows as win
from nbmlops.features.errors import FeatureError
from nbmlops.features.online import OnlineBackend, entity_key
from nbmlops.features.online_features import OnlineFeatures
from nbmlops.features.pit import EventIndex
from nbmlops.features.vectors import Group, Resolved

_NS = 1e9


def read_online(
    backend: OnlineBackend, resolved: Resolved, rows: Sequence[dict[str, Any]], as_of_ns: int
) -> OnlineFeatures:
    if isinstance(rows, dict):
        rows = [rows]
    entities = resolved.entities
    out = [{e: row.get(e) for e in entities} for row in rows]
    fresh: list[dict[str, float | None]] = [{} for _ in rows]
    for group in resolved.groups:
        _read_group(backend, group, rows, as_of_ns, out, fresh, resolved.vector.name)
    return OnlineFeatures(out, fresh)


def _read_group(
    backend: OnlineBackend,
    group: Group,
    rows: Sequence[dict[str, Any]],
    as_of_ns: int,
    out: list[dict[str, Any]],
    fresh: list[dict[str, float | None]],
    vector: str,
) -> None:
    spec = group.spec
    try:
        keys = [entity_key([row[e] for e in spec.entities]) for row in rows]
    except KeyError as exc:
        raise FeatureError(
            f"feature vector '{vector}': entity row without column {exc} "
            f"(feature set '{spec.name}' needs {', '.join(spec.entities)})"
        ) from None
    states = backend.get(f"{spec.name}:v{spec.version}", keys)
    ttl = spec.ttl_ns
    alive = [s is not None and (ttl is None or as_of_ns - s["t"] <= ttl) for s in states]
    positions = [
        (spec.row_features.index(f), c)
        for f, c in zip(group.features, group.columns, strict=True)
        if f in spec.row_features
    ]
    datetimes = {spec.row_features.index(f) for f in group.row if spec.dtypes.get(f) == "datetime"}
    for i, state in enumerate(states):
        age = (as_of_ns - state["t"]) / _NS if alive[i] else None
        values = state["v"] if alive[i] else None
        for pos, column in positions:
            value = values[pos] if values is not None else None
            if pos in datetimes and value is not None:
                value = pd.Timestamp(value)
            out[i][column] = value
            fresh[i][column] = age
    if group.windows:
        _windows(group, states, alive, as_of_ns, out, fresh)


def _windows(
    group: Group,
    states: list[Any],
    alive: list[bool],
    as_of_ns: int,
    out: list[dict[str, Any]],
    fresh: list[dict[str, float | None]],
) -> None:
    spec = group.spec
    inputs = spec.window_inputs
    codes: list[int] = []
    stamps: list[int] = []
    columns: dict[str, list[Any]] = {c: [] for c in inputs}
    for i, state in enumerate(states):
        if alive[i]:
            for event in state.get("w") or []:
                codes.append(i)
                stamps.append(event[0])
                for j, c in enumerate(inputs):
                    columns[c].append(event[1 + j])
    index = EventIndex.build(np.asarray(codes, dtype=np.int64), np.asarray(stamps, dtype=np.int64))
    q_codes = np.arange(len(states), dtype=np.int64)
    q_ts = np.full(len(states), as_of_ns, dtype=np.int64)
    hi = index.asof(q_codes, q_ts)
    live = np.asarray(alive, dtype=bool) & (hi >= 0)
    hi = np.where(live, hi, -1)
    series = {}
    for c in inputs:  # the offline dtypes: numbers as float64, anything else as objects
        values = [columns[c][k] for k in index.order] if len(index.order) else []
        dtype = np.float64 if spec.dtypes.get(c) in ("number", None) else object
        series[c] = (
            pd.Series(values, dtype=dtype)
            if dtype is object
            else pd.Series(np.asarray([np.nan if v is None else v for v in values], dtype=np.float64))
        )
    result = win.evaluate(index, series, group.windows, q_codes, q_ts, hi, live)
    names = dict(zip(group.features, group.columns, strict=True))
    for feature in group.windows:
        column = names[feature.name]
        values = result[feature.name]
        for i in range(len(states)):
            value = values[i]
            out[i][column] = (
                None
                if value is None or (isinstance(value, float) and np.isnan(value))
                else (value.item() if hasattr(value, "item") else value)
            )
            fresh[i][column] = (as_of_ns - states[i]["t"]) / _NS if live[i] else None
