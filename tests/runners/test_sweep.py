"""Sweeps: the grid or a random sample of it, shared upstream steps run once, the best child recorded."""

from __future__ import annotations

from pathlib import Path

import pytest

from nbmlops.errors import NbmlopsError, ParameterError
from nbmlops.pipeline import compile_notebook
from nbmlops.runners import sweep_pipeline
from nbmlops.runners.sweep import shared_steps, split_sweep_params, sweep_points
from nbmlops.store import open_store

CELLS = [
    ("import nbmlops", ["setup"]),
    ("C = 1.0\ndepth = 2\nname = 'x'", ["parameters"]),
    ("data = list(range(10))\nprint('prepared')", ["step:prepare"]),
    ("score = -abs(C - 1.5) - depth / 100\nnbmlops.log_metric('score', score)", ["step:train"]),
    ("summary = round(score, 3)", ["step:report"]),
]


def test_split_and_points(make_notebook) -> None:
    spec = compile_notebook(make_notebook(CELLS))
    fixed, swept = split_sweep_params(spec, ["C=0.5,1.5,2", "depth=3,5", "name=a"])
    assert fixed == ["name=a"] and swept == {"C": [0.5, 1.5, 2.0], "depth": [3, 5]}
    assert len(sweep_points(swept)) == 6
    sampled = sweep_points(swept, "random:4", seed=1)
    assert len(sampled) == 4 and len({tuple(p.items()) for p in sampled}) == 4
    assert sampled == sweep_points(swept, "random:4", seed=1), "a seed makes the sample repeatable"
    assert shared_steps(spec, {"C"}) == {"prepare"}
    with pytest.raises(ParameterError, match="'x' is not a whole number"):
        split_sweep_params(spec, ["depth=3,x"])
    with pytest.raises(ParameterError, match="--sweep bogus"):
        sweep_points(swept, "bogus")


def test_grid_sweep_shares_upstream_and_records_the_best_child(make_notebook, home: Path) -> None:
    spec = compile_notebook(make_notebook(CELLS))
    result = sweep_pipeline(spec, ["C=0.5,1.5,2", "depth=3,5"], objective="metrics.score:max", home=home)
    assert len(result.children) == 6
    assert result.parent.steps["prepare"]["status"] == "succeeded"
    assert result.parent.steps["train"]["status"] == "skipped"
    for child in result.children:
        assert child.steps["prepare"]["cached_from"] == result.parent.run_id, "shared step ran once"
        assert child.steps["train"]["status"] == "succeeded"
    assert result.best.params == {"C": 1.5, "depth": 3, "name": "x"}
    store = open_store(home)
    parent = store.get_run(result.parent.run_id)
    assert parent.tags["best_child"] == result.best.run_id and parent.metrics["score"] == pytest.approx(-0.03)
    children = store.list_runs(parent_run_id=parent.id)
    assert len(children) == 6 and {c.status for c in children} == {"succeeded"}


def test_random_sweep_and_bad_objective(make_notebook, home: Path) -> None:
    spec = compile_notebook(make_notebook(CELLS))
    result = sweep_pipeline(spec, ["C=0.5,1,1.5,2"], sweep="random:2", home=home)
    assert len(result.children) == 2 and result.best is None
    with pytest.raises(NbmlopsError, match="no child run logged 'auc'"):
        sweep_pipeline(spec, ["C=0.5,1"], objective="metrics.auc:max", home=home)
    with pytest.raises(NbmlopsError, match="metrics.NAME:max"):
        sweep_pipeline(spec, ["C=0.5,1"], objective="auc", home=home)
    with pytest.raises(NbmlopsError, match="nothing to sweep"):
        sweep_pipeline(spec, ["C=0.5"], home=home)


def test_the_same_sweep_twice_ranks_the_cached_children_by_their_carried_metrics(make_notebook, home: Path) -> None:
    spec = compile_notebook(make_notebook(CELLS))
    first = sweep_pipeline(spec, ["C=0.5,1.5,2"], objective="metrics.score:max", home=home)
    again = sweep_pipeline(spec, ["C=0.5,1.5,2"], objective="metrics.score:max", home=home)
    assert all(set(s.get("cached") for s in child.steps.values()) == {True} for child in again.children)
    assert again.best.params == first.best.params == {"C": 1.5, "depth": 2, "name": "x"}
    assert again.scores == first.scores and again.best.run_id != first.best.run_id
    store = open_store(home)
    best = store.get_run(again.best.run_id)
    assert best.reused["metrics.score"] == {"run_id": first.best.run_id, "step": "train"}
    parent = store.get_run(again.parent.run_id)
    assert parent.tags["best_child"] == again.best.run_id and parent.metrics["score"] == pytest.approx(-0.02)
    assert "metrics.score" not in parent.reused, "the parent's best score is its own record"
