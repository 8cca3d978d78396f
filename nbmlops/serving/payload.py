"""Request bodies into Rows: nbmlops' `{"rows": [...]}` and the four JSON formats of MLflow's scoring server
(`dataframe_split`, `dataframe_records`, `instances`, `inputs`) plus its CSV, so clients written for
`mlflow models serve` work unchanged. Shapes that are not one of these are a BadRequest (400).
"""

from __future__ import annotations

import io
import json
from typing import Any

import pandas as pd

from nbmlops.serving.errors import BadRequest
from nbmlops.serving.rows import Rows

ID = "id"  # a row-level id: echoed in the response and used as the prediction log's id
MLFLOW_FORMATS = ("dataframe_split", "dataframe_records", "instances", "inputs")


def _json(body: bytes) -> Any:
    try:
        return json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BadRequest(f"the body is not valid JSON: {exc}") from None


def _records(rows: Any, where: str) -> Rows:
    if not isinstance(rows, list) or not rows:
        raise BadRequest(f"{where} must be a non-empty list of rows (objects of column: value)")
    bad = next((i for i, r in enumerate(rows) if not isinstance(r, dict)), None)
    if bad is not None:
        raise BadRequest(f"{where}[{bad}] is {type(rows[bad]).__name__}, not an object of column: value")
    return Rows(records=rows)


def _table(names: list[str], data: Any, where: str) -> Rows:
    """Rows from a list of value lists under `names`."""
    if not isinstance(data, list) or not data:
        raise BadRequest(f"{where} must be a non-empty list of rows")
    if not all(isinstance(r, list) and len(r) == len(names) for r in data):
        raise BadRequest(f"{where}: every row must be a list of {len(names)} values (one per column)")
    return Rows(columns={name: list(values) for name, values in zip(names, zip(*data, strict=True), strict=True)})


def split_ids(rows: Rows) -> tuple[Rows, list[Any] | None]:
    """(the rows without their "id" column, the ids or None)."""
    return rows.without(ID)


def parse_predict(body: bytes) -> Rows:
    """`{"rows": [{"col": value, ...}, ...]}` (an "id" column where rows carry one)."""
    data = _json(body)
    if not isinstance(data, dict) or "rows" not in data:
        raise BadRequest('the body must be {"rows": [{"column": value, ...}, ...]}')
    return _records(data["rows"], '"rows"')


def parse_invocations(body: bytes, content_type: str) -> Rows:
    """A body in one of MLflow's scoring formats."""
    kind = content_type.split(";")[0].strip().lower()
    if kind == "text/csv":
        try:
            return Rows(frame=pd.read_csv(io.BytesIO(body)))
        except (ValueError, UnicodeDecodeError) as exc:
            raise BadRequest(f"the body is not valid CSV: {exc}") from None
    data = _json(body)
    keys = [k for k in MLFLOW_FORMATS if isinstance(data, dict) and k in data]
    if len(keys) != 1:
        raise BadRequest(
            "the body must hold exactly one of the keys "
            + ", ".join(MLFLOW_FORMATS)
            + (f" (it holds {', '.join(keys)})" if keys else "")
        )
    key, value = keys[0], data[keys[0]]
    if key == "dataframe_records":
        return _records(value, key)
    if key == "dataframe_split":
        if not isinstance(value, dict) or "data" not in value:
            raise BadRequest('dataframe_split must be {"columns": [...], "data": [[...], ...]}')
        data_rows = value["data"]
        names = value.get("columns")
        if names is None:
            width = (
                len(data_rows[0]) if isinstance(data_rows, list) and data_rows and isinstance(data_rows[0], list) else 0
            )
            names = [str(i) for i in range(width)]
        return _table([str(n) for n in names], data_rows, key)
    return _tensor(value, key)


def _tensor(value: Any, key: str) -> Rows:
    """`instances`/`inputs`: a list of records, a list of value lists, or an object of columns."""
    if isinstance(value, dict):
        columns = {str(k): v if isinstance(v, list) else [v] for k, v in value.items()}
        if not columns or len({len(v) for v in columns.values()}) != 1:
            raise BadRequest(f"{key}: the columns must be lists of one length")
        return Rows(columns=columns)
    if isinstance(value, list) and value and all(isinstance(r, dict) for r in value):
        return Rows(records=value)
    if isinstance(value, list) and value:
        rows = [r if isinstance(r, list) else [r] for r in value]
        return _table([str(i) for i in range(len(rows[0]))], rows, key)
    raise BadRequest(f"{key} must be a non-empty list of rows or an object of columns")
