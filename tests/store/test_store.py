"""The store against SQLite and a real PostgreSQL (NBMLOPS_TEST_PG_URL, started by .ci/postgres.sh)."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
import sqlalchemy as sa

from nbmlops.store import (
    ArtifactStore,
    ConfigError,
    QueryError,
    SchemaError,
    load_settings,
    open_store,
)
from nbmlops.store import db as dbmod
from nbmlops.store.migrations import HEAD, LOCATION, REVISIONS, VERSION_TABLE
from nbmlops.store.models import metadata


def test_runs_params_metrics_tags_round_trip(store) -> None:
    run = store.create_run(
        name="baseline",
        params={"lr": 0.1, "opt": "adam", "layers": [1, 2], "flag": True},
        tags={"team": "ml"},
        notebook_path="nb.ipynb",
        notebook_sha256="a" * 64,
        git_commit="c0ffee",
        git_dirty=True,
        packages={"numpy": "2.0"},
    )
    store.log_metric(run, "loss", 1.0, step=0, timestamp=100.0)
    store.log_metric(run, "loss", 0.5, step=1, timestamp=101.0)
    store.log_metrics(run, {"acc": 0.9, "nan": math.nan, "inf": math.inf}, step=1)
    store.set_tag(run, "stage", "dev")
    store.log_param(run, "lr", 0.2)  # a later value replaces the earlier one
    store.finish_run(run, "succeeded")

    info = store.get_run(run)
    assert info.status == "succeeded" and info.kind == "run" and info.name == "baseline"
    assert info.params == {"lr": 0.2, "opt": "adam", "layers": [1, 2], "flag": True}
    assert info.metrics["loss"] == 0.5 and info.metrics["acc"] == 0.9 and math.isnan(info.metrics["nan"])
    assert info.metrics["inf"] == math.inf
    assert info.tags == {"team": "ml", "stage": "dev"}
    assert info.git_commit == "c0ffee" and info.git_dirty is True and info.packages == {"numpy": "2.0"}
    assert info.pid == os.getpid() and info.python_version and info.duration is not None and info.duration >= 0
    history = store.metric_history(run, "loss")
    assert [(p.value, p.step, p.timestamp) for p in history] == [(1.0, 0, 100.0), (0.5, 1, 101.0)]
    assert {(e.to_kind, e.relation) for e in store.edges("run", run, "out")} >= {
        ("notebook", "code"),
        ("commit", "commit"),
    }


def test_steps_lineage_and_artifacts(store, tmp_path: Path) -> None:
    run = store.create_run(kind="pipeline", pipeline="churn", backend="local")
    store.start_step(run, "load", cache_key="k1", inputs={})
    store.finish_step(run, "load", outputs={"df": "d" * 64}, stdout_path="/x/stdout.txt")
    store.start_step(run, "train", inputs={"df": "d" * 64})
    store.finish_step(run, "train", "failed", error="boom", cache_hit=False)
    store.record_step(run, "report", "succeeded", cache_hit=True, started_at=1.0, ended_at=1.0)
    steps = {s.name: s for s in store.steps(run)}
    assert steps["load"].status == "succeeded" and steps["load"].outputs == {"df": "d" * 64}
    assert steps["load"].cache_key == "k1" and steps["load"].duration is not None
    assert steps["load"].stdout_path == "/x/stdout.txt"
    assert steps["train"].status == "failed" and steps["train"].error == "boom"
    assert steps["train"].inputs == {"df": "d" * 64}
    assert steps["report"].cache_hit is True
    edges = store.edges("value", "d" * 64, "in")
    assert {(e.from_id, e.relation, e.step_name) for e in edges} == {(run, "output", "load"), (run, "input", "train")}

    (tmp_path / "model.bin").write_bytes(b"weights")
    logged = store.log_artifact(run, tmp_path / "model.bin", step_name="train")
    again = store.log_artifact(run, b"weights", "copy.bin")
    assert logged[0].sha256 == again[0].sha256 and logged[0].size == 7
    assert [a.name for a in store.artifacts_of(run)] == ["model.bin", "copy.bin"]
    assert store.artifacts.get_bytes(logged[0].sha256) == b"weights"


def test_queries_filter_and_order(store) -> None:
    specs = [
        ("a", "churn", 0.1, 0.80, "succeeded"),
        ("b", "churn", 0.01, 0.90, "succeeded"),
        ("c", "churn", 0.5, 0.70, "failed"),
        ("d", "other", 0.1, None, "succeeded"),
    ]
    ids = {}
    for name, pipeline, lr, acc, status in specs:
        ids[name] = store.create_run(
            name=name,
            kind="pipeline",
            pipeline=pipeline,
            params={"lr": lr, "opt": "adam" if name != "b" else "sgd"},
            tags={"who": name},
        )
        if acc is not None:
            store.log_metric(ids[name], "acc", 0.0)
            store.log_metric(ids[name], "acc", acc)  # the latest value is the one compared
        store.finish_run(ids[name], status)

    def names(**kw) -> list[str]:
        return [r.name for r in store.list_runs(**kw)]

    assert names(pipeline="churn", order_by=["-metrics.acc"]) == ["b", "a", "c"]
    assert names(pipeline="churn", order_by=["metrics.acc asc"]) == ["c", "a", "b"]
    assert names(where=["metrics.acc >= 0.8"], order_by=["name"]) == ["a", "b"]
    assert names(where=["params.lr = 0.1"], order_by=["name"]) == ["a", "d"]
    assert names(where=[("params.lr", "<", 0.2), "params.opt = sgd"]) == ["b"]
    assert names(where=["tags.who != a", "status = succeeded"], order_by=["name"]) == ["b", "d"]
    assert names(status="failed") == ["c"]
    assert names(order_by=["-metrics.acc"], limit=1) == ["b"]
    assert names(order_by=["metrics.acc"])[-1] == "d"  # runs without the metric sort last
    assert len(names()) == 4  # newest first by default
    with pytest.raises(QueryError, match="unknown run field 'colour'"):
        store.list_runs(where=["colour = red"])
    with pytest.raises(QueryError, match="FIELD OP VALUE"):
        store.list_runs(where=["metrics.acc ~ 1"])


def test_query_values_are_bound_and_typed(store) -> None:
    """Filters compile to SQL with bound parameters: keys and values are data, never SQL; params compare as
    numbers when the value is one (bools as 0/1) and as JSON text otherwise; `= null` on a run column is IS NULL."""
    store.create_run(
        name="a",
        params={"lr": 0.1, "flag": True, "opt": "adam", "n": None, "it's": 1},
        tags={"x'; DROP TABLE runs; --": "v"},
    )
    b = store.create_run(name="b", params={"lr": 1, "flag": False, "opt": "sgd"}, tags={"team": "ml"})
    store.finish_run(b)

    def names(*where: object, **kw: object) -> list[str]:
        return sorted(r.name for r in store.list_runs(where=list(where), **kw))

    assert names("params.lr > 0.5") == ["b"] and names(("params.lr", "=", 1.0)) == ["b"]
    assert names("params.flag = true") == ["a"] and names(("params.flag", "=", 0)) == ["b"]
    assert names("params.opt = 'adam'") == ["a"] and names("params.n = null") == ["a"]
    assert names(("params.it's", "=", 1)) == ["a"]
    assert names(("tags.x'; DROP TABLE runs; --", "=", "v")) == ["a"] and len(store.list_runs()) == 2
    assert names("ended_at = null") == ["a"] and names("ended_at != null") == ["b"]
    assert names("tags.team != ml") == []  # a run without the tag matches no comparison
    assert names("name = b", status="succeeded") == ["b"] and names(("pid", ">", 0), kind="run") == ["a", "b"]
    assert [r.name for r in store.list_runs(order_by=["-params.lr"])] == ["b", "a"]
    with pytest.raises(QueryError, match="metrics are numbers"):
        store.list_runs(where=["metrics.acc > high"])
    with pytest.raises(QueryError, match="started_at is a number"):
        store.list_runs(where=["started_at > yesterday"])
    with pytest.raises(QueryError, match="unknown run field 'runs.id;--'"):
        store.list_runs(order_by=["runs.id;--"])
    with pytest.raises(QueryError, match="FIELD, -FIELD"):
        store.list_runs(order_by=["name up down"])


def test_latest_metric_of_long_interleaved_histories(store) -> None:
    """The latest value of each key (the last logged) is what runs show and what filters and orderings compare,
    however the keys' points interleave; listings of more runs than one IN list holds are complete."""
    runs = [store.create_run(name=f"r{i}") for i in range(3)]
    for step in range(40):
        for i, run in enumerate(runs):
            store.log_metrics(run, {"loss": 100.0 - step - i, "acc": step / 100 + i}, step=step)
            if step % 10 == 0:
                store.log_metric(run, "rare", float(step + i))
    store.log_metric(runs[2], "loss", math.nan)  # the latest is NaN: stored as NULL on SQLite
    expected = {runs[i]: {"loss": 61.0 - i, "acc": 39 / 100 + i, "rare": 30.0 + i} for i in (0, 1)}
    found = {r.id: r.metrics for r in store.list_runs()}
    assert {k: found[k] for k in expected} == expected and math.isnan(found[runs[2]]["loss"])
    assert [r.name for r in store.list_runs(where=["metrics.loss < 61", "metrics.rare > 29"])] == ["r1"]
    assert [r.name for r in store.list_runs(order_by=["-metrics.acc"])] == ["r2", "r1", "r0"]
    assert store.metric_history(runs[0], "rare")[-1].value == 30.0 and len(store.metric_history(runs[0])) == 84

    many = [f"bulk-{i:04d}" for i in range(1_100)]  # more than one IN list of ids (_CHUNK = 500)
    store.db.executemany(
        "INSERT INTO runs (id, kind, status, started_at) VALUES (:id, 'run', 'succeeded', 1)", [{"id": i} for i in many]
    )
    store.db.executemany(
        "INSERT INTO metrics (run_id, key, value, \"timestamp\") VALUES (:id, 'k', :v, 1)",
        [{"id": i, "v": n} for n, i in enumerate(many)],
    )
    listed = store.list_runs(where=["metrics.k >= 0"], order_by=["metrics.k"])
    assert [r.id for r in listed] == many and all(r.metrics == {"k": n} for n, r in enumerate(listed))


