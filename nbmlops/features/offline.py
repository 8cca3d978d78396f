"""The offline store: Parquet files partitioned by event date, one manifest per ingest.

    features/data/<set>/v<N>/date=YYYY-MM-DD/<ingest>-<k>.parquet
    features/data/<set>/v<N>/_ingests/<ingest>.json   rows, files with sha256, time range, source

An ingest writes its files first and its manifest last; readers only read files a manifest lists, so a failed
or rejected ingest leaves nothing visible (all or nothing), and a version's rows never mix with another's.
Rows read back in arrival order (ingest id, then input order), which decides ties between equal timestamps.
"""

from __future__ import annotations

import hashlib
import io
import json
import secrets
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from nbmlops.features.definitions import SetSpec
from nbmlops.store.filesystems import Root

DAY_NS = 86_400 * 1_000_000_000
ARROW = {"number": pa.float64(), "bool": pa.bool_(), "str": pa.string(), "datetime": pa.timestamp("ns")}


@dataclass
class IngestRecord:
    id: str
    set: str
    version: int
    rows: int
    sha256: str
    min_ts: int | None
    max_ts: int | None
    created_at: float
    source: str
    files: list[dict[str, Any]] = field(default_factory=list)


def new_ingest_id() -> str:
    return f"{time.time_ns():020d}-{secrets.token_hex(3)}"  # sortable: arrival order across processes


def arrow_table(spec: SetSpec, frame: pd.DataFrame, kinds: dict[str, str]) -> pa.Table:
    """One schema for every file of a version: numbers as float64, so ingests never disagree on types."""
    arrays: dict[str, pa.Array] = {}
    for column in spec.entities:
        values = frame[column]
        kind = pa.int64() if pd.api.types.is_integer_dtype(values.dtype) else pa.string()
        arrays[column] = pa.array(values.to_numpy() if kind == pa.int64() else values.astype(object), type=kind)
    arrays[spec.timestamp] = pa.array(frame[spec.timestamp].to_numpy().view("int64"), type=pa.int64()).view(
        pa.timestamp("ns")
    )
    for column in spec.stored:
        values = frame[column]
        kind = kinds.get(column) or spec.dtypes.get(column) or "null"
        if kind == "number":
            arrays[column] = pa.array(
                pd.to_numeric(values).to_numpy(dtype=np.float64, na_value=np.nan), type=pa.float64(), from_pandas=True
            )
        elif kind == "null":
            arrays[column] = pa.nulls(len(values), ARROW.get(spec.dtypes.get(column, ""), pa.null()))
        else:
            arrays[column] = pa.array(
                values.astype(object).where(values.notna(), None), type=ARROW[kind], from_pandas=True
            )
    return pa.table(arrays)


class OfflineStore:
    def __init__(self, files: Root) -> None:
        self.files = files

    def _dir(self, name: str, version: int) -> str:
        return f"features/data/{name}/v{version}"

    def write(self, spec: SetSpec, table: pa.Table, source: str) -> IngestRecord:
        """Write the files, then the manifest that makes them visible; returns the committed record."""
        ingest_id = new_ingest_id()
        base = self._dir(spec.name, spec.version)
        ts = table.column(spec.timestamp).cast(pa.int64()).to_numpy()
        days = np.floor_divide(ts, DAY_NS)
        order = np.argsort(days, kind="stable")  # stable: rows of one day keep their input order
        sorted_days = days[order]
        starts = np.flatnonzero(np.r_[True, sorted_days[1:] != sorted_days[:-1]]) if len(days) else np.array([], int)
        files, digest = [], hashlib.sha256()
        ordered = table.take(pa.array(order)) if len(order) else table
        for k, start in enumerate(starts):
            end = starts[k + 1] if k + 1 < len(starts) else len(order)
            date = np.datetime64(int(sorted_days[start]), "D").astype(str)
            rel = f"{base}/date={date}/{ingest_id}-{k}.parquet"
            buffer = io.BytesIO()
            pq.write_table(ordered.slice(start, end - start), buffer)
            data = buffer.getvalue()
            sha = hashlib.sha256(data).hexdigest()
            self.files.write_bytes(rel, data)
            files.append({"path": rel, "rows": int(end - start), "sha256": sha, "date": date})
            digest.update(sha.encode())
        record = IngestRecord(
            ingest_id,
            spec.name,
            spec.version,
            table.num_rows,
            digest.hexdigest(),
            int(ts.min()) if len(ts) else None,
            int(ts.max()) if len(ts) else None,
            time.time(),
            source,
            files,
        )
        self.files.write_bytes(f"{base}/_ingests/{ingest_id}.json", json.dumps(asdict(record)).encode())
        return record

    def rollback(self, record: IngestRecord) -> None:
        """Undo a committed ingest (its online half failed): the manifest first, so readers stop at once."""
        self.files.delete(f"{self._dir(record.set, record.version)}/_ingests/{record.id}.json")
        for item in record.files:
            self.files.delete(item["path"])

    def ingests(self, name: str, version: int) -> list[IngestRecord]:
        base = f"{self._dir(name, version)}/_ingests"
        out = []
        for entry in self.files.listdir(base):
            if entry.endswith(".json"):
                data = self.files.read_bytes(f"{base}/{entry}")
                if data:
                    out.append(IngestRecord(**json.loads(data)))
        return sorted(out, key=lambda r: r.id)

    def read(
        self,
        spec: SetSpec,
        *,
        columns: Sequence[str] | None = None,
        min_ts: int | None = None,
        max_ts: int | None = None,
        ingests: list[IngestRecord] | None = None,
    ) -> pa.Table:
        """Rows of the version in arrival order; whole date partitions outside [min_ts, max_ts] are skipped."""
        import pyarrow.dataset as ds

        lo = None if min_ts is None else str(np.datetime64(min_ts // DAY_NS, "D"))
        hi = None if max_ts is None else str(np.datetime64(max_ts // DAY_NS, "D"))
        paths = [
            self.files.path(f["path"])
            for r in (ingests if ingests is not None else self.ingests(spec.name, spec.version))
            for f in r.files
            if (lo is None or f["date"] >= lo) and (hi is None or f["date"] <= hi)
        ]
        schema = self.schema(spec)
        wanted = list(columns) if columns is not None else schema.names
        if not paths:
            return schema.empty_table().select(wanted)
        return ds.dataset(paths, schema=schema, format="parquet", filesystem=self.files.fs).to_table(columns=wanted)

    def schema(self, spec: SetSpec) -> pa.Schema:
        fields = [pa.field(c, pa.int64() if spec.dtypes.get(c) == "int" else pa.string()) for c in spec.entities]
        fields.append(pa.field(spec.timestamp, pa.timestamp("ns")))
        fields += [pa.field(c, ARROW.get(spec.dtypes.get(c, ""), pa.float64())) for c in spec.stored]
        return pa.schema(fields)
