"""detect_drift: one row per column (test, statistic, p-value, effect size, verdict), and dataset drift.

Test choice per column: see nbmlops.monitoring.choice. By default ("auto") calibrated two-sample tests, chosen as
Evidently's DataDriftPreset chooses (n = the reference's non-missing values, v = distinct values of both sides):
    n <= 1000: numeric with v > 5 -> ks;  v in 3..5 or categorical -> chisquare (homogeneity);  v <= 2 -> z
               (drift at p <= 0.05)
    n >  1000: numeric with v > 5 -> wasserstein (normed by the reference std); otherwise -> jensenshannon
               (drift at distance >= 0.1 where the two-sample test on the same data has p <= 0.05 too)
`tests="evidently"` gives Evidently's own tests and verdicts, number for number ("evidently:chisquare", ...).
`tests={"col": "psi"}` / `thresholds={"col": 0.2}` force a test ("auto", "evidently", a test name or
"evidently:NAME") or threshold per column (a single str/float applies to every column). Beside each score stands
an effect size (normed Wasserstein for numbers, Jensen–Shannon distance for categories): with a large sample a
p-value flags trivial shifts, so `min_effect=0.1` makes a p-value test report drift only when the effect is at
least that big too. Missing values (null or infinite) and values unseen in the reference (categories never seen;
numbers outside the reference range) are reported in their own columns.
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, cast

import numpy as np
import pandas as pd

from nbmlops.monitoring import choice
from nbmlops.monitoring import stattests as st
from nbmlops.monitoring.columns import (
    NUMERIC,
    SKIPPED,
    CategoryCounts,
    NumericValues,
    SortBuffer,
    ThreadBuffers,
    category_counts,
    column_kind,
    numeric_values,
)
from nbmlops.monitoring.errors import MonitoringError
from nbmlops.monitoring.parallel import map_columns, workers
from nbmlops.monitoring.reference import ColumnReference, ReferenceProfile, build_reference, reference_column

MIN_ROWS = 10  # fewer non-missing values on either side: "not enough data", never a p-value from 3 points
DRIFT_SHARE = 0.5  # dataset drift when at least this share of tested features drifted (Evidently's default)
PLOT_BINS = 30
PLOT_TOP = 20
PROGRESS_CELLS = 20_000_000  # rows x columns above which a progress bar shows by default
OK, NOT_ENOUGH, SKIP = "ok", "not enough data", "skipped"
COLUMNS = [
    "feature",
    "role",
    "kind",
    "dtype",
    "test",
    "statistic",
    "p_value",
    "score",
    "threshold",
    "drifted",
    "effect_size",
    "effect_metric",
    "status",
    "reason",
    "n_reference",
    "n_current",
    "missing_reference",
    "missing_current",
    "unseen_current",
]


@dataclass
class DriftResult:
    """`.table`: one row per column (see COLUMNS); `.dataset_drift`: share of drifted features >= drift_share."""

    table: pd.DataFrame
    dataset_drift: bool
    drift_share: float  # drifted / tested features
    share_threshold: float
    n_reference: int
    n_current: int
    seconds: float = 0.0
    plots: dict[str, dict[str, Any]] = field(default_factory=dict)  # per column: distributions for the report

    @property
    def drifted_features(self) -> list[str]:
        t = self.table
        return t.loc[(t["role"] == "feature") & t["drifted"], "feature"].tolist()

    @property
    def prediction_drift(self) -> bool | None:
        rows = self.table[(self.table["role"] == "prediction") & (self.table["status"] == OK)]
        return bool(rows["drifted"].any()) if len(rows) else None

    def summary(self) -> str:
        tested = int(((self.table["role"] == "feature") & (self.table["status"] == OK)).sum())
        verdict = "DRIFT" if self.dataset_drift else "no drift"
        return (
            f"{verdict}: {len(self.drifted_features)} of {tested} tested features drifted "
            f"({self.drift_share:.0%}, threshold {self.share_threshold:.0%}); "
            f"{self.n_reference} reference rows, {self.n_current} current rows"
        )

    def __repr__(self) -> str:
        return f"DriftResult({self.summary()})"

    def _repr_html_(self) -> str:
        return f"<p>{self.summary()}</p>" + self.table.to_html(index=False, na_rep="")


def _per_column(value: Any, names: list[str], what: str) -> dict[str, Any]:
    if value is None:
        return {}
    if isinstance(value, Mapping):
        unknown = [str(k) for k in value if str(k) not in names]
        if unknown:
            raise MonitoringError(
                f"{what} names column(s) not in the reference data: {', '.join(unknown)} "
                f"(columns: {', '.join(names[:20])})"
            )
        return {str(k): v for k, v in value.items()}
    return dict.fromkeys(names, value)


def _check_tests(tests: dict[str, Any]) -> dict[str, str]:
    """Per column: a rule ("auto", "evidently") or a test's canonical name."""
    out = {}
    for column, name in tests.items():
        found = choice.test_name(str(name))
        if found is None:
            raise MonitoringError(
                f"unknown drift test '{name}' for column '{column}' (a rule: "
                f"{', '.join(choice.RULES)}; or a test: {', '.join(choice.TESTS)})"
            )
        out[column] = found
    return out


