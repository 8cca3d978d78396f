"""The model registry against SQLite and a real PostgreSQL (NBMLOPS_TEST_PG_URL, started by .ci/postgres.sh)."""

from __future__ import annotations

import hashlib
import pickle
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression

from nbmlops.registry import (
    ModelIntegrityError,
    RegistryError,
    delete_alias,
    delete_model,
    delete_model_tag,
    delete_model_version,
    get_model_version,
    list_model_versions,
    list_models,
    load_model,
    load_reference_data,
    model_lineage,
    parse_uri,
    register_model,
    set_alias,
    set_model_tag,
)
from nbmlops.store import open_store
from nbmlops.tracking import attach, start_run


@pytest.fixture(scope="module")
def data() -> tuple[pd.DataFrame, pd.Series]:
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(
        {
            "tenure": rng.integers(0, 72, 500),
            "charges": rng.normal(70, 20, 500),
            "plan": rng.choice(["basic", "plus", "pro"], 500, p=[0.6, 0.3, 0.1]),
        }
    )
    frame.loc[:9, "charges"] = np.nan
    target = (frame["tenure"] < 12).astype(int)
    return frame, target


def fit(frame: pd.DataFrame, target: pd.Series, c: float = 1.0) -> LogisticRegression:
    return LogisticRegression(C=c, max_iter=500).fit(frame[["tenure"]], target)


def test_round_trip_signature_profile_metrics(store, data) -> None:
    frame, target = data
    clf = fit(frame, target)
    with start_run("train", params={"C": 1.0, "solver": "lbfgs"}, store=store) as run:
        run.log_metric("auc", 0.5)
        run.log_metric("auc", 0.81)
        version = register_model(
            clf,
            "churn",
            run=run,
            metrics={"f1": 0.7},
            params={"C": 2.0},
            input_example=frame.head(3),
            reference_data=frame,
            tags={"team": "ml"},
            description="first try",
            store=store,
        )
    assert version.version == 1 and version.uri == "churn:1" and version.format == "joblib"
    assert version.model_type == "sklearn.linear_model._logistic.LogisticRegression"

    got = get_model_version("churn", store=store)
    assert got.run_id == run.id and got.description == "first try" and got.tags == {"team": "ml"}
    assert got.metrics == {"auc": 0.81, "f1": 0.7}  # the run's latest metrics, then the explicit ones
    assert got.params == {"C": 2.0, "solver": "lbfgs"}
    assert got.signature == {
        "type": "dataframe",
        "columns": [
            {"name": "tenure", "dtype": "int64"},
            {"name": "charges", "dtype": "float64"},
            {"name": "plan", "dtype": str(frame["plan"].dtype)},
        ],
    }
    assert got.input_example["columns"] == ["tenure", "charges", "plan"] and len(got.input_example["data"]) == 3
    assert got.artifact_sha256 == hashlib.sha256(store.artifacts.get_bytes(got.artifact_sha256)).hexdigest()

    profile = got.profile
    assert profile["rows"] == 500 and list(profile["columns"]) == ["tenure", "charges", "plan"]
    charges = profile["columns"]["charges"]
    assert charges["kind"] == "numeric" and charges["nulls"] == 10 and charges["count"] == 490
    assert charges["mean"] == pytest.approx(frame["charges"].mean())
    assert charges["std"] == pytest.approx(frame["charges"].std())
    assert charges["min"] == pytest.approx(frame["charges"].min())
    assert charges["quantiles"]["0.5"] == pytest.approx(frame["charges"].median())
    assert len(charges["histogram"]["edges"]) == 21 and sum(charges["histogram"]["counts"]) == 490
    plan = profile["columns"]["plan"]
    assert plan["kind"] == "categorical" and plan["distinct"] == 3 and list(plan["top"])[0] == "basic"
    assert sum(plan["top"].values()) == 500 and plan["other"] == 0

    loaded = load_model("churn:1", store=store)
    assert type(loaded) is LogisticRegression
    np.testing.assert_array_equal(loaded.predict_proba(frame[["tenure"]]), clf.predict_proba(frame[["tenure"]]))
    pd.testing.assert_frame_equal(load_reference_data("churn", store=store), frame)

    [listed] = list_models(store=store)
    assert (listed.name, listed.latest_version, listed.versions) == ("churn", 1, 1)
    [short] = list_model_versions("churn", store=store)
    assert short.profile is None and short.metrics == got.metrics  # listings leave the profile out


