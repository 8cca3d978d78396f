"""Batch scoring through the serving graph: `nbmlops predict churn@production --input data.parquet --output
scores.parquet [--features VECTOR]` and `nbmlops.predict(...)`.

The input (a Parquet or CSV file, or a folder of them) is read file by file and answered in chunks by
Graph.answer, the server's code path, with a progress bar. The output holds the input's columns plus
`prediction`, `id` and `model_version`. The job is a recorded run (kind 'predict') with the model version, the
input's sha256, the engine and the row count, and the predictions go to the monitoring log as the server's do.

Engines: `local` (this process) or `ray` (Ray Data: the same units scored by a pool of actors that each hold the
loaded graph; batch_ray.py). The default picks Ray for inputs of RAY_MIN_ROWS rows or more when a Ray cluster is
configured (NBMLOPS_RAY_ADDRESS / nbmlops.toml). Both read the same units (a CSV file, or a range of a Parquet
file's rows starting at a chunk boundary) and number chunks the same way, so both give the same output, ids
included.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import pandas as pd

from nbmlops.errors import NbmlopsError
from nbmlops.serving.graph import Graph
from nbmlops.serving.prediction_log import PredictionLog
from nbmlops.serving.target import load_target
from nbmlops.serving.units import plan, rows_in, score_unit

SUFFIXES = (".parquet", ".pq", ".csv")
ENGINES = ("local", "ray")
RAY_MIN_ROWS = 1_000_000  # input rows from which a configured Ray cluster scores (engine "auto")


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


def choose_engine(engine: str | None, rows: int, ray_address: str | None) -> str:
    """'local' or 'ray' for `engine` (None/'auto': Ray for RAY_MIN_ROWS rows or more when a cluster is set)."""
    if engine in (None, "auto"):
        return "ray" if ray_address and rows >= RAY_MIN_ROWS else "local"
    if engine not in ENGINES:
        raise NbmlopsError(f"predict: unknown engine '{engine}' (local, ray or auto)")
    return engine


def _vector(name: str) -> Any:
    from nbmlops.features import FeatureVector, default_store

    return FeatureVector(**default_store().catalog.vector(name))


def predict(
    target: str | Graph,
    input: str | Path,  # noqa: A002 - the CLI's name
    output: str | Path | None = None,
    *,
    features: str | None = None,
    impute: Any = None,
    chunk_rows: int = 10_000,
    log: bool = True,
    progress: bool | None = None,
    engine: str | None = None,
    ray_address: str | None = None,
    home: str | Path | None = None,
) -> pd.DataFrame | Path:
    """Score `input` through the graph (or model URI) `target`; with `features`, rows are enriched from the
    online store by that saved FeatureVector first. engine: "local", "ray" (Ray Data on `ray_address` or the
    configured cluster, else a local Ray) or None/"auto" (Ray for large inputs where a cluster is configured).
    Returns the output path, or the scores as a DataFrame when no output is given."""
    from nbmlops.store.config import load_settings
    from nbmlops.tracking import start_run

    if chunk_rows < 1:
        raise NbmlopsError(f"predict: chunk_rows must be at least 1, not {chunk_rows}")
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
    total = sum(rows_in(f) for f in files)
    settings = load_settings(home)
    address = ray_address or settings.ray_address
    engine = choose_engine(engine, total, address)
    parts: list[pd.DataFrame] = []
    versions: set[str] = set()
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
                "engine": engine,
            },
            home=home,
        ) as run,
        _RowProgress(total, progress) as advance,
    ):
        if engine == "ray":
            from nbmlops.serving.batch_ray import score_on_ray

            done = score_on_ray(graph, files, digest, chunk_rows, home=settings.home, log=log, ray_address=address)
            by_unit = []
            for unit, scored in done:
                versions.update(scored["model_version"].unique())
                by_unit.append((unit, scored))
                advance(len(scored))
            parts = [scored for _, scored in sorted(by_unit, key=lambda pair: pair[0])]  # the input's order
        else:
            sink = PredictionLog(home) if log else None
            try:
                for unit in plan(files, chunk_rows):
                    for scored, result in score_unit(graph, unit, digest, chunk_rows):
                        versions.add(result.model_version)
                        parts.append(scored)
                        if sink is not None:
                            sink.submit(result)
                        advance(len(scored))
            finally:
                if sink is not None:
                    sink.drain(120)
                    sink.close()
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
    return out_path if out_path is not None else scores


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
