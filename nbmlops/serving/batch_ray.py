"""Batch scoring on Ray Data (`nbmlops predict --engine ray`): the input's units (units.plan: a CSV file, or a
range of a Parquet file's rows) become a dataset; a pool of actors, each holding the graph as the driver loaded
it (the same model version), scores them with units.score_unit, the local engine's code, and writes each unit's
predictions to the monitoring log before handing the scores back. The driver gets the scores in the input's
order and writes the output file, so the result is the local engine's, ids included.

Workers read the input files and write the log under the project home themselves: on a cluster both must be on
storage every node sees (as for the Ray pipeline backend).
"""

from __future__ import annotations

import logging
import pickle
from collections.abc import Iterator
from pathlib import Path

import pandas as pd

from nbmlops.serving.graph import Graph
from nbmlops.serving.prediction_log import PredictionLog
from nbmlops.serving.ray_runtime import init_ray
from nbmlops.serving.units import Unit, plan, score_unit

log = logging.getLogger("nbmlops.serving")
UNIT = "unit"
LOG_ERRORS = "log_errors"
FRAME = "scores"


class _Scorer:
    """One Ray Data actor: the graph unpickled once, then unit after unit."""

    def __init__(self, graph: Graph, digest: str, chunk_rows: int, home: str, log: bool) -> None:
        self.graph, self.digest, self.chunk_rows = graph, digest, chunk_rows
        self.graph.load(home)  # loaded versions travel with the graph; enrich steps resolve here
        self.log = PredictionLog(home, start=False) if log else None

    def __call__(self, batch: pd.DataFrame) -> pd.DataFrame:
        out = []
        for row in batch.itertuples(index=False):
            unit = Unit(row.file, int(row.file_index), int(row.start), int(row.stop))
            scored = list(score_unit(self.graph, unit, self.digest, self.chunk_rows))
            errors = 0
            if self.log is not None and scored:
                before = self.log.write_errors
                self.log.write([result for _, result in scored])  # on this actor, before the scores go back
                errors = self.log.write_errors - before
            frame = pd.concat([s for s, _ in scored], ignore_index=True) if scored else None
            # pickled: Ray Data would turn the frame into Arrow and hand back other dtypes than the local engine's
            out.append({UNIT: int(row.unit), FRAME: pickle.dumps(frame, protocol=5), LOG_ERRORS: errors})
        return pd.DataFrame(out)


def score_on_ray(
    graph: Graph,
    files: list[Path],
    digest: str,
    chunk_rows: int,
    *,
    home: str | Path,
    log: bool,
    ray_address: str | None = None,
    actors: int | None = None,
) -> Iterator[tuple[int, pd.DataFrame]]:
    """(unit number, its scores with the local engine's columns) as units finish; units without rows give none."""
    init_ray(ray_address, what="predict --engine ray")
    import ray

    cpus = max(1, int(ray.cluster_resources().get("CPU", 1)))
    units = plan(files, chunk_rows, parts=cpus)
    pool = max(1, min(actors or cpus, len(units)))
    items = [{"unit": i, **u.__dict__} for i, u in enumerate(units)]
    context = ray.data.DataContext.get_current()
    context.execution_options.preserve_order = True  # scores come back in the input's order
    dataset = ray.data.from_items(items, override_num_blocks=len(items)).map_batches(
        _Scorer,
        fn_constructor_args=(graph, digest, chunk_rows, str(home), log),
        batch_size=1,
        batch_format="pandas",
        compute=ray.data.ActorPoolStrategy(size=pool),
        num_cpus=1,
        runtime_env={"env_vars": {"NBMLOPS_HOME": str(home)}},  # the default feature store of enrich steps
    )
    errors = 0
    for batch in dataset.iter_batches(batch_size=None, batch_format="pandas"):
        for unit, frame, failed in zip(batch[UNIT], batch[FRAME], batch[LOG_ERRORS], strict=True):
            errors += int(failed)
            scored = pickle.loads(frame)  # noqa: S301 - written by this job's own actors
            if scored is not None:
                yield int(unit), scored
    if errors:
        log.error("predict --engine ray: %d prediction log writes failed", errors)
