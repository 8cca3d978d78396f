"""Rows: a request's rows as parsed from JSON (records, or columns), turned into a DataFrame only when a step
needs one. Building a small DataFrame costs far more than answering a small model's request (hundreds of µs
with pandas 3 on this machine), so a numeric model reads its input columns straight from the parsed values
(model_step.ArrayPath) and enrichment appends columns without a frame; transforms and the column-by-column
signature check get the DataFrame.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd


class Rows:
    """Exactly one of: `records` (a list of {column: value}), `columns` ({column: [values]}), `frame`."""

    def __init__(
        self,
        *,
        records: list[dict[str, Any]] | None = None,
        columns: Mapping[str, list[Any]] | None = None,
        frame: pd.DataFrame | None = None,
    ) -> None:
        self._records, self._columns, self._frame = records, dict(columns) if columns is not None else None, frame

    @classmethod
    def of(cls, value: Rows | pd.DataFrame) -> Rows:
        return value if isinstance(value, Rows) else cls(frame=value)

    def __len__(self) -> int:
        if self._frame is not None:
            return len(self._frame)
        if self._columns is not None:
            return len(next(iter(self._columns.values()), []))
        return len(self._records or [])

    @property
    def names(self) -> list[str]:
        """Column names in order (for records: the first row's keys, then any others as they appear)."""
        if self._frame is not None:
            return [str(c) for c in self._frame.columns]
        if self._columns is not None:
            return list(self._columns)
        seen: dict[str, None] = {}
        for record in self._records or []:
            for key in record:
                seen.setdefault(key, None)
        return list(seen)

    def column(self, name: str) -> list[Any]:
        if self._frame is not None:
            return self._frame[name].tolist()
        if self._columns is not None:
            return self._columns[name]
        return [r.get(name) for r in self._records or []]

    def frame(self) -> pd.DataFrame:
        if self._frame is None:
            self._frame = (
                pd.DataFrame(self._columns)
                if self._columns is not None
                else pd.DataFrame.from_records(self._records or [])
            )
        return self._frame

    def without(self, name: str) -> tuple[Rows, list[Any] | None]:
        """(the rows without column `name`, its values or None where there is no such column)."""
        if name not in self.names:
            return self, None
        values = self.column(name)
        rest = {n: self.column(n) for n in self.names if n != name}
        return Rows(columns=rest), values

    def with_columns(self, new: Mapping[str, list[Any]]) -> Rows:
        """These rows plus the columns `new` (which must not exist yet)."""
        if self._frame is not None:
            return Rows(frame=self._frame.assign(**new))
        return Rows(columns={**{n: self.column(n) for n in self.names}, **new})

    def renamed(self, names: list[str]) -> Rows:
        """The same columns under new names, position by position."""
        return Rows(columns={new: self.column(old) for old, new in zip(self.names, names, strict=True)})
