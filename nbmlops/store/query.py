"""Run filters and orderings: `metrics.acc > 0.8`, `params.lr = 0.1`, `tags.team = ml`, `status = failed`,
`-metrics.acc` / `metrics.acc desc`. Strings come straight from the CLI; tuples (field, op, value) from code.

The grammar, and it refuses what it does not parse rather than taking the rest as a value:
    FILTER := TERM ( "and" TERM )*          (split_filter; at most MAX_TERMS terms)
    TERM   := FIELD OP VALUE                (parse_filter)
    VALUE  := a JSON number, true/false/null, a quoted string ('a b' or "a b"), a JSON list or object, or one
              bare word of letters, digits and _ . : / @ + -
`or`, `;`, parentheses and anything after the value are errors. Numbers are finite and integers 64-bit; LIMIT
is 1 to MAX_LIMIT.

They compile to plain SQL fragments over the `runs` table with `:name` bound parameters (see sql.py): the same
strings run on sqlite3 and through SQLAlchemy's text(), so a search never imports SQLAlchemy on SQLite. Values
and keys are always bound, never formatted in; run column names come from the RUN_FIELDS whitelist.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable, Mapping
from typing import Any

from nbmlops.store.errors import QueryError
from nbmlops.store.sql import RUN_COLUMNS

RUN_FIELDS = (
    "id",
    "name",
    "kind",
    "pipeline",
    "status",
    "started_at",
    "ended_at",
    "duration",
    "heartbeat_at",
    "notebook_path",
    "notebook_sha256",
    "git_commit",
    "git_dirty",
    "backend",
    "host",
    "pid",
    "parent_run_id",
    "resumed_from",
    "python_version",
    "nbmlops_version",
)
_NUMERIC_FIELDS = frozenset({"started_at", "ended_at", "duration", "heartbeat_at", "pid"})
_TEXT_FIELDS = frozenset(RUN_FIELDS) - _NUMERIC_FIELDS - {"git_dirty"}
# the filter operators, and the SQL each becomes
OPERATORS: dict[str, str] = {"=": "=", "==": "=", "!=": "<>", "<": "<", "<=": "<=", ">": ">", ">=": ">="}
_FILTER = re.compile(r"^\s*([\w.\-/]+)\s*(==|!=|<=|>=|=|<|>)\s*(.*?)\s*$")
_AND = re.compile(r"(?:^|\s+)and(?:\s+|$)", re.IGNORECASE)
_BARE = re.compile(r"[\w.:/@+\-]+")
_QUOTED = re.compile(r"'[^']*'|\"(?:[^\"\\]|\\.)*\"")
MAX_TERMS = 50  # filters in one search: a longer one is a generated mistake, and each is a subquery
MAX_LIMIT = 1_000_000  # rows one search returns
MAX_INT = 2**63 - 1  # what a bound integer can be in SQLite and PostgreSQL

Filter = str | tuple[str, str, Any]


def split_filter(text: str | None) -> list[str]:
    """`metrics.auc > 0.8 and params.C = 0.5` -> one term per comparison; each is parsed by parse_filter."""
    if text is None or not text.strip():
        return []
    terms = [part.strip() for part in _AND.split(text.strip())]
    if any(not part for part in terms):
        raise QueryError(f"filter '{_short(text)}': an 'and' needs a comparison on both sides")
    if len(terms) > MAX_TERMS:
        raise QueryError(f"filter of {len(terms)} terms: at most {MAX_TERMS} comparisons in one search")
    return terms


def _short(text: str, width: int = 80) -> str:
    return text if len(text) <= width else text[:width] + "…"


def _literal(text: str, item: str) -> Any:
    """The one value `text` is, or a QueryError: never the rest of a clause taken as a string."""
    if _QUOTED.fullmatch(text):
        return json.loads(text) if text[0] == '"' else text[1:-1]
    if text[0] in "[{":
        try:
            value = json.loads(text)
        except (ValueError, RecursionError):
            raise QueryError(f"filter '{_short(item)}': {_short(text, 40)} is not a JSON list or object") from None
        return _checked_number(value, item)
    if not _BARE.fullmatch(text):
        said = (
            " 'or' is not supported: run one search per alternative, or compare with a range."
            if re.search(r"\s(or)\s", text, re.IGNORECASE)
            else ""
        )
        raise QueryError(
            f"filter '{_short(item)}': {_short(text, 40)!r} is not one value (quote text with "
            f"spaces or symbols: tags.note = 'a b').{said}"
        )
    try:
        value = json.loads(text)
    except ValueError:
        return text
    return _checked_number(value, item)


def _checked_number(value: Any, item: str) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        raise QueryError(f"filter '{_short(item)}': {value} is not a finite number")
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) > MAX_INT:
        raise QueryError(f"filter '{_short(item)}': {_short(str(value), 30)} is out of range (a 64-bit integer)")
    return value


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def parse_filter(item: Filter) -> tuple[str, str, Any]:
    if isinstance(item, tuple):
        if len(item) != 3 or not isinstance(item[0], str) or item[1] not in OPERATORS:
            raise QueryError(f"filter {item!r}: expected (field, op, value) with op one of {' '.join(OPERATORS)}")
        return item[0], item[1], _checked_number(item[2], f"{item[0]} {item[1]} {item[2]!r}")
    if not isinstance(item, str):
        raise QueryError(f"filter {item!r}: expected a string FIELD OP VALUE or a tuple (field, op, value)")
    match = _FILTER.match(item)
    if not match:
        raise QueryError(
            f"filter '{_short(item)}': expected FIELD OP VALUE, e.g. 'metrics.acc > 0.8' (op: {' '.join(OPERATORS)})"
        )
    value = match.group(3)
    if not value or value[0] in "<>=!":
        raise QueryError(f"filter '{_short(item)}': no value after '{match.group(2)}' (write e.g. 'metrics.acc > 0.8')")
    return match.group(1), match.group(2), _literal(value, item)


def latest_metric(key_param: str) -> str:
    """The last value logged for the key bound as `key_param` in the outer run (highest row id = logged last);
    one seek of the metrics index on (run_id, key, id)."""
    return (
        f"(SELECT m.value FROM metrics m WHERE m.run_id = runs.id AND m.key = :{key_param} ORDER BY m.id DESC LIMIT 1)"
    )


def field_expression(name: str, key_param: str, *, numeric: bool = True) -> tuple[str, dict[str, Any]]:
    """The SQL expression of a field over `runs`, and its parameters (the key, bound as `key_param`). For params
    the column compared depends on the value: value_num for numbers (`numeric`), the JSON text otherwise."""
    prefix, _, key = name.partition(".")
    if prefix == "metrics" and key:
        return latest_metric(key_param), {key_param: key}
    if prefix == "params" and key:
        column = "value_num" if numeric else "value"
        return (
            f"(SELECT p.{column} FROM params p WHERE p.run_id = runs.id AND p.key = :{key_param})",
            {key_param: key},
        )
    if prefix == "tags" and key:
        return f"(SELECT t.value FROM tags t WHERE t.run_id = runs.id AND t.key = :{key_param})", {key_param: key}
    column = key if prefix == "attributes" and key else name
    if column in RUN_FIELDS:
        return f"runs.{column}", {}
    raise QueryError(
        f"unknown run field '{name}' (use params.NAME, metrics.NAME, tags.NAME or one of {', '.join(RUN_FIELDS)})"
    )


def filter_clause(item: Filter, n: int = 0) -> tuple[str, dict[str, Any]]:
    """One filter as a SQL condition over `runs` and its bound parameters (named w{n}, w{n}k)."""
    name, op, value = parse_filter(item)
    prefix, _, key = name.partition(".")
    column = key if prefix == "attributes" and key else name
    if name.startswith("params."):
        numeric = isinstance(value, int | float)  # bools too: value_num holds them as 0/1
        value = float(value) if numeric else json.dumps(value)  # other params compare as their JSON text
    elif name.startswith("metrics."):
        if not _is_number(value):
            raise QueryError(f"filter '{name} {op} {value}': metrics are numbers, compare with a number")
        numeric = True
    elif name.startswith("tags."):
        numeric, value = False, str(value)
    else:
        numeric = True
        if column in _NUMERIC_FIELDS and value is not None and not _is_number(value):
            raise QueryError(f"filter '{name} {op} {value}': {column} is a number, compare with a number")
        if column in _TEXT_FIELDS and value is not None and not isinstance(value, str):
            value = json.dumps(value)
    expression, params = field_expression(name, f"w{n}k", numeric=numeric)
    sql_op = OPERATORS[op]
    if value is None and sql_op in ("=", "<>"):  # `ended_at = null`: IS NULL, as SQL means it
        return f"{expression} IS {'NOT ' if sql_op == '<>' else ''}NULL", params
    return f"{expression} {sql_op} :w{n}", {**params, f"w{n}": value}


def order_clauses(items: Iterable[str]) -> tuple[list[str], dict[str, Any]]:
    """ORDER BY terms (runs lacking the field sort last) and their bound parameters (named o{n}k)."""
    terms: list[str] = []
    params: dict[str, Any] = {}
    items = list(items)
    if len(items) > MAX_TERMS:
        raise QueryError(f"{len(items)} orderings: at most {MAX_TERMS} in one search")
    for n, item in enumerate(items):
        if not isinstance(item, str):
            raise QueryError(f"order {item!r}: expected FIELD, -FIELD, or 'FIELD asc|desc'")
        text = item.strip()
        descending = text.startswith("-")
        text = text.lstrip("-+").strip()
        words = text.split()
        if len(words) == 2 and words[1].lower() in ("asc", "desc"):
            descending = words[1].lower() == "desc"
        elif len(words) != 1:
            raise QueryError(f"order '{item}': expected FIELD, -FIELD, or 'FIELD asc|desc'")
        expression, bound = field_expression(words[0], f"o{n}k")
        terms.append(f"{expression} {'DESC' if descending else 'ASC'} NULLS LAST")
        params.update(bound)
    return terms, params


SELECT_RUNS = f"SELECT {', '.join('runs.' + c for c in RUN_COLUMNS)} FROM runs"


def select_runs(
    equals: Mapping[str, Any] | None = None,
    where: Iterable[Filter] = (),
    order_by: Iterable[str] = (),
    limit: int | None = None,
) -> tuple[str, dict[str, Any]]:
    """The SELECT of the runs matching `equals` (run column -> value) and every filter, in `order_by` order and
    then newest first, and its parameters."""
    conditions: list[str] = []
    params: dict[str, Any] = {}
    for column, value in (equals or {}).items():
        if column not in RUN_FIELDS:
            raise QueryError(f"unknown run field '{column}'")
        conditions.append(f"runs.{column} = :eq_{column}")
        params[f"eq_{column}"] = value
    where = list(where)
    if len(where) > MAX_TERMS:
        raise QueryError(f"{len(where)} filters: at most {MAX_TERMS} comparisons in one search")
    for n, item in enumerate(where):
        condition, bound = filter_clause(item, n)
        conditions.append(condition)
        params.update(bound)
    terms, bound = order_clauses(order_by)
    params.update(bound)
    statement = SELECT_RUNS
    if conditions:
        statement += " WHERE " + " AND ".join(conditions)
    statement += " ORDER BY " + ", ".join([*terms, "runs.started_at DESC", "runs.id DESC"])
    if limit is not None:
        if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_LIMIT:
            raise QueryError(f"limit {_short(str(limit), 30)}: a search returns 1 to {MAX_LIMIT:,} runs")
        statement += " LIMIT :limit"
        params["limit"] = limit
    return statement, params
