"""The logging API: runs started in-process, and code inside a pipeline step logging with no run handling."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

import nbmlops.tracking as tracking
from nbmlops.tracking import (
    active_run,
    attach,
    end_run,
    get_store,
    log_artifact,
    log_metric,
    log_metrics,
    log_param,
    log_params,
    set_tag,
    start_run,
)


@pytest.fixture(autouse=True)
def _no_leftover_runs():
    yield
    while (run := active_run()) is not None and run.owned:
        run.end("failed", "left open by a test")
    assert active_run() is None


def test_start_run_records_everything(home: Path, tmp_path: Path) -> None:
    notebook = tmp_path / "nb.ipynb"
    notebook.write_text("{}")
    with start_run("baseline", params={"C": 0.5}, tags={"team": "ml"}, notebook_path=notebook) as run:
        assert active_run() is run
        log_param("seed", 42)
        log_params({"penalty": "l2"})
        log_metric("loss", 1.0, step=0)
        log_metric("loss", 0.5, step=1, timestamp=123.0)
        log_metrics({"auc": 0.9, "f1": 0.8})
        set_tag("stage", "dev")
        (tmp_path / "report.txt").write_text("hi")
        logged = log_artifact(tmp_path / "report.txt")
        log_artifact(b"hi", "again.txt")
    assert active_run() is None
    info = get_store().get_run(run.id)
    assert info.status == "succeeded" and info.duration is not None
    assert info.params == {"C": 0.5, "seed": 42, "penalty": "l2"}
    assert info.metrics == {"loss": 0.5, "auc": 0.9, "f1": 0.8}
    assert info.tags == {"team": "ml", "stage": "dev"}
    assert info.notebook_sha256 == tracking.file_sha256(notebook) and info.packages.get("sqlalchemy")
    history = get_store().metric_history(run.id, "loss")
    assert [(p.step, p.value) for p in history] == [(0, 1.0), (1, 0.5)] and history[1].timestamp == 123.0
    artifacts = get_store().artifacts_of(run.id)
    assert [a.name for a in artifacts] == ["report.txt", "again.txt"] and artifacts[0].sha256 == logged[0].sha256
    assert len([p for p in (home / "artifacts").rglob("*") if p.is_file()]) == 1  # same bytes, stored once


def test_failed_and_nested_runs(home: Path) -> None:
    with pytest.raises(ValueError), start_run("outer") as outer:
        with start_run("inner") as inner:
            assert active_run() is inner
        assert active_run() is outer
        raise ValueError("bad data")
    store = get_store()
    assert store.get_run(outer.id).status == "failed" and "bad data" in store.get_run(outer.id).error
    assert store.get_run(inner.id).status == "succeeded" and store.get_run(inner.id).parent_run_id == outer.id


def test_explicit_end_and_auto_run(home: Path) -> None:
    run = start_run("explicit")
    end_run()
    assert active_run() is None and get_store().get_run(run.id).status == "succeeded"

    log_metric("x", 1.0)  # no run: one is started for the process, as MLflow does
    auto = active_run()
    assert auto is not None and auto.owned
    end_run()
    assert get_store().get_run(auto.id).metrics == {"x": 1.0}


def test_attach_logs_to_the_pipeline_run_and_step(home: Path) -> None:
    pipeline = start_run(kind="pipeline", pipeline="churn", params={"C": 0.5})
    store = get_store()
    store.start_step(pipeline.id, "train")
    with attach(pipeline.id, "train") as step_run:
        # what notebook code inside the step does: no run handling at all
        assert active_run() is step_run and active_run().step == "train"
        assert os.environ[tracking.ENV_RUN_ID] == pipeline.id and os.environ[tracking.ENV_STEP] == "train"
        log_metric("auc", 0.91)
        log_artifact(b"model", "model.bin")
        with start_run("inside-step") as child:  # an explicit run inside a step is a child of the pipeline run
            log_metric("trial", 1.0)
        end_run()  # ending from inside a step never ends the runner's pipeline run
    assert tracking.ENV_RUN_ID not in os.environ
    assert active_run() is pipeline
    store.finish_step(pipeline.id, "train")
    pipeline.end()
    points = store.metric_history(pipeline.id, "auc")
    assert [(p.value, p.step_name) for p in points] == [(0.91, "train")]
    assert store.artifacts_of(pipeline.id)[0].step_name == "train"
    assert store.get_run(child.id).parent_run_id == pipeline.id
    assert store.get_run(pipeline.id).status == "succeeded"


def test_attach_through_environment_in_another_process(home: Path) -> None:
    """A step run in a separate process (papermill kernel, Ray worker) attaches through the env vars."""
    with start_run(kind="pipeline", pipeline="p") as pipeline:
        env = {**os.environ, tracking.ENV_RUN_ID: pipeline.id, tracking.ENV_STEP: "features"}
        code = "import nbmlops.tracking as t; t.log_metric('rows', 10); t.set_tag('worker', 'yes')"
        subprocess.run([sys.executable, "-c", code], env=env, check=True)
    info = get_store().get_run(pipeline.id)
    assert info.metrics == {"rows": 10.0} and info.tags == {"worker": "yes"} and info.status == "succeeded"
    assert get_store().metric_history(pipeline.id)[0].step_name == "features"


def test_heartbeat_advances(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NBMLOPS_HEARTBEAT_S", "0.05")
    with start_run("beating") as run:
        first = get_store().get_run(run.id).heartbeat_at
        deadline = time.time() + 5
        while get_store().get_run(run.id).heartbeat_at == first and time.time() < deadline:
            time.sleep(0.05)
        assert get_store().get_run(run.id).heartbeat_at > first


def test_a_project_home_deleted_while_the_process_lives_is_made_again(home: Path) -> None:
    import shutil

    with start_run("before") as run:
        log_metric("m", 1.0)
    assert get_store().get_run(run.id).metrics == {"m": 1.0}
    shutil.rmtree(home)  # e.g. `rm -rf .nbmlops` beside a running kernel
    with start_run("after") as run:
        log_metric("m", 2.0)
    assert [r.name for r in get_store().list_runs()] == ["after"]


def test_git_info(tmp_path: Path) -> None:
    assert tracking.git_info(tmp_path) == (None, None)
    git = ["git", "-c", "user.email=t@e", "-c", "user.name=t"]
    subprocess.run([*git, "init", "-q", str(tmp_path)], check=True)
    (tmp_path / "nb.ipynb").write_text("{}")
    subprocess.run([*git, "-C", str(tmp_path), "add", "."], check=True)
    subprocess.run([*git, "-C", str(tmp_path), "commit", "-qm", "x"], check=True)
    commit, dirty = tracking.git_info(tmp_path / "nb.ipynb")
    assert commit and len(commit) == 40 and dirty is False
    (tmp_path / "nb.ipynb").write_text("{ }")
    assert tracking.git_info(tmp_path) == (commit, True)


def test_a_run_records_its_commit_at_once_and_whether_the_tree_was_dirty_when_it_ends(
    home: Path, tmp_path: Path
) -> None:
    git = ["git", "-c", "user.email=t@e", "-c", "user.name=t", "-C", str(tmp_path)]
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    (tmp_path / "nb.ipynb").write_text("{}")
    subprocess.run([*git, "add", "."], check=True)
    subprocess.run([*git, "commit", "-qm", "x"], check=True)
    head = subprocess.run([*git, "rev-parse", "HEAD"], capture_output=True, text=True, check=True).stdout.strip()
    for content, dirty in (("{}", False), ("{ }", True)):
        (tmp_path / "nb.ipynb").write_text(content)
        with start_run("r", notebook_path=tmp_path / "nb.ipynb") as run:
            assert get_store().get_run(run.id).git_commit == head  # known while it runs
        info = get_store().get_run(run.id)
        assert (info.git_commit, info.git_dirty) == (head, dirty)
        commit_edges = [e for e in get_store().edges("run", run.id, "out") if e.relation == "commit"]
        assert [(e.to_id, e.name) for e in commit_edges] == [(head, "dirty" if dirty else None)]


def test_git_commit_read_from_files_matches_git(tmp_path: Path) -> None:
    """The commit comes from .git's files: loose and packed refs, detached HEAD, linked worktrees, no commit yet."""
    git = ["git", "-c", "user.email=t@e", "-c", "user.name=t", "-C", str(tmp_path / "repo")]
    subprocess.run(["git", "init", "-q", str(tmp_path / "repo")], check=True)
    assert tracking.git_info(tmp_path / "repo") == (None, None)  # unborn branch: no commit yet
    (tmp_path / "repo" / "sub").mkdir()
    (tmp_path / "repo" / "sub" / "nb.ipynb").write_text("{}")
    subprocess.run([*git, "add", "."], check=True)
    subprocess.run([*git, "commit", "-qm", "x"], check=True)
    head = subprocess.run([*git, "rev-parse", "HEAD"], capture_output=True, text=True, check=True).stdout.strip()
    assert tracking.git_info(tmp_path / "repo" / "sub" / "nb.ipynb") == (head, False)
    subprocess.run([*git, "pack-refs", "--all"], check=True)
    assert tracking.git_info(tmp_path / "repo" / "sub") == (head, False)
    subprocess.run([*git, "worktree", "add", "-q", "-b", "other", str(tmp_path / "wt")], check=True)
    assert tracking.git_info(tmp_path / "wt" / "sub") == (head, False)
    subprocess.run([*git, "checkout", "-q", "--detach"], check=True)
    assert tracking.git_info(tmp_path / "repo") == (head, False)