def test_load_by_each_uri_form(store, data) -> None:
    frame, target = data
    for c in (0.1, 1.0, 10.0):
        register_model(fit(frame, target, c), "churn", store=store)
    set_alias("churn", "production", 2, store=store)
    assert load_model("churn", store=store).C == 10.0  # the latest
    assert load_model("churn:1", store=store).C == 0.1
    assert load_model("churn@production", store=store).C == 1.0
    assert load_model("churn@latest", store=store).C == 10.0
    assert load_model("models:/churn/1", store=store).C == 0.1  # MLflow's spelling
    with pytest.raises(RegistryError, match="holds spaces"):  # one URI rule: nothing is trimmed
        load_model(" churn:3 ", store=store)


def test_aliases_move_and_go_with_their_version(store, data) -> None:
    frame, target = data
    for _ in range(3):
        register_model(fit(frame, target), "churn", store=store)
    assert set_alias("churn", "production", 1, store=store) is None
    assert set_alias("churn", "staging", "3", store=store) is None
    assert set_alias("churn", "production", 2, store=store) == 1  # moved: one version per alias
    assert get_model_version("churn@production", store=store).version == 2
    assert get_model_version("churn:2", store=store).aliases == ["production"]
    assert get_model_version("churn:1", store=store).aliases == []
    assert list_models(store=store)[0].aliases == {"production": 2, "staging": 3}

    assert delete_alias("churn", "staging", store=store) == 3
    with pytest.raises(RegistryError, match="no alias 'staging'.*production→2"):
        load_model("churn@staging", store=store)

    delete_model_version("churn:2", store=store)  # its alias goes with it
    with pytest.raises(RegistryError, match="no alias 'production'"):
        get_model_version("churn@production", store=store)
    with pytest.raises(RegistryError, match="'latest' is a reserved alias"):
        set_alias("churn", "latest", 1, store=store)
    with pytest.raises(RegistryError, match="no version 2 .*versions: 1, 3"):
        set_alias("churn", "production", 2, store=store)


def test_aliases_given_at_registration(store, data) -> None:
    frame, target = data
    register_model(fit(frame, target), "churn", aliases=["staging"], store=store)
    v2 = register_model(fit(frame, target), "churn", aliases="staging", store=store)
    assert v2.aliases == ["staging"] and get_model_version("churn@staging", store=store).version == 2


@pytest.mark.parametrize(
    ("uri", "message"),
    [
        ("", "empty model URI"),
        ("churn:", "is not a model version"),
        ("churn:abc", "'abc' in 'churn:abc' is not a model version"),
        ("churn:0", "start at 1"),
        ("churn@", "empty alias"),
        ("churn@3", "not a valid alias"),
        (":3", "not a valid model name"),
        ("ch urn", "not a valid model name or URI: it holds spaces"),
        ("churn:1@prod", "both a version and an alias"),
    ],
)
def test_malformed_uris(uri: str, message: str) -> None:
    with pytest.raises(RegistryError, match=message):
        parse_uri(uri)


def test_unknown_model_version_alias(store, data) -> None:
    frame, target = data
    with pytest.raises(RegistryError, match=r"no model 'churn' in the registry .*models: none"):
        load_model("churn", store=store)
    register_model(fit(frame, target), "churn", store=store)
    register_model(fit(frame, target), "other", store=store)
    with pytest.raises(RegistryError, match=r"no model 'churm' .*models: churn, other"):
        get_model_version("churm", store=store)
    with pytest.raises(RegistryError, match=r"model 'churn' has no version 7 \(versions: 1\)"):
        load_model("churn:7", store=store)
    with pytest.raises(RegistryError, match=r"model 'churn' has no alias 'production' \(aliases: none\)"):
        load_model("churn@production", store=store)
    with pytest.raises(RegistryError, match="not a valid model name"):
        register_model(fit(frame, target), "bad/name", store=store)
    with pytest.raises(RegistryError, match="input_example must be a pandas DataFrame"):
        register_model(fit(frame, target), "churn", input_example="not data", store=store)


