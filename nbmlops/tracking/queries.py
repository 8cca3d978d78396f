"""Read-side queries over runs for browsers (the RunsBrowser widget): one page of a search, paged, sorted and
filtered in the database, and the metric histories of several runs at once.

    page = search_runs(store, filter="metrics.auc > 0.8 and params.C = 0.5", order_by=["-metrics.auc"],
                       offset=50, limit=50)
    page.runs, page.total, page.param_keys, page.metric_keys
    curves = metric_histories(store, [r.id for r in page.runs])      # run -> key -> [MetricPoint]

The filter and order grammar is `nbmlops runs ls`'s (nbmlops.store.query: each `and` clause one filter); the
search runs as one SELECT with LIMIT/OFFSET and one COUNT, so a page of 10,000 runs reads 50 runs, not all.
A page's runs carry their params, tags and latest metrics (not the `reused` marks: Store.get_run has those).
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from nbmlops.store import QueryError, sql

if TYPE_CHECKING:
    from nbmlops.store import MetricPoint, RunInfo, Store
    from nbmlops.store.query import Filter

MAX_PAGE = 1000  # runs per page: a browser shows tens; more is a mistake, not a page
_CHUNK = 500  # ids per IN (...) list: well under SQLite's bound-parameter limit


@dataclass
class RunPage:
    """One page of a run search: the runs in order, how many match in all, and the param and metric keys of the
    page's runs (for sort pickers; every key of the store would cost a scan of all params and metrics)."""

    runs: list[RunInfo]
    total: int
    offset: int
    limit: int
    param_keys: list[str] = field(default_factory=list)
    metric_keys: list[str] = field(default_factory=list)

    @property
    def pages(self) -> int:
        return max(1, math.ceil(self.total / self.limit)) if self.limit else 1

    @property
    def page(self) -> int:
        """0-based number of this page."""
        return self.offset // self.limit if self.limit else 0


def filter_clauses(text: str | Iterable[Filter] | None) -> list[Filter]:
    """`metrics.auc > 0.8 and params.C = 0.5` -> one filter per comparison (nbmlops.store.query.split_filter,
    as `runs ls --filter` splits it); a list of filters passes through."""
    if text is None:
        return []
    if not isinstance(text, str):
        return list(text)
    if not text.strip():
        return []
    from nbmlops.store.query import split_filter

    return split_filter(text)


def search_runs(
    store: Store,
    *,
    pipeline: str | None = None,
    filter: str | Iterable[Filter] | None = None,  # noqa: A002
    order_by: Sequence[str] = (),
    offset: int = 0,
    limit: int = 50,
    kind: str | None = None,
    status: str | None = None,
    parent_run_id: str | None = None,
) -> RunPage:
    """The runs matching every filter, `order_by` then newest first, rows offset..offset+limit, and their total."""
    from nbmlops.store.query import SELECT_RUNS, select_runs

    if not isinstance(offset, int) or offset < 0:
        raise QueryError(f"offset {offset!r}: a page starts at a run number ≥ 0")
    if not isinstance(limit, int) or not 1 <= limit <= MAX_PAGE:
        raise QueryError(f"limit {limit!r}: a page holds 1 to {MAX_PAGE} runs")
    equals = {
        column: value
        for column, value in (
            ("pipeline", pipeline),
            ("kind", kind),
            ("status", status),
            ("parent_run_id", parent_run_id),
        )
        if value is not None
    }
    where = filter_clauses(filter)
    statement, params = select_runs(equals, where, order_by, limit)
    store.mark_stale_runs()  # a killed run shows as failed, as `runs ls` shows it
    rows = store.db.query(f"{statement} OFFSET :offset", {**params, "offset": offset})
    matching, bound = select_runs(equals, where, (), None)
    matching = matching.rsplit(" ORDER BY ", 1)[0]  # the count needs no order
    matching = matching.replace(SELECT_RUNS, "SELECT runs.id FROM runs", 1)  # nor the columns
    counted = store.db.query(f"SELECT COUNT(*) AS n FROM ({matching}) counted", bound)[0]["n"]
    runs = _with_values(store, rows)
    return RunPage(
        runs,
        int(counted),
        offset,
        limit,
        sorted({k for r in runs for k in r.params}),
        sorted({k for r in runs for k in r.metrics}),
    )


def _with_values(store: Store, rows: list[dict[str, Any]]) -> list[RunInfo]:
    """RunInfo of each row, with its params, tags and latest metrics: three queries per 500 runs."""
    from nbmlops.store.records import RunInfo

    found = [RunInfo.from_row(row) for row in rows]
    by_id = {run.id: run for run in found}
    q = store.db.query
    for ids in _chunks(list(by_id)):
        bound, ids_sql = sql.in_params("r", ids), sql.in_list("r", len(ids))
        for row in q(sql.SELECT_RUN_PARAMS.format(ids=ids_sql), bound):
            by_id[row["run_id"]].params[row["key"]] = json.loads(row["value"]) if row["value"] is not None else None
        for row in q(sql.SELECT_RUN_TAGS.format(ids=ids_sql), bound):
            by_id[row["run_id"]].tags[row["key"]] = row["value"]
        for row in q(sql.SELECT_LATEST_METRICS.format(ids=ids_sql), bound):
            by_id[row["run_id"]].metrics[row["key"]] = math.nan if row["value"] is None else row["value"]
    return found


def metric_histories(
    store: Store, run_ids: Sequence[str], keys: Sequence[str] | None = None
) -> dict[str, dict[str, list[MetricPoint]]]:
    """Every logged point of the runs (only `keys`, if given), in logging order: run -> key -> points."""
    from nbmlops.store.records import MetricPoint

    out: dict[str, dict[str, list[MetricPoint]]] = {run_id: {} for run_id in run_ids}
    for ids in _chunks(list(dict.fromkeys(run_ids))):
        bound, ids_sql = sql.in_params("r", ids), sql.in_list("r", len(ids))
        statement = f"SELECT run_id, key, value, step, timestamp, step_name FROM metrics WHERE run_id IN {ids_sql}"
        if keys:
            statement += f" AND key IN {sql.in_list('k', len(keys))}"
            bound.update(sql.in_params("k", list(keys)))
        for row in store.db.query(statement + " ORDER BY id", bound):
            out[row["run_id"]].setdefault(row["key"], []).append(MetricPoint.from_row(row))
    return out


def _chunks(items: list[str]) -> Iterable[list[str]]:
    for i in range(0, len(items), _CHUNK):
        yield items[i : i + _CHUNK]