def test_delete_run_and_what_it_owns(store) -> None:
    parent = store.create_run(name="sweep", kind="pipeline")
    child = store.create_run(name="trial", parent_run_id=parent)
    keep = store.create_run(name="other")
    store.log_metric(child, "acc", 1.0)
    store.log_params(child, {"lr": 1})
    store.record_step(parent, "s", "succeeded", outputs={"x": "e" * 64})
    shared = store.log_artifact(child, b"shared", "s.bin")[0].sha256
    only = store.log_artifact(parent, b"only mine", "o.bin")[0].sha256
    store.log_artifact(keep, b"shared", "s.bin")

    assert sorted(store.delete_run(parent)) == sorted([parent, child])
    assert [r.id for r in store.list_runs()] == [keep]
    assert store.metric_history(child) == [] and store.steps(parent) == []
    assert store.edges("run", parent) == [] and store.edges("value", "e" * 64) == []
    assert store.artifacts.exists(shared) and not store.artifacts.exists(only)
    with pytest.raises(Exception, match="no run"):
        store.get_run(parent)


def test_one_transaction_runs_plain_sql_and_core_statements(store) -> None:
    """SQLite (the raw sqlite3 path: Core compiled for it) and PostgreSQL: both kinds of statement in one
    transaction, committed together or rolled back together."""
    from nbmlops.store.models import runs, tags

    row = {"kind": "run", "status": "succeeded", "started_at": 1.0}

    def write(tx) -> list[dict]:
        tx.execute(
            "INSERT INTO runs (id, kind, status, started_at) VALUES (:id, :kind, :status, :started_at)",
            {"id": "plain", **row},
        )
        tx.execute(runs.insert().values(id="core", **row))
        tx.executemany(runs.insert(), [{"id": f"many{i}", **row} for i in range(3)])
        tx.executemany(tags.insert(), [{"run_id": "core", "key": k, "value": v} for k, v in (("a", "1"), ("b", "2"))])
        changed = tx.execute(runs.update().where(runs.c.id.in_(["plain", "core"])).values(name="both"))
        assert changed == 2
        return tx.all(sa.select(runs.c.id, runs.c.name).where(runs.c.name == "both").order_by(runs.c.id))

    assert store.db.transaction(write) == [{"id": "core", "name": "both"}, {"id": "plain", "name": "both"}]
    assert store.get_run("core").tags == {"a": "1", "b": "2"}
    assert store.db.execute(runs.delete().where(runs.c.id.in_([f"many{i}" for i in range(3)]))) == 3

    def fail(tx) -> None:
        tx.execute(runs.insert().values(id="doomed", **row))
        tx.execute("UPDATE runs SET name = 'changed' WHERE id = 'plain'")
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        store.db.transaction(fail)
    assert store.find_run("doomed") is None and store.get_run("plain").name == "both"