def test_import_is_light() -> None:
    code = (
        "import sys, nbmlops.tracking; "
        "print(sorted(m for m in ('sqlalchemy', 'pandas', 'pyarrow', 'alembic') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


PIPELINE_RUN = """
import sys, time
from nbmlops.tracking import attach, log_metric, log_metrics, log_param, log_params, set_tag, start_run
run = start_run(kind="pipeline", run_id="r1", pipeline="p", notebook_path=sys.argv[1], backend="local",
                resumed_from="r0", capture=True, params={"lr": 0.1}, tags={"who": "test"})
store = run.store
store.start_step(run.id, "prep", cache_key="k" * 64, inputs={"raw": "a" * 64})
with attach(run.id, "prep"):
    log_metric("rows", 10)
    log_metrics({"a": 1.0, "b": 2.0})
    log_param("seed", 1)
    log_params({"depth": 3})
    set_tag("stage", "dev")
store.finish_step(run.id, "prep", "succeeded", outputs={"df": "b" * 64}, stdout_path="o.txt", stderr_path="e.txt",
                  attempts=1)
store.record_step(run.id, "train", "succeeded", cache_key="c" * 64, cache_hit=True, outputs={"model": "c" * 64},
                  started_at=time.time(), ended_at=time.time())
store.heartbeat(run.id)
run.end("succeeded")
print(sorted(m for m in sys.modules if m.split(".")[0] in ("sqlalchemy", "alembic")))
"""


def test_pipeline_run_path_loads_no_sqlalchemy(home: Path, tmp_path: Path) -> None:
    """On a SQLite store already at head, everything `nbmlops run` records goes through plain sqlite3."""
    get_store()  # creates the database at head (this process loads SQLAlchemy and Alembic for that)
    notebook = tmp_path / "nb.ipynb"
    notebook.write_text("{}")
    out = subprocess.run(
        [sys.executable, "-c", PIPELINE_RUN, str(notebook)], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "[]"
    info = get_store().get_run("r1")
    assert info.status == "succeeded" and info.resumed_from == "r0" and info.backend == "local"
    assert info.params == {"lr": 0.1, "seed": 1, "depth": 3} and info.tags == {"who": "test", "stage": "dev"}
    assert info.metrics == {"rows": 10.0, "a": 1.0, "b": 2.0} and info.packages.get("sqlalchemy")
    steps = {s.name: s for s in get_store().steps("r1")}
    assert steps["prep"].inputs == {"raw": "a" * 64} and steps["prep"].outputs == {"df": "b" * 64}
    assert steps["prep"].duration is not None and steps["prep"].stdout_path == "o.txt"
    assert steps["train"].cache_hit and steps["train"].outputs == {"model": "c" * 64}
    assert {(e.relation, e.to_id) for e in get_store().edges("run", "r1", "out")} >= {
        ("input", "a" * 64),
        ("output", "b" * 64),
        ("output", "c" * 64),
        ("resumed_from", "r0"),
    }
    assert get_store().metric_history("r1", "rows")[0].step_name == "prep"


def test_package_versions_are_cached_until_the_environment_changes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from nbmlops.tracking import provenance

    site = tmp_path / "site-packages"
    project = tmp_path / "project"  # an editable install's source root, or the script's folder
    site.mkdir()
    project.mkdir()
    monkeypatch.setattr(sys, "path", [str(project), *sys.path, str(site)])
    monkeypatch.setattr(provenance, "_packages", {})
    first = tracking.package_versions(tmp_path)
    assert first.get("sqlalchemy") and (tmp_path / provenance.PACKAGES_CACHE).is_file()

    def no_scan() -> dict[str, str]:
        raise AssertionError("rescanned an unchanged environment")

    monkeypatch.setattr(provenance, "_packages", {})  # a new process: only the file cache is left
    scan = provenance._scan_distributions
    monkeypatch.setattr(provenance, "_scan_distributions", no_scan)
    assert tracking.package_versions(tmp_path) == first
    time.sleep(0.01)
    (project / "notes.txt").write_text("a new file in the project is not an install")
    assert tracking.package_versions(tmp_path) == first

    time.sleep(0.01)  # an install: a new *.dist-info folder in a sys.path entry changes the key
    (site / "fakepkg-1.2.dist-info").mkdir()
    (site / "fakepkg-1.2.dist-info" / "METADATA").write_text("Metadata-Version: 2.1\nName: fakepkg\nVersion: 1.2\n")
    monkeypatch.setattr(provenance, "_scan_distributions", scan)
    assert tracking.package_versions(tmp_path) == {**first, "fakepkg": "1.2"}


def test_a_reused_step_carries_exactly_what_its_execution_logged(store) -> None:
    """Store.reuse_step, what a cache hit records: the source step's records copied once, marked with their
    origin, through a chain of reuses; a fresh value logged later is fresh again."""
    source = store.create_run(kind="pipeline", pipeline="p", params={"C": 0.5})
    store.start_step(source, "train")
    with attach(source, "train", store=store, set_env=False):
        log_param("model", "lr")
        set_tag("framework", "sklearn")
        log_metric("loss", 0.5, step=0, timestamp=100.0)
        log_metric("loss", 0.25, step=1, timestamp=101.0)
        log_artifact(b"weights", "model.bin")
    with attach(source, "report", store=store, set_env=False):
        log_metric("pages", 2)  # another step's: not carried by train
    store.finish_step(source, "train")
    assert store.reuse_step(store.create_run(kind="pipeline"), "train", source, "nope") is None

    second = store.create_run(kind="pipeline", pipeline="p", params={"C": 0.5})
    for _ in range(2):  # a second reuse replaces the first copy
        assert store.reuse_step(second, "train", source, "train", cache_key="k") == (source, "train")
    third = store.create_run(kind="pipeline", pipeline="p")
    assert store.reuse_step(third, "fit", second, "train") == (source, "train"), "followed to the original"

    for run_id in (second, third):
        points = store.metric_history(run_id)
        assert [(p.key, p.value, p.step, p.timestamp) for p in points] == [
            ("loss", 0.5, 0, 100.0),
            ("loss", 0.25, 1, 101.0),
        ]
        info = store.get_run(run_id)
        assert info.params["model"] == "lr" and info.tags == {"framework": "sklearn"} and "pages" not in info.metrics
        assert set(info.reused) == {"params.model", "tags.framework", "metrics.loss"}
        assert {(o["run_id"], o["step"]) for o in info.reused.values()} == {(source, "train")}
        assert [(a.name, a.sha256) for a in store.artifacts_of(run_id)] == [
            (a.name, a.sha256) for a in store.artifacts_of(source)
        ]
    assert store.get_run(source).reused == {} and store.steps(source)[0].reused_from_run is None
    fit = store.steps(third)[0]
    assert (fit.name, fit.status, fit.cache_hit, fit.reused_from_run, fit.reused_from_step) == (
        "fit",
        "succeeded",
        True,
        source,
        "train",
    )
    assert [p.step_name for p in store.metric_history(third)] == ["fit", "fit"]

    with attach(third, "evaluate", store=store, set_env=False):
        log_metric("loss", 0.1)
        log_param("model", "tree")
    info = store.get_run(third)
    assert info.metrics["loss"] == 0.1 and info.params["model"] == "tree"
    assert set(info.reused) == {"tags.framework"}, "values logged again are fresh"
    store.delete_run(source)
    assert len(store.artifacts_of(second)) == 1 and store.artifacts.exists(store.artifacts_of(second)[0].sha256)
