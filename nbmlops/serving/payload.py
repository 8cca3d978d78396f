"""Request bodies into a DataFrame of rows: nbmlops' `{"rows": [...]}` and the four JSON formats of MLflow's
scoring server (`dataframe_split`, `dataframe_records`, `instances`, `inputs`) plus its CSV, so clients written
for `mlflow models serve` work unchanged.
"""

from __future__ import annotations

import io
import json
from typing import Any

import pandas as pd

from nbmlops.serving.errors import BadRequest

ID = "id"  # a row-level id: echoed in the response and used as the prediction log's id
MLFLOW_FORMATS = ("dataframe_split", "dataframe_records", "instances", "inputs")


def _json(body: bytes) -> Any:
    try:
        return json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BadRequest(f"the body is not valid JSON: {exc}") from None


def _records(rows: Any, where: str) -> pd.DataFrame:
    if not isinstance(rows, list) or not rows:
        raise BadRequest(f"{where} must be a non-empty list of rows (objects of column: value)")
    bad = next((i for i, r in enumerate(rows) if not isinstance(r, dict)), None)
    if bad is not None:
        raise BadRequest(f"{where}[{bad}] is {type(rows[bad]).__name__}, not an object of column: value")
    return pd.DataFrame.from_records(rows)


def split_ids(frame: pd.DataFrame) -> tuple[pd.DataFrame, list[Any] | None]:
    """(the rows without their "id" column, the ids or None)."""
    if ID not in frame.columns:
        return frame, None
    return frame.drop(columns=[ID]), frame[ID].tolist()


def parse_predict(body: bytes) -> pd.DataFrame:
    """`{"rows": [{"col": value, ...}, ...]}` as a DataFrame (an "id" column where rows carry one)."""
    data = _json(body)
    if not isinstance(data, dict) or "rows" not in data:
        raise BadRequest('the body must be {"rows": [{"column": value, ...}, ...]}')
    return _records(data["rows"], '"rows"')


def parse_invocations(body: bytes, content_type: str) -> pd.DataFrame:
    """A body in one of MLflow's scoring formats as a DataFrame."""
    kind = content_type.split(";")[0].strip().lower()
    if kind == "text/csv":
        try:
            return pd.read_csv(io.BytesIO(body))
        except (ValueError, UnicodeDecodeError) as exc:
            raise BadRequest(f"the body is not valid CSV: {exc}") from None
    data = _json(body)
    keys = [k for k in MLFLOW_FORMATS if isinstance(data, dict) and k in data]
    if len(keys) != 1:
        raise BadRequest("the body must hold exactly one of the keys " + ", ".join(MLFLOW_FORMATS)
                         + (f" (it holds {', '.join(keys)})" if keys else ""))
    key, value = keys[0], data[keys[0]]
    if key == "dataframe_records":
        return _records(value, key)
    if key == "dataframe_split":
        if not isinstance(value, dict) or "data" not in value:
            raise BadRequest('dataframe_split must be {"columns": [...], "data": [[...], ...]}')
        try:
            return pd.DataFrame(value["data"], columns=value.get("columns"), index=value.get("index"))
        except (ValueError, TypeError) as exc:
            raise BadRequest(f"dataframe_split: {exc}") from None
    return _tensor(value, key)


def _tensor(value: Any, key: str) -> pd.DataFrame:
    """`instances`/`inputs`: a list of records, a list of value lists, or an object of columns."""
    if isinstance(value, dict):
        try:
            return pd.DataFrame({k: v if isinstance(v, list) else [v] for k, v in value.items()})
        except ValueError as exc:
            raise BadRequest(f"{key}: the columns differ in length: {exc}") from None
    if isinstance(value, list) and value and all(isinstance(r, dict) for r in value):
        return pd.DataFrame.from_records(value)
    if isinstance(value, list) and value:
        rows = [r if isinstance(r, list) else [r] for r in value]
        return pd.DataFrame(rows, columns=[str(i) for i in range(len(rows[0]))])
    raise BadRequest(f"{key} must be a non-empty list of rows or an object of columns")