@pytest.mark.parametrize("on_conflict", ["native", "looked up"])
def test_upsert_updates_or_keeps_and_never_deletes(store, on_conflict: str) -> None:
    """Tx.upsert: ON CONFLICT on SQLite and PostgreSQL; elsewhere each row is looked up first (forced here by
    naming another dialect). Overwriting a run's row leaves the params that reference it (ON DELETE CASCADE)."""
    run = store.create_run(name="before", params={"lr": 0.1})

    def upsert(rows: list[dict], keys: tuple[str, ...], update: bool = True) -> None:
        def write(tx) -> None:
            if on_conflict == "looked up":
                tx.dialect = "otherdb"
            tx.upsert("runs" if "id" in keys else "tags", rows, keys, update=update)

        store.db.transaction(write)

    upsert([{"id": run, "name": "after", "kind": "run", "status": "running", "started_at": 1.0}], ("id",))
    info = store.get_run(run, check_stale=False)
    assert info.name == "after" and info.started_at == 1.0 and info.params == {"lr": 0.1}
    upsert(
        [{"id": run, "name": "ignored", "kind": "run", "status": "running", "started_at": 2.0}], ("id",), update=False
    )
    assert store.get_run(run, check_stale=False).name == "after"
    upsert([{"run_id": run, "key": "a", "value": "1"}, {"run_id": run, "key": "b", "value": "2"}], ("run_id", "key"))
    upsert([{"run_id": run, "key": "a", "value": "3"}, {"run_id": run, "key": "c", "value": "4"}], ("run_id", "key"))
    upsert([{"run_id": run, "key": "b", "value": "5"}], ("run_id", "key"), update=False)
    assert store.get_run(run, check_stale=False).tags == {"a": "3", "b": "2", "c": "4"}


