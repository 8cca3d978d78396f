"""DataFrames as bytes: a content hash (dtypes, index and values; what training-set cache keys are built from)
and Parquet bytes (how a cached training set is stored in the artifact store); and the check every frame a user
hands the feature store passes first (column names unique: pandas would fail later, far from the cause)."""

from __future__ import annotations

import hashlib
import io
import json

import pandas as pd

from nbmlops.features.errors import FeatureError


def check_columns(frame: pd.DataFrame, where: str) -> None:
    """A FeatureError naming the column(s) `frame` has twice (`where`: e.g. "feature set 'tx': ingest")."""
    duplicated = frame.columns[frame.columns.duplicated()]
    if len(duplicated):
        names = ", ".join(sorted({repr(c) for c in duplicated}))
        raise FeatureError(f"{where}: the frame has column {names} more than once; rename or drop the copies")


def hash_frame(frame: pd.DataFrame) -> str:
    """sha256 of the frame's column names and dtypes, then its rows (index included), as pandas hashes them."""
    digest = hashlib.sha256()
    digest.update(json.dumps([[str(c), str(t)] for c, t in frame.dtypes.items()]).encode())
    digest.update(pd.util.hash_pandas_object(frame, index=True).to_numpy().tobytes())
    return digest.hexdigest()


def parquet_bytes(frame: pd.DataFrame) -> bytes:
    buffer = io.BytesIO()
    frame.to_parquet(buffer)
    return buffer.getvalue()