class _Boom:
    """Unpickling this writes a marker file: proof of whether the bytes were ever unpickled."""

    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self):  # noqa: ANN204
        return (Path(self.marker).write_text, ("unpickled",))


def test_tampered_artifact_is_refused(store, data, tmp_path: Path) -> None:
    frame, target = data
    version = register_model(fit(frame, target), "churn", store=store)
    blob = Path(store.artifacts.uri(version.artifact_sha256))
    marker = tmp_path / "unpickled.txt"
    blob.write_bytes(pickle.dumps(_Boom(str(marker))))  # a swapped-in, "malicious" pickle

    with pytest.raises(
        ModelIntegrityError,
        match=r"model churn:1: .* has sha256 [0-9a-f]{64}, but the registry "
        r"recorded .*refused",
    ):
        load_model("churn", store=store)
    assert not marker.exists()  # refused before unpickling

    blob.unlink()
    with pytest.raises(ModelIntegrityError, match="missing"):
        load_model("churn:1", store=store)


def test_truncated_artifact_is_refused(store, data) -> None:
    frame, target = data
    version = register_model(fit(frame, target), "churn", reference_data=frame, store=store)
    blob = Path(store.artifacts.uri(version.artifact_sha256))
    blob.write_bytes(blob.read_bytes()[:-10])
    with pytest.raises(ModelIntegrityError):
        load_model("churn", store=store)
    ref = Path(store.artifacts.uri(version.reference_sha256))
    ref.write_bytes(ref.read_bytes() + b"x")
    with pytest.raises(ModelIntegrityError, match="reference data of model churn:1"):
        load_reference_data("churn", store=store)


WORKER = textwrap.dedent("""
    import sys, time
    from pathlib import Path
    from nbmlops.registry import register_model
    from nbmlops.store import open_store

    home, url, go, count = sys.argv[1], sys.argv[2], Path(sys.argv[3]), int(sys.argv[4])
    store = open_store(home, db_url=url)
    while not go.exists():  # start together
        time.sleep(0.001)
    for i in range(count):
        print(register_model({"worker": sys.argv[5], "i": i}, "churn", store=store).version, flush=True)
""")


def test_concurrent_registration_gives_distinct_versions(store, db_url: str, home: Path, tmp_path: Path) -> None:
    go = tmp_path / "go"
    workers, each = 4, 3
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", WORKER, str(home), db_url, str(go), str(each), str(n)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for n in range(workers)
    ]
    go.write_text("go")
    versions = []
    for proc in procs:
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
        versions += [int(line) for line in out.split()]
    assert sorted(versions) == list(range(1, workers * each + 1))
    registered = list_model_versions("churn", store=store)
    assert sorted(v.version for v in registered) == list(range(1, workers * each + 1))
    assert {(load_model(v.uri, store=store)["worker"], load_model(v.uri, store=store)["i"]) for v in registered} == {
        (str(w), i) for w in range(workers) for i in range(each)
    }


def test_lineage_to_run_notebook_commit_and_data(store, data, tmp_path: Path) -> None:
    from nbmlops.runners.marshal import save_value

    frame, target = data
    notebook = tmp_path / "train.ipynb"
    notebook.write_text("{}")
    with start_run("train", store=store, notebook_path=notebook, git_commit="c0ffee", git_dirty=False) as run:
        version = register_model(fit(frame, target), "churn", reference_data=frame, store=store)  # active run
    info = store.get_run(run.id)
    assert version.run_id == run.id and version.notebook_sha256 == info.notebook_sha256 is not None
    edges = {(e.to_kind, e.relation): e for e in model_lineage("churn:1", store=store)}
    assert edges[("run", "run")].to_id == run.id
    assert edges[("notebook", "code")].to_id == info.notebook_sha256
    assert edges[("notebook", "code")].name == str(notebook)
    assert edges[("commit", "commit")].to_id == "c0ffee"
    assert edges[("artifact", "artifact")].to_id == version.artifact_sha256
    data_edge = edges[("value", "data")]
    assert data_edge.to_id == version.data_sha256 and data_edge.name == "reference_data"
    # the same hash a pipeline gives the same DataFrame passed between steps
    assert save_value("X", frame, tmp_path / "values").sha256 == version.data_sha256
    incoming = store.edges("run", run.id, "in")
    assert any(e.from_kind == "model_version" and e.from_id == "churn:1" for e in incoming)