def test_deleting_a_run_keeps_a_blob_a_monitoring_profile_names(store) -> None:
    run = store.create_run(name="r")
    sha = store.log_artifact(run, b"the same bytes as a stored reference profile", "p.bin")[0].sha256
    store.db.execute(
        "INSERT INTO monitor_references (model_name, model_version, sha256, size, rows, columns, "
        "created_at) VALUES ('churn', 1, :sha, 1, 1, '[]', 1)",
        {"sha": sha},
    )
    store.delete_run(run)
    assert store.artifacts.exists(sha)


def test_stale_runs_are_marked_failed(store) -> None:
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    gone = store.create_run(name="killed", pid=dead.pid)
    store.start_step(gone, "train")
    alive = store.create_run(name="alive")
    remote = store.create_run(name="remote")
    with store.db.engine.begin() as conn:  # a run on another host whose heartbeat stopped long ago
        conn.execute(
            sa.text("UPDATE runs SET host = 'elsewhere', heartbeat_at = :t WHERE id = :id"),
            {"t": time.time() - 3600, "id": remote},
        )

    assert sorted(store.mark_stale_runs(stale_after=60)) == sorted([gone, remote])
    info = store.get_run(gone)
    assert info.status == "failed" and f"process {dead.pid}" in info.error
    assert store.steps(gone)[0].status == "failed"
    assert store.get_run(remote).status == "failed" and "no heartbeat" in store.get_run(remote).error
    assert store.get_run(alive).status == "running"


