"""Durations such as '30s', '15m', '1h', '7d', '2w' (or a pandas/datetime timedelta) as int nanoseconds."""

from __future__ import annotations

import datetime as dt
import re

import pandas as pd

from nbmlops.features.errors import FeatureError

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
_PATTERN = re.compile(r"^\s*(\d+)\s*([smhdw])\s*$")


def to_ns(value: str | int | dt.timedelta | pd.Timedelta, *, what: str = "duration") -> int:
    """Parse a duration; ints are seconds. Raises FeatureError naming `what` on anything else."""
    if isinstance(value, pd.Timedelta | dt.timedelta):
        ns = int(pd.Timedelta(value).value)
    elif isinstance(value, int) and not isinstance(value, bool):
        ns = value * 1_000_000_000
    elif isinstance(value, str) and (match := _PATTERN.match(value)):
        ns = int(match.group(1)) * _UNITS[match.group(2)] * 1_000_000_000
    else:
        raise FeatureError(f"{what}: '{value}' is not a duration (use e.g. '30s', '15m', '1h', '7d', '2w')")
    if ns <= 0:
        raise FeatureError(f"{what}: '{value}' must be positive")
    return ns


def label(ns: int) -> str:
    """The shortest exact label of a duration: 3600e9 -> '1h'."""
    seconds = ns // 1_000_000_000
    if seconds * 1_000_000_000 == ns:
        for unit, size in sorted(_UNITS.items(), key=lambda kv: -kv[1]):
            if seconds % size == 0:
                return f"{seconds // size}{unit}"
    return f"{ns}ns"
