"""Step caching: unchanged steps are reused, edits rerun only what depends on them, and the run says why."""

from __future__ import annotations

from pathlib import Path

import pytest

from nbmlops.errors import NbmlopsError, RunError
from nbmlops.pipeline import compile_notebook
from nbmlops.runners import RunDir, run_pipeline

CELLS = [
    ("C = 1.0", ["parameters"]),
    ("raw = list(range(5))\nprint('load ran')", ["step:load"]),
    ("clean = [x * 2 for x in raw]", ["step:clean"]),
    ("score = sum(clean) * C", ["step:train"]),
    ("report = f'score={score}'\nprint(report)", ["step:report"]),
]


def statuses(result) -> dict[str, str]:
    return {name: ("cached" if s.get("cached") else s["status"]) for name, s in result.steps.items()}


def reasons(result) -> dict[str, str]:
    return {name: s.get("reason", "") for name, s in result.steps.items()}


def test_second_run_is_all_cached_and_outputs_are_the_same_files(make_notebook, home: Path) -> None:
    spec = compile_notebook(make_notebook(CELLS))
    first = run_pipeline(spec, home=home)
    assert set(statuses(first).values()) == {"succeeded"} and reasons(first)["load"] == "first run"
    second = run_pipeline(spec, home=home)
    assert set(statuses(second).values()) == {"cached"}
    assert second.steps["train"]["cached_from"] == first.run_id
    old = RunDir(first.run_dir).outputs_dir("clean") / "clean.json"
    new = RunDir(second.run_dir).outputs_dir("clean") / "clean.json"
    assert new.read_text() == old.read_text() and new.stat().st_ino == old.stat().st_ino, "hard link, no copy"


def test_editing_the_last_step_reruns_only_it(make_notebook, home: Path) -> None:
    run_pipeline(compile_notebook(make_notebook(CELLS)), home=home)
    edited = [*CELLS[:-1], ("report = f'SCORE {score:.1f}'\nprint(report)", ["step:report"])]
    result = run_pipeline(compile_notebook(make_notebook(edited)), home=home)
    assert statuses(result) == {"load": "cached", "clean": "cached", "train": "cached", "report": "succeeded"}
    assert reasons(result)["report"] == "its code changed"
    assert (result.run_dir / "steps" / "report" / "stdout.txt").read_text() == "SCORE 20.0\n"


def test_a_parameter_reruns_its_readers_and_an_unchanged_output_stops_the_wave(make_notebook, home: Path) -> None:
    spec = compile_notebook(make_notebook(CELLS))
    run_pipeline(spec, home=home)
    result = run_pipeline(spec, ["C=2"], home=home)
    assert statuses(result) == {"load": "cached", "clean": "cached", "train": "succeeded", "report": "succeeded"}
    assert reasons(result)["train"] == "parameter C 1.0 → 2.0"
    assert reasons(result)["report"] == "input score (from train) changed"
    edited = [CELLS[0], ("raw = list(range(5))\nprint('load ran again')", ["step:load"]), *CELLS[2:]]
    result = run_pipeline(compile_notebook(make_notebook(edited)), ["C=2"], home=home)
    assert statuses(result) == {"load": "succeeded", "clean": "cached", "train": "cached", "report": "cached"}, \
        "load's output is the same value, so nothing downstream reruns"


def test_no_cache_force_and_nocache_option(make_notebook, home: Path) -> None:
    spec = compile_notebook(make_notebook(CELLS))
    run_pipeline(spec, home=home)
    assert set(statuses(run_pipeline(spec, home=home, use_cache=False)).values()) == {"succeeded"}
    forced = run_pipeline(spec, home=home, force=["clean"])
    assert statuses(forced) == {"load": "cached", "clean": "succeeded", "train": "cached", "report": "cached"}
    assert reasons(forced)["clean"] == "forced"
    with pytest.raises(NbmlopsError, match="no step 'nope'"):
        run_pipeline(spec, home=home, force=["nope"])
    tagged = [*CELLS[:2], ("clean = [x * 2 for x in raw]", ["step:clean", "nocache"]), *CELLS[3:]]
    result = run_pipeline(compile_notebook(make_notebook(tagged)), home=home)
    assert statuses(result)["clean"] == "succeeded" and reasons(result)["clean"] == "cache off"


def test_only_runs_one_step_from_cached_inputs(make_notebook, home: Path) -> None:
    spec = compile_notebook(make_notebook(CELLS))
    with pytest.raises(RunError, match="--only train: upstream step 'load' has no cached result"):
        run_pipeline(spec, home=home, only="train")
    run_pipeline(spec, home=home)
    result = run_pipeline(spec, ["C=3"], home=home, only="train")
    assert statuses(result) == {"load": "cached", "clean": "cached", "train": "succeeded", "report": "skipped"}


def test_killed_steps_output_is_picked_up_from_the_cache(make_notebook, home: Path) -> None:
    failing = [*CELLS[:3], ("score = sum(clean) * C\nraise SystemExit('killed')", ["step:train"]), CELLS[4]]
    with pytest.raises(NbmlopsError):
        run_pipeline(compile_notebook(make_notebook(failing)), home=home)
    result = run_pipeline(compile_notebook(make_notebook(CELLS)), home=home)
    assert statuses(result) == {"load": "cached", "clean": "cached", "train": "succeeded", "report": "succeeded"}