def _check_thresholds(thresholds: dict[str, Any]) -> dict[str, float]:
    out = {}
    for column, value in thresholds.items():
        try:
            number = float(value)
        except (TypeError, ValueError):
            number = math.nan
        if not math.isfinite(number) or number < 0:
            raise MonitoringError(f"threshold for column '{column}' must be a number >= 0, not {value!r}")
        out[column] = number
    return out


def _row(name: str, ref: ColumnReference, role: str, **values: Any) -> dict[str, Any]:
    row: dict[str, Any] = dict.fromkeys(COLUMNS)
    row.update(
        feature=name,
        role=role,
        kind=ref.kind,
        dtype=ref.dtype,
        drifted=False,
        status=OK,
        n_reference=ref.count,
        missing_reference=ref.missing / ref.rows if ref.rows else math.nan,
    )
    row.update(values)
    return row


def _numeric_plot(ref: np.ndarray, cur: np.ndarray) -> dict[str, Any]:
    lo, hi = min(ref[0], cur[0]), max(ref[-1], cur[-1])
    edges = np.histogram_bin_edges(np.array([lo, hi]), bins=PLOT_BINS)

    def shares(values: np.ndarray) -> list[float]:
        below = np.searchsorted(values, edges, side="left")
        below[-1] = len(values)
        return (np.diff(below) / len(values)).tolist()

    return {"type": "numeric", "edges": edges.tolist(), "reference": shares(ref), "current": shares(cur)}


def _categorical_plot(ref: dict, cur: dict) -> dict[str, Any]:
    n_ref, n_cur = sum(ref.values()) or 1, sum(cur.values()) or 1
    keys = list(ref)[:PLOT_TOP] + [k for k, _ in sorted(cur.items(), key=lambda kv: -kv[1]) if k not in ref][:5]
    return {
        "type": "categorical",
        "categories": [str(k) for k in keys],
        "reference": [ref.get(k, 0) / n_ref for k in keys],
        "current": [cur.get(k, 0) / n_cur for k in keys],
    }


@dataclass
class _Options:
    tests: dict[str, str]
    thresholds: dict[str, float]
    min_effect: dict[str, float]
    min_rows: int
    roles: dict[str, str]
    plots: bool


def _read_current(
    ref_kind: str, current: pd.DataFrame, name: str, buffer: SortBuffer | None
) -> NumericValues | CategoryCounts | None:
    """The pass over the current column _compare needs (None where _compare skips the column unread). A numeric
    column is sorted in `buffer` when given: its values are then a view of it, valid until the buffer's next use."""
    if ref_kind == SKIPPED or name not in current.columns:
        return None
    series = current[name]
    if ref_kind == NUMERIC:
        return numeric_values(series, buffer) if column_kind(series)[0] == NUMERIC else None
    return category_counts(series)