def test_reads_load_no_sqlalchemy(tmp_path: Path) -> None:
    """`runs ls --filter`, `runs show` and `runs lineage` on an existing SQLite store: a fresh process runs the
    search, the run, its steps and its edges on sqlite3 alone."""
    home = tmp_path / ".nbmlops"
    with open_store(home) as store:
        for i in range(8):
            run = store.create_run(name=f"r{i}", kind="pipeline", params={f"p{k}": (i + k) % 4 for k in range(3)})
            store.log_metrics(run, {"m0": i / 5, "m1": (8 - i) / 8})
            store.record_step(run, "train", "succeeded", outputs={"model": f"{i:064d}"})
            store.finish_run(run)
    code = textwrap.dedent("""
        import json, sys
        from nbmlops.store import open_store
        store = open_store(sys.argv[1])
        found = store.list_runs(where=["metrics.m0 > 0.5", "params.p1 = 3"], order_by=["-metrics.m1"])
        run = store.get_run(found[0].id)
        out = {"found": [r.name for r in found], "steps": [s.name for s in store.steps(run.id)],
               "edges": [e.relation for e in store.edges("run", run.id)], "history": len(store.metric_history(run.id)),
               "stale": store.mark_stale_runs(), "loaded": sorted(m for m in sys.modules
                                                                if m.split(".")[0] in ("sqlalchemy", "alembic"))}
        print(json.dumps(out))
    """)
    done = subprocess.run([sys.executable, "-c", code, str(home)], capture_output=True, text=True, check=True)
    out = json.loads(done.stdout)
    assert out == {"found": ["r6"], "steps": ["train"], "edges": ["output"], "history": 2, "stale": [], "loaded": []}


# -- migrations ---------------------------------------------------------------------------------------------
def test_known_revisions_match_the_scripts() -> None:
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    config = Config()
    config.set_main_option("script_location", str(LOCATION))
    script = ScriptDirectory.from_config(config)
    assert script.get_current_head() == HEAD
    assert [r.revision for r in reversed(list(script.walk_revisions()))] == list(REVISIONS)


def test_models_match_migrations(db_url: str) -> None:
    """The schema the migrations build is exactly the tables the parts declare (registry, monitoring, ...)."""
    import importlib
    import pkgutil

    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    import nbmlops

    for part in pkgutil.iter_modules(nbmlops.__path__):
        if part.ispkg and importlib.util.find_spec(f"nbmlops.{part.name}.tables"):
            importlib.import_module(f"nbmlops.{part.name}.tables")

    database = dbmod.Database(db_url)
    with database.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn, opts={"version_table": VERSION_TABLE}), metadata)
    database.dispose()
    assert diff == []


def test_older_database_is_upgraded(db_url: str, home: Path) -> None:
    engine = dbmod.make_engine(db_url)
    dbmod.upgrade(engine, REVISIONS[0])
    with engine.begin() as conn:
        conn.execute(sa.text("INSERT INTO runs (id, kind, status, started_at) VALUES ('old', 'run', 'succeeded', 1)"))
        assert not sa.inspect(conn).has_table("artifacts")
    engine.dispose()

    with open_store(home, db_url=db_url) as store:
        assert store.get_run("old").status == "succeeded"
        store.log_artifact("old", b"new table works", "a.txt")
        with store.db.engine.connect() as conn:
            assert dbmod.stamped_revisions(conn) == {HEAD}


def test_newer_database_is_refused(db_url: str, home: Path) -> None:
    open_store(home, db_url=db_url).close()
    engine = dbmod.make_engine(db_url)
    with engine.begin() as conn:
        conn.execute(sa.text(f"UPDATE {VERSION_TABLE} SET version_num = '0099_from_the_future'"))
    engine.dispose()
    with pytest.raises(SchemaError, match="0099_from_the_future.*newer nbmlops"):
        open_store(home, db_url=db_url)


