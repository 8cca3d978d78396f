"""DataFrames as bytes: a content hash (dtypes, index and values; what training-set cache keys are built from)
and Parquet bytes (how a cached training set is stored in the artifact store)."""

from __future__ import annotations

import hashlib
import io
import json

import pandas as pd


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
