"""Parameter sweeps: `-p C=0.1,1,10 -p depth=3,5` runs the grid (`--sweep random:N` samples it).

Steps that no swept parameter reaches run once, in the sweep's parent run; every child run then finds them
in the step cache, so only the steps that read a swept parameter, and their descendants, fan out. Children
are tracked under the parent, which records the best child by the objective (`metrics.auc:max`)."""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from nbmlops.errors import NbmlopsError, ParameterError
from nbmlops.pipeline.graph import descendants
from nbmlops.pipeline.params import parse_value, split_assignment
from nbmlops.pipeline.spec import PipelineSpec
from nbmlops.runners.orchestrator import RunResult

SCALAR_TYPES = {"int", "float", "bool", "str", "NoneType"}
_SWEEP = re.compile(r"^(grid|random:(\d+))$")


@dataclass
class SweepResult:
    parent: RunResult
    children: list[RunResult]
    points: list[dict[str, Any]]
    scores: list[float | None] = field(default_factory=list)
    best: RunResult | None = None
    objective: str | None = None


def split_sweep_params(spec: PipelineSpec, items: list[str]) -> tuple[list[str], dict[str, list[Any]]]:
    """Separate plain `name=value` items from swept ones (`name=a,b,c` on a scalar parameter)."""
    by_name = {p.name: p for p in spec.parameters}
    fixed, swept = [], {}
    for item in items:
        name, text = split_assignment(item)
        param = by_name.get(name)
        if param is not None and param.type in SCALAR_TYPES and "," in text:
            values = [parse_value(param, part.strip()) for part in text.split(",")]
            swept[name] = list(dict.fromkeys(values))
        else:
            fixed.append(item)
    return fixed, swept


def sweep_points(swept: dict[str, list[Any]], mode: str = "grid", seed: int = 0) -> list[dict[str, Any]]:
    match = _SWEEP.match(mode)
    if not match:
        raise ParameterError(f"--sweep {mode}: use 'grid' or 'random:N'")
    grid = [dict(zip(swept, combo, strict=True)) for combo in itertools.product(*swept.values())]
    if match.group(2) is None:
        return grid
    count = int(match.group(2))
    if count < 1:
        raise ParameterError(f"--sweep {mode}: N must be at least 1")
    import random  # lazy, like the thread pool below: `nbmlops run` without a sweep never needs them

    return random.Random(seed).sample(grid, min(count, len(grid)))


def parse_objective(text: str) -> tuple[str, bool]:
    """`metrics.auc:max` -> ("auc", True)."""
    match = re.match(r"^metrics\.([\w.\-/]+):(max|min)$", text.strip())
    if not match:
        raise NbmlopsError(f"--objective {text}: write it as metrics.NAME:max or metrics.NAME:min")
    return match.group(1), match.group(2) == "max"


def shared_steps(spec: PipelineSpec, swept: set[str]) -> set[str]:
    """Steps no swept parameter reaches: they run once for the whole sweep."""
    affected = {s.name for s in spec.steps if swept & set(s.params)}
    for name in list(affected):
        affected |= descendants(spec, name)
    return {s.name for s in spec.steps} - affected


def run_sweep(
    spec: PipelineSpec,
    fixed: list[str],
    swept: dict[str, list[Any]],
    run: Callable[..., RunResult],
    *,
    mode: str = "grid",
    seed: int = 0,
    objective: str | None = None,
    parallel: int = 1,
) -> SweepResult:
    """`run(params, **options)` runs one pipeline (run_pipeline with the backend chosen)."""
    metric, maximise = parse_objective(objective) if objective else (None, True)
    points = sweep_points(swept, mode, seed)
    shared = shared_steps(spec, set(swept))
    first = {**dict(split_assignment(i) for i in fixed), **points[0]}
    parent = run(
        first,
        skip=frozenset({s.name for s in spec.steps} - shared),
        tags={"sweep": "parent", "sweep_params": ",".join(swept), "sweep_size": len(points)},
    )

    def child(point: dict[str, Any]) -> RunResult:
        params = {**dict(split_assignment(i) for i in fixed), **point}
        return run(params, parent_run_id=parent.run_id, tags={"sweep": "child"})

    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=max(1, parallel)) as pool:
        children = list(pool.map(child, points))
    result = SweepResult(parent, children, points, objective=objective)
    if metric:
        _rank(result, metric, maximise)
    return result


def _rank(result: SweepResult, metric: str, maximise: bool) -> None:
    from nbmlops.tracking import get_store

    store = get_store(result.parent.run_dir.parent.parent)
    result.scores = [store.get_run(c.run_id).metrics.get(metric) for c in result.children]
    scored = [(s, c) for s, c in zip(result.scores, result.children, strict=True) if s is not None]
    if not scored:
        raise NbmlopsError(
            f"--objective metrics.{metric}: no child run logged '{metric}' (log it with nbmlops.log_metric in a step)"
        )
    best_score, result.best = (max if maximise else min)(scored, key=lambda pair: pair[0])
    store.set_tags(result.parent.run_id, {"best_child": result.best.run_id, "objective": result.objective})
    store.log_metric(result.parent.run_id, metric, best_score)