def _compare(
    name: str,
    ref: ColumnReference,
    current: pd.DataFrame,
    opt: _Options,
    buffer: SortBuffer | None = None,
    read: NumericValues | CategoryCounts | None = None,
) -> tuple[dict, dict | None]:
    """One column's row (and plot). `read`: the current column already read by _read_current, else read here."""
    role = opt.roles.get(name, "feature")
    if ref.kind == SKIPPED:
        return _row(name, ref, role, status=SKIP, reason=ref.reason), None
    if name not in current.columns:
        return _row(name, ref, role, status=SKIP, reason="missing from the current data"), None
    series = current[name]
    cur_kind, why = column_kind(series)
    if ref.kind == NUMERIC and cur_kind != NUMERIC:
        return _row(
            name,
            ref,
            role,
            status=SKIP,
            dtype=str(series.dtype),
            reason=f"numeric in the reference but {series.dtype} in the current data",
        ), None
    plot = None
    if read is None:
        read = _read_current(ref.kind, current, name, buffer)
    if ref.kind == NUMERIC:
        cur = cast(NumericValues, read)
        n_cur, missing, rows = len(cur.sorted), cur.missing, cur.rows
        ref_sorted = ref.numeric.sorted if ref.numeric is not None else np.array([])
        if len(ref_sorted) and n_cur:
            outside = np.searchsorted(cur.sorted, ref_sorted[0], "left") + (
                n_cur - np.searchsorted(cur.sorted, ref_sorted[-1], "right")
            )
        else:
            outside = 0
        unseen = outside / n_cur if n_cur else math.nan
    else:
        counts = cast(CategoryCounts, read)
        n_cur, missing, rows = counts.total, counts.missing, counts.rows
        ref_map = ref.categories.as_dict() if ref.categories is not None else {}
        cur_map = counts.as_dict()
        unseen = sum(v for k, v in cur_map.items() if k not in ref_map) / n_cur if n_cur else math.nan
    base = {"n_current": n_cur, "missing_current": missing / rows if rows else math.nan, "unseen_current": unseen}
    short = [
        f"{side} has {n} non-missing value{'s' if n != 1 else ''}"
        for side, n in (("reference", ref.count), ("current", n_cur))
        if n < opt.min_rows
    ]
    if short:
        return _row(
            name, ref, role, status=NOT_ENOUGH, reason=f"{' and '.join(short)} (need {opt.min_rows})", **base
        ), None
    if ref.kind == NUMERIC:
        pair: st.NumericPair | st.CategoricalPair = st.NumericPair(ref_sorted, cur.sorted, ref.distinct, ref.std)
        if opt.plots:
            plot = _numeric_plot(ref_sorted, cur.sorted)
    else:
        pair = st.CategoricalPair(ref_map, cur_map)
        if opt.plots:
            plot = _categorical_plot(ref_map, cur_map)
    test = opt.tests.get(name, choice.AUTO)
    if test in choice.RULES:
        test = choice.auto_test(ref.kind, ref.count, pair.n_values, test)
    spec = choice.TESTS[test]
    threshold = opt.thresholds.get(name, spec.threshold)
    if ref.kind not in spec.kinds:
        return _row(
            name,
            ref,
            role,
            status=SKIP,
            test=test,
            threshold=threshold,
            reason=f"test '{test}' applies to {' and '.join(spec.kinds)} columns, not {ref.kind}",
            **base,
        ), plot
    with np.errstate(all="ignore"):
        outcome = choice.decide(pair, test, threshold)
        effect_metric, effect = pair.effect
    if not math.isfinite(outcome.score):
        return _row(
            name,
            ref,
            role,
            status=SKIP,
            test=test,
            threshold=threshold,
            statistic=outcome.statistic,
            reason=f"{test} is undefined on these values (score {outcome.score})",
            **base,
        ), plot
    verdict = outcome.drifted
    min_effect = opt.min_effect.get(name)
    if verdict and spec.has_p_value and min_effect is not None and effect < min_effect:
        verdict = False  # significant but too small to matter
    return _row(
        name,
        ref,
        role,
        test=test,
        statistic=outcome.statistic,
        p_value=outcome.p_value,
        score=outcome.score,
        threshold=threshold,
        drifted=verdict,
        effect_size=effect,
        effect_metric=effect_metric,
        **base,
    ), plot


