"""Step caching: unchanged steps are reused, edits rerun only what depends on them, and the run says why."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from nbmlops.errors import NbmlopsError, RunError
from nbmlops.pipeline import compile_notebook
from nbmlops.runners import RunDir, run_pipeline
from nbmlops.store import open_store

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
    assert statuses(result) == {"load": "succeeded", "clean": "cached", "train": "cached", "report": "cached"}, (
        "load's output is the same value, so nothing downstream reruns"
    )


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


# -- a cache hit carries what the step logged -------------------------------------------------------------------
LOGGED = [
    ("import nbmlops\nfrom pathlib import Path", ["setup"]),
    ("C = 1.0", ["parameters"]),
    ("raw = list(range(5))\nnbmlops.log_param('rows', len(raw))\nnbmlops.set_tag('source', 'range')", ["step:load"]),
    # `executions` counts how often train really ran: a file beside the notebook, outside the cache key
    (
        "counter = Path('train_executions.txt')\n"
        "executions = int(counter.read_text()) + 1 if counter.exists() else 1\n"
        "counter.write_text(str(executions))\n"
        "score = sum(raw) * C\n"
        "for epoch in range(3):\n"
        "    nbmlops.log_metric('loss', 1 / (epoch + 1), step=epoch)\n"
        "nbmlops.log_metrics({'score': score, 'executions': executions})\n"
        "nbmlops.log_artifact(f'model C={C}'.encode(), 'model.txt')",
        ["step:train"],
    ),
    ("report = f'score={score}'\nnbmlops.log_metric('report_len', len(report))", ["step:report"]),
]
NBMLOPS = str(Path(sys.executable).with_name("nbmlops"))


def runs_cli(home: Path, *args: str) -> str:
    done = subprocess.run(
        [NBMLOPS, "runs", *args],
        env={**os.environ, "NBMLOPS_HOME": str(home)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def history(store, run_id: str) -> list[tuple]:
    return [(p.key, p.value, p.step, p.timestamp, p.step_name) for p in store.metric_history(run_id)]


def origin(run_id: str, step: str) -> dict[str, str]:
    return {"run_id": run_id, "step": step}


def test_a_fully_cached_run_carries_the_metrics_params_tags_and_artifacts_marked_reused(
    make_notebook, home: Path
) -> None:
    spec = compile_notebook(make_notebook(LOGGED))
    first = run_pipeline(spec, home=home)
    second = run_pipeline(spec, home=home)
    assert set(statuses(second).values()) == {"cached"}
    store = open_store(home)
    old, new = store.get_run(first.run_id), store.get_run(second.run_id)
    assert (
        new.metrics == old.metrics == {"loss": pytest.approx(1 / 3), "score": 10.0, "executions": 1, "report_len": 10}
    )
    assert new.params == old.params == {"C": 1.0, "rows": 5} and new.tags["source"] == "range"
    assert old.reused == {}, "the first run's values are its own"
    assert new.reused == {
        "metrics.loss": origin(first.run_id, "train"),
        "metrics.score": origin(first.run_id, "train"),
        "metrics.executions": origin(first.run_id, "train"),
        "metrics.report_len": origin(first.run_id, "report"),
        "params.rows": origin(first.run_id, "load"),
        "tags.source": origin(first.run_id, "load"),
    }
    assert history(store, second.run_id) == history(store, first.run_id), "values, steps, timestamps, in order"
    assert [(a.name, a.sha256, a.step_name) for a in store.artifacts_of(second.run_id)] == [
        (a.name, a.sha256, a.step_name) for a in store.artifacts_of(first.run_id)
    ]
    steps = {s.name: s for s in store.steps(second.run_id)}
    assert {n: (s.cache_hit, s.reused_from_run, s.reused_from_step) for n, s in steps.items()} == {
        n: (True, first.run_id, n) for n in ("load", "train", "report")
    }
    assert second.steps["train"]["records_from"] == origin(first.run_id, "train")
    assert (home.parent / "train_executions.txt").read_text() == "1", "train ran once"

    found = json.loads(
        runs_cli(
            home,
            "ls",
            "--filter",
            "metrics.score > 5 and metrics.executions = 1",
            "--order-by",
            "-metrics.score",
            "--json",
        )
    )
    assert {r["id"] for r in found} == {first.run_id, second.run_id}
    shown = json.loads(runs_cli(home, "show", second.run_id, "--json"))
    assert shown["metrics"]["score"] == 10.0 and shown["reused"]["metrics.score"] == origin(first.run_id, "train")
    assert {s["name"]: s["reused_from_run"] for s in shown["steps"]} == dict.fromkeys(steps, first.run_id)
    table = runs_cli(home, "show", second.run_id)
    assert f"reused: run {first.run_id} step train" in table and f"reused: run {first.run_id} step load" in table
    assert "reused" not in runs_cli(home, "show", first.run_id), "the first run's values are its own"


def test_a_partially_cached_run_has_the_reused_steps_values_and_the_fresh_steps(make_notebook, home: Path) -> None:
    spec = compile_notebook(make_notebook(LOGGED))
    first = run_pipeline(spec, home=home)
    second = run_pipeline(spec, ["C=2"], home=home)
    assert statuses(second) == {"load": "cached", "train": "succeeded", "report": "succeeded"}
    store = open_store(home)
    run = store.get_run(second.run_id)
    assert run.metrics == {"loss": pytest.approx(1 / 3), "score": 20.0, "executions": 2, "report_len": 10}
    assert run.params == {"C": 2.0, "rows": 5} and run.tags["source"] == "range"
    assert run.reused == {"params.rows": origin(first.run_id, "load"), "tags.source": origin(first.run_id, "load")}
    assert [(p.step, p.step_name) for p in store.metric_history(second.run_id, "loss")] == [
        (0, "train"),
        (1, "train"),
        (2, "train"),
    ], "the fresh history alone"
    assert [a.step_name for a in store.artifacts_of(second.run_id)] == ["train"]


def test_a_chain_of_cached_runs_keeps_the_values_and_their_origin(make_notebook, home: Path) -> None:
    spec = compile_notebook(make_notebook(LOGGED))
    first = run_pipeline(spec, home=home)
    second = run_pipeline(spec, home=home)
    third = run_pipeline(spec, home=home)
    store = open_store(home)
    run = store.get_run(third.run_id)
    assert run.metrics == store.get_run(first.run_id).metrics
    assert run.reused == store.get_run(second.run_id).reused, "the run that logged them, not the one between"
    assert {v["run_id"] for v in run.reused.values()} == {first.run_id} and len(run.reused) == 6
    assert history(store, third.run_id) == history(store, first.run_id), "copied once, not once per link"
    # the first run gone (folder and records), the chain still holds them
    runs_cli(home, "rm", "--yes", first.run_id)
    fourth = run_pipeline(spec, home=home)
    assert set(statuses(fourth).values()) == {"cached"}
    assert store.get_run(fourth.run_id).metrics == run.metrics
    assert store.get_run(fourth.run_id).reused["metrics.score"] == origin(first.run_id, "train")
    assert len(store.metric_history(fourth.run_id, "loss")) == 3
    assert (home.parent / "train_executions.txt").read_text() == "1"


def test_a_forced_step_logs_fresh_values_not_reused_ones(make_notebook, home: Path) -> None:
    spec = compile_notebook(make_notebook(LOGGED))
    first = run_pipeline(spec, home=home)
    forced = run_pipeline(spec, home=home, force=["train"])
    assert statuses(forced) == {"load": "cached", "train": "succeeded", "report": "cached"}
    store = open_store(home)
    run = store.get_run(forced.run_id)
    assert run.metrics["executions"] == 2, "the value train logged now"
    assert set(run.reused) == {"params.rows", "tags.source", "metrics.report_len"}
    assert len(store.metric_history(forced.run_id, "loss")) == 3
    assert {s.name: s.reused_from_run for s in store.steps(forced.run_id)} == {
        "load": first.run_id,
        "train": None,
        "report": first.run_id,
    }
    no_cache = store.get_run(run_pipeline(spec, home=home, use_cache=False).run_id)
    assert no_cache.reused == {} and no_cache.metrics["executions"] == 3


def test_resume_and_only_carry_the_reused_steps_values(make_notebook, home: Path) -> None:
    failing = [*LOGGED[:4], ("report = f'score={score}'\nraise ValueError('report broke')", ["step:report"])]
    with pytest.raises(NbmlopsError, match="report broke") as info:
        run_pipeline(compile_notebook(make_notebook(failing)), home=home)
    failed = info.value.run_id
    spec = compile_notebook(make_notebook(LOGGED))
    resumed = run_pipeline(spec, home=home, resume=failed)
    assert resumed.steps["train"]["reused_from"] == failed
    store = open_store(home)
    run = store.get_run(resumed.run_id)
    assert run.metrics["score"] == 10.0 and run.reused["metrics.score"] == origin(failed, "train")
    assert "metrics.report_len" not in run.reused, "report ran in the resumed run"
    only = store.get_run(run_pipeline(spec, home=home, only="report").run_id)
    assert only.metrics["score"] == 10.0 and only.params["rows"] == 5
    assert only.reused["metrics.score"] == origin(failed, "train") and "metrics.report_len" not in only.reused


def test_a_hit_whose_records_left_the_store_runs_the_step_again(make_notebook, home: Path) -> None:
    spec = compile_notebook(make_notebook(LOGGED))
    first = run_pipeline(spec, home=home)
    open_store(home).delete_run(first.run_id)  # the records, not the run folder the cache points at
    second = run_pipeline(spec, home=home)
    assert set(statuses(second).values()) == {"succeeded"}, "no hit without the metrics it must carry"
    assert reasons(second)["train"] == f"step train of run {first.run_id} is no longer in the store"
    assert open_store(home).get_run(second.run_id).metrics["executions"] == 2


def test_a_step_whose_later_steps_now_read_more_of_it_runs_again(make_notebook, home: Path) -> None:
    quiet = [*LOGGED[:4], ("report = 'no score'", ["step:report"])]  # train hands nothing on
    run_pipeline(compile_notebook(make_notebook(quiet)), home=home)
    result = run_pipeline(compile_notebook(make_notebook(LOGGED)), home=home)
    assert statuses(result) == {"load": "cached", "train": "succeeded", "report": "succeeded"}
    assert reasons(result)["train"] == "later steps now also read score from it"


def test_papermill_steps_records_are_carried_by_a_cached_run(make_notebook, home: Path) -> None:
    """Steps logging from a kernel (attached through the environment) name their step too; a cache hit never
    reaches the backend, so the same orchestrator copy applies."""
    spec = compile_notebook(make_notebook(LOGGED))
    options = {"workers": 1}
    first = run_pipeline(spec, home=home, backend="papermill", backend_options=options)
    second = run_pipeline(spec, home=home, backend="papermill", backend_options=options)
    assert set(statuses(second).values()) == {"cached"}
    store = open_store(home)
    run = store.get_run(second.run_id)
    assert run.metrics == store.get_run(first.run_id).metrics and run.metrics["score"] == 10.0
    assert run.reused["params.rows"] == origin(first.run_id, "load")
    assert run.reused["tags.source"] == origin(first.run_id, "load")
    assert history(store, second.run_id) == history(store, first.run_id)