def test_open_at_head_skips_alembic(db_url: str, home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    open_store(home, db_url=db_url).close()

    def no_migrations(*_args: object, **_kw: object) -> None:
        raise AssertionError("Alembic ran on an up-to-date database")

    monkeypatch.setattr(dbmod, "upgrade", no_migrations)
    open_store(home, db_url=db_url).close()


def test_foreign_tables_are_not_taken_over(tmp_path: Path, home: Path) -> None:
    url = f"sqlite:///{tmp_path / 'other.db'}"
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE runs (x INTEGER)")
    engine.dispose()
    with pytest.raises(SchemaError, match="not an nbmlops store"):
        open_store(home, db_url=url)


# -- artifacts ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("kind", ["path", "file-uri"])
def test_artifacts_are_stored_once(tmp_path: Path, kind: str) -> None:
    root = tmp_path / "blobs"
    store = ArtifactStore(root if kind == "path" else root.as_uri())
    assert store.is_local == (kind == "path")
    first = store.put_bytes(b"same bytes")
    second = store.put_bytes(b"same bytes")
    (tmp_path / "f.bin").write_bytes(b"same bytes")
    third = store.put_file(tmp_path / "f.bin")
    assert first.created and not second.created and not third.created
    assert first.sha256 == second.sha256 == third.sha256
    files = [p for p in root.rglob("*") if p.is_file()]
    assert files == [root / first.sha256[:2] / first.sha256]
    assert store.get_bytes(first.sha256) == b"same bytes" and store.verify(first.sha256)
    assert store.local_path(first.sha256, tmp_path / "cache").read_bytes() == b"same bytes"
    files[0].write_bytes(b"tampered")
    assert not store.verify(first.sha256)
    assert store.delete(first.sha256) and not store.exists(first.sha256)


def test_store_uses_configured_artifact_root(home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NBMLOPS_ARTIFACT_ROOT", (tmp_path / "remote").as_uri())
    with open_store(home) as store:
        run = store.create_run()
        info = store.log_artifact(run, b"x", "x.txt")[0]
        assert info.path.startswith("file://") and (tmp_path / "remote" / info.sha256[:2] / info.sha256).is_file()


# -- config -------------------------------------------------------------------------------------------------
def test_config_defaults_toml_and_env(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    settings = load_settings()
    assert settings.home == home.resolve()
    assert settings.db_url == f"sqlite:///{home.resolve() / 'nbmlops.db'}"
    assert settings.artifact_root == str(home.resolve() / "artifacts") and settings.ray_address is None

    (home.parent / "nbmlops.toml").write_text(
        'db_url = "sqlite:////tmp/project.db"\nartifact_root = "blobs"\nray_address = "ray://head:10001"\n'
    )
    (home / "nbmlops.toml").write_text('[nbmlops]\ndb_url = "sqlite:////tmp/home.db"\n')
    settings = load_settings()
    assert settings.db_url == "sqlite:////tmp/home.db"  # the home's own file wins over the project's
    assert settings.artifact_root == str(home.parent.resolve() / "blobs")  # relative to the project
    assert settings.ray_address == "ray://head:10001"

    monkeypatch.setenv("NBMLOPS_DB_URL", "postgresql+psycopg://u@h/db")
    monkeypatch.setenv("NBMLOPS_RAY_ADDRESS", "auto")
    settings = load_settings()
    assert settings.db_url == "postgresql+psycopg://u@h/db" and settings.ray_address == "auto"


def test_bad_config_names_file_and_key(home: Path) -> None:
    path = home.parent / "nbmlops.toml"
    path.write_text("db_url = \n")
    with pytest.raises(ConfigError, match=f"{path}: not valid TOML"):
        load_settings()
    path.write_text('db_ur1 = "sqlite://"\n')
    with pytest.raises(ConfigError, match="nbmlops.toml: unknown key 'db_ur1'"):
        load_settings()
    path.write_text("artifact_root = 3\n")
    with pytest.raises(ConfigError, match="'artifact_root' must be a string"):
        load_settings()


def test_project_home_found_upward(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from nbmlops.store import project_home

    monkeypatch.delenv("NBMLOPS_HOME")
    (tmp_path / ".nbmlops").mkdir()
    (tmp_path / "a" / "b").mkdir(parents=True)
    monkeypatch.chdir(tmp_path / "a" / "b")
    assert project_home() == (tmp_path / ".nbmlops").resolve()
    assert load_settings().db_url == f"sqlite:///{(tmp_path / '.nbmlops').resolve() / 'nbmlops.db'}"


def test_in_memory_sqlite(home: Path) -> None:
    with open_store(home, db_url="sqlite://") as store:
        run = store.create_run()
        store.log_metric(run, "a", 1.0)
        store.log_metrics(run, {"b": 2.0})
        assert store.get_run(run).metrics == {"a": 1.0, "b": 2.0}


def test_new_sqlite_store_made_from_the_saved_schema(
    tmp_path: Path, home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The first store is made by Alembic and its DDL saved (per user); later new stores are made from it with
    sqlite3 alone, identical to what Alembic makes."""
    monkeypatch.setenv("NBMLOPS_CACHE_DIR", str(tmp_path / "cache"))
    first = tmp_path / "first.db"
    open_store(home, db_url=f"sqlite:///{first}").close()
    assert dbmod.schema_cache_path().is_file()
    second = tmp_path / "second" / "nbmlops.db"
    code = (
        "import sys; from nbmlops.store import open_store; "
        f"s = open_store(sys.argv[1], db_url='sqlite:///{second}'); r = s.create_run(); s.log_metric(r, 'a', 1.0); "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('sqlalchemy', 'alembic')))"
    )
    out = subprocess.run([sys.executable, "-c", code, str(home)], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"

    def schema(path: Path) -> list[tuple[str, ...]]:
        import sqlite3

        with sqlite3.connect(path) as conn:
            return [
                *conn.execute("SELECT type, name, tbl_name, sql FROM sqlite_master ORDER BY name"),
                *conn.execute(f"SELECT version_num FROM {VERSION_TABLE}"),
            ]

    assert schema(second) == schema(first)
    with open_store(home, db_url=f"sqlite:///{second}") as store:
        assert len(store.list_runs()) == 1


def test_new_stores_made_at_once_by_several_processes_are_one_store(
    tmp_path: Path, home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A new store is copied from a per-user template; processes racing to make the same new store end up
    with one store holding all their runs, and a damaged template is replaced, never copied."""
    monkeypatch.setenv("NBMLOPS_CACHE_DIR", str(tmp_path / "cache"))
    open_store(home, db_url=f"sqlite:///{tmp_path / 'first.db'}").close()  # Alembic: saves the schema
    template = dbmod.schema_cache_path().with_suffix(".db")
    target = tmp_path / "shared" / "nbmlops.db"
    code = (
        f"import sys; from nbmlops.store import open_store; s = open_store(sys.argv[1], "
        f"db_url='sqlite:///{target}'); s.create_run(name=sys.argv[2])"
    )
    env = {**os.environ, "NBMLOPS_CACHE_DIR": str(tmp_path / "cache")}
    procs = [subprocess.Popen([sys.executable, "-c", code, str(home), f"r{i}"], env=env) for i in range(4)]
    assert [p.wait(timeout=120) for p in procs] == [0, 0, 0, 0]
    assert template.is_file()
    with open_store(home, db_url=f"sqlite:///{target}") as store:
        assert sorted(r.name for r in store.list_runs()) == ["r0", "r1", "r2", "r3"]

    template.write_bytes(b"not a database")
    damaged = tmp_path / "after_damage" / "nbmlops.db"
    with open_store(home, db_url=f"sqlite:///{damaged}") as store:
        store.create_run(name="ok")
        assert [r.name for r in store.list_runs()] == ["ok"]
    assert not template.exists() or template.read_bytes() != b"not a database"