def detect_drift(
    reference_df: pd.DataFrame | ReferenceProfile,
    current_df: pd.DataFrame,
    tests: str | Mapping[str, str] | None = None,
    thresholds: float | Mapping[str, float] | None = None,
    *,
    columns: list[str] | None = None,
    min_effect: float | Mapping[str, float] | None = None,
    drift_share: float = DRIFT_SHARE,
    min_rows: int = MIN_ROWS,
    prediction: str | None = None,
    target: str | None = None,
    parallel: bool = True,
    progress: bool | None = None,
    plots: bool = True,
) -> DriftResult:
    """Compare current data with reference data (a DataFrame or a precomputed ReferenceProfile), column by column.

    tests: "auto" (default: calibrated two-sample tests), "evidently" (Evidently's tests and verdicts), or a test
    name ("ks", "chisquare", "z", "wasserstein", "jensenshannon", "psi"; "evidently:NAME" for Evidently's
    formula), for all columns or as a dict per column; thresholds likewise (see the module doc for the
    automatic choice). min_effect: a p-value test drifts only if the effect size is at least this too.
    prediction/target: columns reported with that role, outside the dataset-drift share."""
    started = time.perf_counter()
    if not isinstance(current_df, pd.DataFrame):
        raise MonitoringError(f"current data must be a pandas DataFrame, not {type(current_df).__qualname__}")
    current = current_df.set_axis([str(c) for c in current_df.columns], axis=1)
    if isinstance(reference_df, ReferenceProfile):
        profile = reference_df
        names = list(profile.columns) if columns is None else [str(c) for c in columns]
        missing = [n for n in names if n not in profile.columns]
        if missing:
            raise MonitoringError(f"column(s) not in the reference profile: {', '.join(missing)}")
    else:
        if not isinstance(reference_df, pd.DataFrame):
            raise MonitoringError(
                f"reference data must be a pandas DataFrame or a ReferenceProfile, "
                f"not {type(reference_df).__qualname__}"
            )
        names = [str(c) for c in reference_df.columns] if columns is None else [str(c) for c in columns]
        absent = [n for n in names if n not in {str(c) for c in reference_df.columns}]
        if absent:
            raise MonitoringError(f"column(s) not in the reference data: {', '.join(absent)}")
        profile = None
    if len(set(names)) != len(names):
        raise MonitoringError("duplicate column names: drift is reported per column name")
    if not 0 < drift_share <= 1:
        raise MonitoringError(f"drift_share must be in (0, 1], not {drift_share}")
    roles = {n: "feature" for n in names}
    for role, column in (("prediction", prediction), ("target", target)):
        if column is not None:
            if str(column) not in roles:
                raise MonitoringError(f"{role} column '{column}' is not in the reference data")
            roles[str(column)] = role
    opt = _Options(
        tests=_check_tests(_per_column(tests, names, "tests")),
        thresholds=_check_thresholds(_per_column(thresholds, names, "thresholds")),
        min_effect=_check_thresholds(_per_column(min_effect, names, "min_effect")),
        min_rows=max(1, int(min_rows)),
        roles=roles,
        plots=plots,
    )
    if progress is None:
        rows = (profile.rows if profile is not None else len(reference_df)) + len(current)
        progress = rows * len(names) >= PROGRESS_CELLS

    # Memory beyond the data: each column worker sorts into its own two buffers (reference, current), reused column
    # after column, so a run holds two column-sized arrays per column worker whatever the number of columns.
    # With a stored profile only the current side is read: one column per thread. With a DataFrame reference both
    # sides are read, at the same time: a column's reference side in a helper thread (into the worker's reference
    # buffer) while the worker reads its current side, so half as many column workers keep every core busy and
    # hold half the buffers that a column per thread would.
    buffers = ThreadBuffers(2)
    if profile is not None:
        found = map_columns(
            lambda name: _compare(name, profile.columns[name], current, opt, buffers.get()[1]),
            names,
            parallel=parallel,
            progress=bool(progress),
            description="drift",
        )
    else:
        by_name = {str(c): c for c in reference_df.columns}
        pairs = max(1, workers(2 * len(names)) // 2) if parallel else 1  # column workers, each with a helper
        helpers = (
            ThreadPoolExecutor(max_workers=pairs, thread_name_prefix="drift-reference")
            if parallel and workers(2 * len(names)) > 1
            else None
        )

        def one(name: str) -> tuple[dict, dict | None]:
            ref_buffer, cur_buffer = buffers.get()
            series = reference_df[by_name[name]]
            if helpers is None:
                return _compare(name, reference_column(name, series, buffer=ref_buffer), current, opt, cur_buffer)
            reading = helpers.submit(reference_column, name, series, None, ref_buffer)
            try:
                read = _read_current(column_kind(series)[0], current, name, cur_buffer)
            finally:
                ref = reading.result()  # the helper is done with ref_buffer before this worker moves on
            return _compare(name, ref, current, opt, cur_buffer, read)

        try:
            found = map_columns(
                one, names, parallel=parallel, progress=bool(progress), description="drift", max_workers=pairs
            )
        finally:
            if helpers is not None:
                helpers.shutdown()
    table = pd.DataFrame([row for row, _ in found], columns=COLUMNS)
    table["drifted"] = table["drifted"].astype(bool)
    plots_by = {name: plot for name, (_, plot) in zip(names, found, strict=True) if plot is not None}
    tested = table[(table["role"] == "feature") & (table["status"] == OK)]
    share = float(tested["drifted"].mean()) if len(tested) else 0.0
    n_ref = profile.rows if profile is not None else len(reference_df)
    return DriftResult(
        table=table,
        dataset_drift=bool(len(tested)) and share >= drift_share,
        drift_share=share,
        share_threshold=drift_share,
        n_reference=n_ref,
        n_current=len(current),
        seconds=time.perf_counter() - started,
        plots=plots_by,
    )


__all__ = ["COLUMNS", "DRIFT_SHARE", "MIN_ROWS", "DriftResult", "build_reference", "detect_drift"]
