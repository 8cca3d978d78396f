"""Run filters and orderings: `metrics.acc > 0.8`, `params.lr = 0.1`, `tags.team = ml`, `status = failed`,
`-metrics.acc` / `metrics.acc desc`. Strings come straight from the CLI; tuples (field, op, value) from code."""

from __future__ import annotations

import json
import operator
import re
from collections.abc import Callable, Iterable
from typing import Any

import sqlalchemy as sa

from nbmlops.store.errors import QueryError
from nbmlops.store.models import metrics, params, runs, tags

RUN_FIELDS = ("id", "name", "kind", "pipeline", "status", "started_at", "ended_at", "duration", "heartbeat_at",
              "notebook_path", "notebook_sha256", "git_commit", "git_dirty", "backend", "host", "pid",
              "parent_run_id", "resumed_from", "python_version", "nbmlops_version")
OPERATORS: dict[str, Callable[[Any, Any], Any]] = {
    "=": operator.eq, "==": operator.eq, "!=": operator.ne,
    "<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge,
}
_FILTER = re.compile(r"^\s*([\w.\-/]+)\s*(==|!=|<=|>=|=|<|>)\s*(.*?)\s*$")

Filter = str | tuple[str, str, Any]


def _literal(text: str) -> Any:
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "'\"":
        return text[1:-1]
    try:
        return json.loads(text)
    except ValueError:
        return text


def parse_filter(item: Filter) -> tuple[str, str, Any]:
    if isinstance(item, tuple):
        if len(item) != 3 or item[1] not in OPERATORS:
            raise QueryError(f"filter {item!r}: expected (field, op, value) with op one of {' '.join(OPERATORS)}")
        return item
    match = _FILTER.match(item)
    if not match:
        raise QueryError(f"filter '{item}': expected FIELD OP VALUE, e.g. 'metrics.acc > 0.8' "
                         f"(op: {' '.join(OPERATORS)})")
    value = match.group(3)
    if not value or value[0] in "<>=!":
        raise QueryError(f"filter '{item}': no value after '{match.group(2)}' (write e.g. 'metrics.acc > 0.8')")
    return match.group(1), match.group(2), _literal(value)


def latest_metric(key: str) -> sa.ScalarSelect[Any]:
    """The last value logged for `key` in the outer run (highest row id = logged last)."""
    return (sa.select(metrics.c.value).where(metrics.c.run_id == runs.c.id, metrics.c.key == key)
            .order_by(metrics.c.id.desc()).limit(1).scalar_subquery())


def field_expression(name: str, value: Any = None) -> sa.ColumnElement[Any]:
    """The SQL expression of a field; for params the column to compare depends on the value's type."""
    prefix, _, key = name.partition(".")
    if prefix == "metrics" and key:
        return latest_metric(key)
    if prefix == "params" and key:
        numeric = isinstance(value, int | float) and not isinstance(value, bool) or value is None
        column = params.c.value_num if numeric else params.c.value
        return (sa.select(column).where(params.c.run_id == runs.c.id, params.c.key == key).scalar_subquery())
    if prefix == "tags" and key:
        return sa.select(tags.c.value).where(tags.c.run_id == runs.c.id, tags.c.key == key).scalar_subquery()
    column = key if prefix == "attributes" and key else name
    if column in RUN_FIELDS:
        return runs.c[column]
    raise QueryError(f"unknown run field '{name}' (use params.NAME, metrics.NAME, tags.NAME or one of "
                     f"{', '.join(RUN_FIELDS)})")


def filter_clause(item: Filter) -> sa.ColumnElement[bool]:
    name, op, value = parse_filter(item)
    expression = field_expression(name, value)
    if name.startswith("params."):
        if isinstance(value, bool):
            value = float(value)
        elif not isinstance(value, int | float):
            value = json.dumps(value)  # params are stored as JSON text
    elif name.startswith("metrics.") and not (isinstance(value, int | float) and not isinstance(value, bool)):
        raise QueryError(f"filter '{name} {op} {value}': metrics are numbers, compare with a number")
    elif name.startswith("tags."):
        value = str(value)
    return OPERATORS[op](expression, value)


def order_clauses(items: Iterable[str]) -> list[sa.ColumnElement[Any]]:
    out = []
    for item in items:
        text = item.strip()
        descending = text.startswith("-")
        text = text.lstrip("-+").strip()
        words = text.split()
        if len(words) == 2 and words[1].lower() in ("asc", "desc"):
            descending = words[1].lower() == "desc"
        elif len(words) != 1:
            raise QueryError(f"order '{item}': expected FIELD, -FIELD, or 'FIELD asc|desc'")
        expression = field_expression(words[0], 0.0)
        out.append((expression.desc() if descending else expression.asc()).nulls_last())
    return out