def test_pipeline_step_is_the_default_run(store, data) -> None:
    frame, target = data
    run_id = store.create_run(name="pipe", kind="pipeline", notebook_sha256="b" * 64, notebook_path="nb.ipynb")
    with attach(run_id, "train", store=store, set_env=False):
        version = register_model(fit(frame, target), "churn", input_example=frame.head(), store=store)
    assert version.run_id == run_id and version.notebook_sha256 == "b" * 64
    edges = {e.to_kind: e for e in model_lineage("churn", store=store)}
    assert edges["run"].step_name == "train"
    assert edges["value"].name == "input_example"  # no reference data: the example is the data hash
    assert version.profile is None and get_model_version("churn", store=store).reference_sha256 is None
    with pytest.raises(RegistryError, match="without reference_data"):
        load_reference_data("churn", store=store)


def test_no_run_no_run_edges(store, data) -> None:
    frame, target = data
    version = register_model(fit(frame, target), "churn", store=store)
    assert version.run_id is None and version.metrics == {} and version.signature is None
    assert [e.to_kind for e in model_lineage("churn", store=store)] == ["artifact"]


def test_arrays_and_plain_python_models(store) -> None:
    x = np.arange(12, dtype=np.float32).reshape(4, 3)

    def notebook_model(rows):  # a plain function from a notebook: cloudpickled by value
        return rows.sum(axis=1) * 2

    version = register_model(notebook_model, "summer", input_example=x, reference_data=x, store=store)
    assert version.format == "pickle"
    assert version.signature == {"type": "ndarray", "dtype": "float32", "shape": [-1, 3]}
    assert version.reference_format == "npy" and list(version.profile["columns"]) == ["0", "1", "2"]
    assert version.profile["columns"]["1"]["mean"] == pytest.approx(x[:, 1].mean())
    np.testing.assert_array_equal(load_model("summer", store=store)(x), x.sum(axis=1) * 2)
    np.testing.assert_array_equal(load_reference_data("summer", store=store), x)


def test_profile_of_datetimes_bools_and_empty_columns(store) -> None:
    frame = pd.DataFrame(
        {
            "when": pd.date_range("2024-01-01", periods=4, freq="D"),
            "flag": [True, False, True, None],
            "empty": [np.nan] * 4,
            "inf": [1.0, np.inf, 2.0, 3.0],
        }
    )
    profile = register_model({"m": 1}, "p", reference_data=frame, store=store).profile["columns"]
    assert profile["when"]["kind"] == "datetime" and profile["when"]["min"].startswith("2024-01-01")
    assert profile["flag"]["kind"] == "categorical" and profile["flag"]["nulls"] == 1
    assert profile["empty"]["kind"] == "numeric" and profile["empty"]["mean"] is None
    assert profile["inf"]["infinite"] == 1 and profile["inf"]["max"] == 3.0


def test_tags(store, data) -> None:
    frame, target = data
    register_model(fit(frame, target), "churn", tags={"a": 1}, store=store)
    register_model(fit(frame, target), "churn", store=store)
    assert set_model_tag("churn:1", "validated", True, store=store).tags == {"a": "1", "validated": "True"}
    set_model_tag("churn", "note", "latest gets it", store=store)
    assert get_model_version("churn:2", store=store).tags == {"note": "latest gets it"}
    assert delete_model_tag("churn:1", "a", store=store).tags == {"validated": "True"}
    with pytest.raises(RegistryError, match="has no tag 'a'"):
        delete_model_tag("churn:1", "a", store=store)


