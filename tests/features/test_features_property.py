"""The promise of features defined once (hypothesis): after any sequence of events, pushed one by one or in any
batching, out of order and late ones included, online values equal the batch computation over the same events,
and both equal the plain definition of each feature. Lateness rule: see nbmlops/features/online.py."""

from __future__ import annotations

import math
import tempfile
from pathlib import Path

import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nbmlops.features import FeatureSet, FeatureStore, FeatureVector, Window

T0 = pd.Timestamp("2024-01-01")
FSET = FeatureSet(
    "ev",
    ["k"],
    "ts",
    [
        "x",
        "tag",
        Window("x", ["count", "sum", "mean", "min", "max", "last"], ["30m", "2h"]),
        Window("tag", ["distinct", "last"], ["4h"]),
        Window(None, ["count"], ["1h"]),
    ],
    ttl="3h",
)
VECTOR = FeatureVector("ev", [f"ev.{n}" for n in FSET.feature_names])

event = st.tuples(
    st.integers(1, 3),  # entity
    st.integers(0, 600),  # minute: events land out of order and ties happen
    st.one_of(st.none(), st.floats(-1e6, 1e6, allow_nan=False, allow_subnormal=False)),
    st.sampled_from(["a", "b", "c"]),
)


def _frame(events: list[tuple]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "k": [e[0] for e in events],
            "ts": [T0 + pd.Timedelta(minutes=e[1]) for e in events],
            "x": pd.Series([e[2] for e in events], dtype="float64"),
            "tag": [e[3] for e in events],
        }
    )


def _plain(events: list[tuple], key: int, t: pd.Timestamp) -> dict[str, object]:
    """Each feature straight from its definition (float sums compared approximately)."""
    mine = [(T0 + pd.Timedelta(minutes=m), x, tag) for k, m, x, tag in events if k == key]
    seen = sorted((e for e in mine if e[0] <= t), key=lambda e: e[0])
    if not seen or t - seen[-1][0] > pd.Timedelta("3h"):
        return {n: None for n in FSET.feature_names}
    out: dict[str, object] = {"x": seen[-1][1], "tag": seen[-1][2]}
    for w in FSET.windows:
        inside = [e for e in seen if e[0] > t - pd.Timedelta(w.window_ns, "ns")]
        if w.column is None:
            out[w.name] = float(len(inside))
            continue
        values = [e[1] if w.column == "x" else e[2] for e in inside]
        present = [v for v in values if v is not None]
        if w.agg == "last":
            out[w.name] = values[-1] if values else None
        elif w.agg == "count":
            out[w.name] = float(len(present))
        elif w.agg == "distinct":
            out[w.name] = float(len(set(present)))
        elif w.agg == "sum":
            out[w.name] = float(sum(present))
        elif present:
            out[w.name] = {"mean": sum(present) / len(present), "min": min(present), "max": max(present)}[w.agg]
        else:
            out[w.name] = None
    return out


def _null(v: object) -> bool:
    return v is None or (isinstance(v, float) and math.isnan(v))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    events=st.lists(event, min_size=1, max_size=25),
    cuts=st.lists(st.integers(1, 24), max_size=6),
    after=st.integers(0, 240),
)
def test_online_equals_batch_for_any_order_and_batching(events: list[tuple], cuts: list[int], after: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        live = FeatureStore(Path(tmp) / "live" / ".nbmlops")
        batch = FeatureStore(Path(tmp) / "batch" / ".nbmlops")
        frame = _frame(events)
        bounds = sorted({0, len(events), *[c for c in cuts if c < len(events)]})
        for lo, hi in zip(bounds, bounds[1:], strict=False):
            if hi - lo == 1:
                live.push(FSET, frame.iloc[lo].to_dict(), offline=False)
            else:
                live.push_many(FSET, frame.iloc[lo:hi], offline=False)
        batch.ingest(FSET, frame)
        as_of = frame.ts.max() + pd.Timedelta(minutes=after)
        rows = [{"k": k} for k in (1, 2, 3, 4)]
        online = live.get_online_features(VECTOR, rows, as_of=as_of).rows
        assert online == batch.get_online_features(VECTOR, rows, as_of=as_of).rows
        offline = batch.get_offline_features(
            VECTOR, pd.DataFrame({"k": [1, 2, 3, 4], "ts": [as_of] * 4}), "ts", cache=False
        )
        for i, row in enumerate(rows):
            plain = _plain(events, row["k"], as_of)
            for name in FSET.feature_names:
                got, off, want = online[i][name], offline[name].iloc[i], plain[name]
                assert (_null(got) and _null(off)) or got == off, (name, row, got, off)  # bit for bit
                if _null(want):
                    assert _null(got), (name, row, got, want)
                elif isinstance(want, float):
                    assert math.isclose(got, want, rel_tol=1e-9, abs_tol=1e-6), (name, row, got, want)
                else:
                    assert got == want, (name, row, got, want)
        live.close()
        batch.close()
