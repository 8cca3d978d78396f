"""Batch scoring through the serving graph: `nbmlops predict churn@production --input data.parquet --output
scores.parquet [--features VECTOR]` and `nbmlops.predict(...)`.

The input (a Parquet or CSV file, or a folder of them) is read file by file and answered in chunks by
Graph.answer, the server's code path, with a progress bar. The output holds the input's columns plus
`prediction`, `id` and `model_version`. The job is a recorded run (kind 'predict') with the model version, the
input's sha256 and the row count, and the predictions go to the monitoring log as the server's do.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd

from nbmlops.errors import NbmlopsError
from nbmlops.serving.graph import Graph
from nbmlops.serving.prediction_log import PredictionLog
from nbmlops.serving.target import load_target

SUFFIXES = (".parquet", ".pq", ".csv")


def input_files(path: str | Path) -> list[Path]:
    """The file, or the Parquet/CSV files of a folder (recursively, in name order)."""
    root = Path(path)
    if root.is_file():
        files = [root]
    elif root.is_dir():
        files = sorted(p for p in root.rglob("*") if p.is_file() and p.suffix.lower() in SUFFIXES)
    else:
        raise NbmlopsError(f"predict: input {root} does not exist")
    if not files:
        raise NbmlopsError(f"predict: no .parquet or .csv files under {root}")
    bad = [f for f in files if f.suffix.lower() not in SUFFIXES]
    if bad:
        raise NbmlopsError(f"predict: {bad[0]} is not a .parquet or .csv file")
    return files


def input_sha256(files: list[Path], root: str | Path) -> str:
    """One hash over the files' relative names and contents: the same data has the same hash wherever it lies."""
    total = hashlib.sha256()
    base = Path(root) if Path(root).is_dir() else Path(root).parent
    for file in files:
        total.update(str(file.relative_to(base)).encode() + b"\0")
        with file.open("rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                total.update(block)
    return total.hexdigest()


def _read(file: Path) -> pd.DataFrame:
    try:
        return pd.read_csv(file) if file.suffix.lower() == ".csv" else pd.read_parquet(file)
    except (OSError, ValueError) as exc:
        raise NbmlopsError(f"predict: can't read {file}: {exc}") from exc


def _rows(file: Path) -> int:
    if file.suffix.lower() == ".csv":
        with file.open("rb") as handle:
            return max(sum(1 for _ in handle) - 1, 0)
    import pyarrow.parquet as pq

    return pq.ParquetFile(file).metadata.num_rows


def _chunks(files: list[Path], chunk_rows: int) -> Iterator[pd.DataFrame]:
    for file in files:
        frame = _read(file)
        for start in range(0, len(frame), chunk_rows):
            yield frame.iloc[start : start + chunk_rows]


def _vector(name: str) -> Any:
    from nbmlops.features import FeatureVector, default_store

    return FeatureVector(**default_store().catalog.vector(name))


def predict(
    target: str | Graph,
    input: str | Path,
    output: str | Path | None = None,
    *,  # noqa: A002
    features: str | None = None,
    impute: Any = None,
    chunk_rows: int = 10_000,
    log: bool = True,
    progress: bool | None = None,
    home: str | Path | None = None,
) -> pd.DataFrame | Path:
    """Score `input` through the graph (or model URI) `target`; with `features`, rows are enriched from the
    online store by that saved FeatureVector first. Returns the output path, or the scores as a DataFrame when
    no output is given."""
    from nbmlops.tracking import start_run

    files = input_files(input)
    graph = load_target(target, home=home)
    if features:
        if graph.before:
            raise NbmlopsError("predict: --features adds an enrich step to a model URI; this graph has its own")
        graph = Graph(home=home).enrich(_vector(features), impute=impute).model(graph.predictor)
    graph.load(home)
    out_path = Path(output) if output is not None else None
    if out_path is not None and out_path.suffix.lower() not in SUFFIXES:
        raise NbmlopsError(f"predict: output {out_path} must end in .parquet or .csv")
    digest = input_sha256(files, input)
    sink = PredictionLog(home) if log else None
    parts: list[pd.DataFrame] = []
    total = sum(_rows(f) for f in files)
    with (
        start_run(
            f"predict {target if isinstance(target, str) else graph.name}",
            kind="predict",
            params={
                "model": str(target) if isinstance(target, str) else graph.name,
                "input": str(input),
                "input_sha256": digest,
                "features": features or "",
                "chunk_rows": chunk_rows,
            },
            home=home,
        ) as run,
        _RowProgress(total, progress) as advance,
    ):
        versions: set[str] = set()
        for i, chunk in enumerate(_chunks(files, chunk_rows)):
            result = graph.answer(chunk.reset_index(drop=True), request_id=f"{graph.name}-{digest[:12]}{i:06d}")
            versions.add(result.model_version)
            scored = chunk.reset_index(drop=True).copy()
            scored["prediction"] = pd.Series(result.predictions, dtype=object if _nested(result.predictions) else None)
            scored["id"] = result.ids
            scored["model_version"] = result.model_version
            parts.append(scored)
            if sink is not None:
                sink.submit(result)
            advance(len(chunk))
        scores = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()
        run.log_param("model_version", ",".join(sorted(versions)))
        run.log_metric("rows", float(len(scores)))
        if out_path is not None:
            out_path.parent.mkdir(parents=True, exist_ok=True)
            if out_path.suffix.lower() == ".csv":
                scores.to_csv(out_path, index=False)
            else:
                scores.to_parquet(out_path, index=False)
            run.log_param("output", str(out_path))
    if sink is not None:
        sink.drain(120)
        sink.close()
    return out_path if out_path is not None else scores


def _nested(values: list[Any]) -> bool:
    return bool(values) and isinstance(values[0], list | dict)


class _RowProgress:
    """A rich progress bar over rows (in a terminal or Jupyter), or nothing."""

    def __init__(self, total: int, show: bool | None) -> None:
        import sys

        self.show = show if show is not None else sys.stderr.isatty()
        self.total = total

    def __enter__(self) -> Any:
        if not self.show:
            return lambda n: None
        from rich.progress import Progress

        self.bar = Progress(transient=False)
        self.bar.start()
        task = self.bar.add_task("scoring", total=self.total)
        return lambda n: self.bar.advance(task, n)

    def __exit__(self, *exc: object) -> None:
        if self.show:
            self.bar.stop()
