"""The units batch scoring reads and the one function that scores them (batch.py runs them in this process,
batch_ray.py on Ray Data actors): a CSV file, or a range of a Parquet file's rows from a chunk boundary; chunks
are numbered within their file, so the request and row ids don't depend on how the input was split."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from nbmlops.errors import NbmlopsError
from nbmlops.serving.graph import Graph


def read(file: Path, start: int = 0, stop: int | None = None) -> pd.DataFrame:
    """Rows [start, stop) of a Parquet file (only the row groups that hold them), or a whole CSV file."""
    try:
        if file.suffix.lower() == ".csv":
            return pd.read_csv(file)
        import pyarrow.parquet as pq

        parquet = pq.ParquetFile(file)
        meta = parquet.metadata
        stop = meta.num_rows if stop is None else stop
        groups, first, at = [], None, 0
        for g in range(meta.num_row_groups):
            n = meta.row_group(g).num_rows
            if at < stop and at + n > start:
                groups.append(g)
                first = at if first is None else first
            at += n
        if not groups:
            return parquet.schema_arrow.empty_table().to_pandas()
        table = parquet.read_row_groups(groups).slice(start - (first or 0), stop - start)
        return table.to_pandas().reset_index(drop=True)
    except (OSError, ValueError) as exc:
        raise NbmlopsError(f"predict: can't read {file}: {exc}") from exc


def rows_in(file: Path) -> int:
    if file.suffix.lower() == ".csv":
        with file.open("rb") as handle:
            return max(sum(1 for _ in handle) - 1, 0)
    import pyarrow.parquet as pq

    return pq.ParquetFile(file).metadata.num_rows


@dataclass(frozen=True)
class Unit:
    """What one reader scores: rows [start, stop) of file number `file_index` (stop -1: to the end), whose first
    chunk is that file's chunk number start // chunk_rows."""

    file: str
    file_index: int
    start: int = 0
    stop: int = -1


def plan(files: list[Path], chunk_rows: int, parts: int = 1) -> list[Unit]:
    """The units: one per CSV file; a Parquet file cut at chunk boundaries into up to `parts` ranges."""
    units = []
    for index, file in enumerate(files):
        if file.suffix.lower() == ".csv" or parts <= 1:
            units.append(Unit(str(file), index))
            continue
        rows = rows_in(file)
        chunks = -(-rows // chunk_rows)
        per_unit = max(1, -(-chunks // parts))
        for first in range(0, max(chunks, 1), per_unit):
            units.append(Unit(str(file), index, first * chunk_rows, min(rows, (first + per_unit) * chunk_rows)))
    return units


def request_id(graph: Graph, digest: str, file_index: int, chunk: int) -> str:
    """One id per chunk, from the input's hash and the chunk's place in it (NAME-HEX, as log_label expects)."""
    return f"{graph.name}-{digest[:12]}{file_index:05d}{chunk:06d}"


def score_unit(graph: Graph, unit: Unit, digest: str, chunk_rows: int) -> Iterator[tuple[pd.DataFrame, Any]]:
    """(the scored chunk, the graph's Result) for each chunk of the unit, in order: the one scoring code path."""
    frame = read(Path(unit.file), unit.start, None if unit.stop < 0 else unit.stop)
    first = unit.start // chunk_rows
    for k, begin in enumerate(range(0, len(frame), chunk_rows)):
        chunk = frame.iloc[begin : begin + chunk_rows].reset_index(drop=True)
        result = graph.answer(chunk, request_id=request_id(graph, digest, unit.file_index, first + k))
        scored = chunk.copy()
        scored["prediction"] = pd.Series(result.predictions, dtype=object if _nested(result.predictions) else None)
        scored["id"] = result.ids
        scored["model_version"] = result.model_version
        yield scored, result


def _nested(values: list[Any]) -> bool:
    return bool(values) and isinstance(values[0], list | dict)