def test_delete_versions_and_models(store, data) -> None:
    frame, target = data
    same = fit(frame, target)
    v1 = register_model(same, "churn", reference_data=frame, store=store)
    register_model(same, "churn", store=store)  # identical bytes: one blob, two versions
    v3 = register_model(fit(frame, target, 0.01), "churn", store=store)
    with pytest.raises(RegistryError, match="say which version"):
        delete_model_version("churn", store=store)

    assert delete_model_version("churn:1", store=store) == 1
    assert store.artifacts.exists(v1.artifact_sha256)  # still used by version 2
    assert not store.artifacts.exists(v1.reference_sha256)
    assert model_lineage("churn:2", store=store)  # the other versions' edges stay
    assert store.edges("model_version", "churn:1", "out") == []

    assert delete_model_version("churn:3", store=store) == 3
    assert not store.artifacts.exists(v3.artifact_sha256)
    assert register_model(same, "churn", store=store).version == 4  # numbers are never reused

    assert delete_model("churn", store=store) == [2, 4]
    assert not store.artifacts.exists(v1.artifact_sha256)
    assert list_models(store=store) == []
    with pytest.raises(RegistryError, match="no model 'churn'"):
        delete_model("churn", store=store)
    assert register_model(same, "churn", store=store).version == 1  # a new model of the same name


@pytest.fixture
def dependents(monkeypatch: pytest.MonkeyPatch):
    """nbmlops.registry.dependents with its callbacks as they are; callbacks a test adds go with the test."""
    from nbmlops.registry import dependents as module

    module.callbacks()  # the packages' own callbacks first (monitoring's)
    monkeypatch.setattr(module, "_callbacks", list(module._callbacks))
    return module


def test_dependents_delete_in_the_deleting_transaction(store, data, dependents) -> None:
    """A callback sees the version already gone (same transaction, uncommitted), the blobs it returns go when
    nothing else names them, and a callback that fails rolls the whole delete back."""
    frame, target = data
    register_model(fit(frame, target), "churn", store=store)
    v2 = register_model(fit(frame, target, 0.01), "churn", store=store)
    own = store.artifacts.put_bytes(b"a blob only the dependent's rows named").sha256
    shared = store.artifacts.put_bytes(b"a blob a run uses too").sha256
    store.log_artifact(store.create_run(name="r"), b"a blob a run uses too", "x.bin")
    seen = []

    @dependents.on_model_deleted
    def record(tx, name: str, version: int | None) -> set[str]:
        left = tx.all("SELECT version FROM model_versions WHERE name = :name", {"name": name})
        seen.append((name, version, sorted(r["version"] for r in left)))
        return {own, shared}

    dependents.on_model_deleted(record)  # registered twice, run once
    assert delete_model_version("churn:1", store=store) == 1
    assert seen == [("churn", 1, [2])]
    assert not store.artifacts.exists(own) and store.artifacts.exists(shared)

    @dependents.on_model_deleted
    def refuse(tx, name: str, version: int | None) -> set[str]:
        raise RuntimeError("monitoring could not delete its rows")

    with pytest.raises(RuntimeError, match="could not delete"):
        delete_model("churn", store=store)
    assert seen[-1] == ("churn", None, [])  # ran, saw every version gone, then the delete was rolled back
    assert [v.version for v in list_model_versions("churn", store=store)] == [2]
    assert load_model("churn:2", store=store).C == 0.01 and model_lineage("churn:2", store=store)
    assert store.artifacts.exists(v2.artifact_sha256)


def test_blob_shared_with_a_run_artifact_is_kept(store, data) -> None:
    frame, target = data
    version = register_model(fit(frame, target), "churn", store=store)
    run = store.create_run(name="r")
    store.log_artifact(run, store.artifacts.get_bytes(version.artifact_sha256), "model.joblib")
    delete_model("churn", store=store)
    assert store.artifacts.exists(version.artifact_sha256)


def test_default_store_is_the_project_home(home: Path, data) -> None:
    frame, target = data
    register_model(fit(frame, target), "churn")
    assert load_model("churn").C == 1.0
    assert (home / "nbmlops.db").exists()


def test_deleting_a_run_keeps_blobs_a_model_version_uses(home: Path) -> None:
    """A run that logged the very bytes of a registered model: removing the run must not break the model."""
    import nbmlops

    model = {"weights": [1, 2, 3]}
    with nbmlops.start_run("train", capture=False) as run:
        version = nbmlops.register_model(model, "shared", run=run)
    store = open_store(home)
    same_bytes = store.artifacts.get_bytes(version.artifact_sha256)
    with nbmlops.start_run("other", capture=False) as other:
        nbmlops.log_artifact(same_bytes, "copy.pkl")
    store.delete_run(other.id)
    assert nbmlops.load_model(f"shared:{version.version}") == model
