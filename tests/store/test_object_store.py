"""An artifact root on S3: a real S3 API server (moto's standalone server, started here on a free port of
127.0.0.1) reached through pyarrow's S3 filesystem. Blobs with their hash checks, a model registered by one
process and loaded by another, offline features, and the step cache shared by two "machines" (separate
project homes, other working folders) that have only the bucket and the database in common."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

pytest.importorskip("moto")
pafs = pytest.importorskip("pyarrow.fs")

from nbmlops.store.artifacts import ArtifactStore  # noqa: E402


def objects(url: str) -> list[str]:
    fs, base = pafs.FileSystem.from_uri(url)
    infos = fs.get_file_info(pafs.FileSelector(base, recursive=True, allow_not_found=True))
    return sorted(info.path[len(base) + 1 :] for info in infos if info.type == pafs.FileType.File)


def python(code: str, *, home: Path, env: dict[str, str], cwd: Path | None = None) -> str:
    """Run code in a new process (another "machine": its own project home), return its stdout."""
    home.parent.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=cwd or home.parent,
        env={**os.environ, **env, "NBMLOPS_HOME": str(home)},
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


@pytest.fixture
def bucket(s3_bucket: str) -> str:
    return s3_bucket


def test_blobs_round_trip_with_their_hash_checks(bucket: str) -> None:
    store = ArtifactStore(bucket)
    blob = store.put_bytes(b"weights")
    assert blob.created and not store.put_bytes(b"weights").created  # content-addressed: stored once
    assert store.get_bytes(blob.sha256) == b"weights" and store.verify(blob.sha256)
    assert objects(bucket) == [f"{blob.sha256[:2]}/{blob.sha256}"]
    assert ArtifactStore(blob.uri.replace(f"/{blob.sha256[:2]}/{blob.sha256}", "")).exists(blob.sha256)  # reopens
    store.files.write_bytes(f"{blob.sha256[:2]}/{blob.sha256}", b"tampered")
    assert not store.verify(blob.sha256)


@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
def test_a_model_registered_by_one_process_loads_in_another(
    bucket: str, db_url: str, tmp_path: Path, s3_credentials: dict[str, str]
) -> None:
    env = {"NBMLOPS_DB_URL": db_url, "NBMLOPS_ARTIFACT_ROOT": bucket, **s3_credentials}
    python(
        """
        import numpy as np, pandas as pd
        from sklearn.linear_model import LogisticRegression
        import nbmlops
        X = pd.DataFrame({"a": np.arange(40.0), "b": np.arange(40.0) % 3})
        model = LogisticRegression().fit(X, (X.a > 20).astype(int))
        nbmlops.register_model(model, "churn", input_example=X.head(), reference_data=X, aliases=["production"])
        """,
        home=tmp_path / "one" / ".nbmlops",
        env=env,
    )
    out = python(
        """
        import numpy as np, pandas as pd
        import nbmlops
        model = nbmlops.load_model("churn@production")
        print(model.predict(pd.DataFrame({"a": [1.0, 39.0], "b": [0.0, 1.0]})).tolist())
        """,
        home=tmp_path / "two" / ".nbmlops",
        env=env,
    )
    assert out.strip() == "[0, 1]"
    for home in ("one", "two"):  # nothing went to either machine's own artifact folder
        assert not any((tmp_path / home / ".nbmlops" / "artifacts").rglob("*"))
    from nbmlops.store import open_store

    store = open_store(tmp_path / "three" / ".nbmlops", db_url=db_url, artifact_root=bucket)
    rows = store.db.query("SELECT artifact_sha256, reference_sha256 FROM model_versions")
    (row,) = rows
    stored = set(objects(bucket))
    assert {f"{sha[:2]}/{sha}" for sha in row.values()} <= stored  # the model and its reference profile
    store.artifacts.files.write_bytes(f"{row['artifact_sha256'][:2]}/{row['artifact_sha256']}", b"not a model")
    failed = subprocess.run(
        [sys.executable, "-c", "import nbmlops; nbmlops.load_model('churn')"],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, **env, "NBMLOPS_HOME": str(tmp_path / "two" / ".nbmlops")},
    )
    assert failed.returncode != 0 and "sha256" in failed.stderr  # the hash check still guards the load


def test_offline_features_live_in_the_bucket(bucket: str, tmp_path: Path, s3_credentials: dict[str, str]) -> None:
    env = {"NBMLOPS_DB_URL": f"sqlite:///{tmp_path / 'shared.db'}", **s3_credentials}
    python(
        """
        import pandas as pd
        from nbmlops.features import FeatureSet
        ts = pd.Timestamp("2024-01-01", tz="UTC")
        df = pd.DataFrame({"customer_id": [1, 2, 1], "ts": [ts, ts, ts + pd.Timedelta("1h")],
                           "amount": [5.0, 7.0, 9.0]})
        FeatureSet("tx", entities=["customer_id"], timestamp="ts", features=["amount"]).ingest(df)
        """,
        home=tmp_path / "one" / ".nbmlops",
        env=env,
    )
    out = python(
        """
        import pandas as pd
        from nbmlops.features import FeatureVector, get_offline_features
        ts = pd.Timestamp("2024-01-01 02:00", tz="UTC")
        rows = get_offline_features(FeatureVector("v", ["tx.amount"]),
                                    pd.DataFrame({"customer_id": [1, 2], "ts": [ts, ts]}), timestamp_column="ts")
        print(rows["amount"].tolist())
        """,
        home=tmp_path / "two" / ".nbmlops",
        env=env,
    )
    assert out.strip().splitlines()[-1] == "[9.0, 7.0]"
    assert any(name.endswith(".parquet") for name in objects(bucket))
    assert not (tmp_path / "one" / ".nbmlops" / "artifacts").exists()


PIPELINE = [
    ("import pandas as pd\nimport nbmlops", ["setup"]),
    ("C = 0.5", ["parameters"]),
    ("frame = pd.DataFrame({'a': range(50)})\nprint('made')", ["step:load"]),
    ("total = float(frame.a.sum() * C)\nnbmlops.log_metric('total', total)", ["step:score"]),
]


@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
def test_the_step_cache_is_shared_through_the_bucket(
    bucket: str, db_url: str, tmp_path: Path, notebook_json_of, s3_credentials: dict[str, str]
) -> None:
    env = {"NBMLOPS_DB_URL": db_url, "NBMLOPS_ARTIFACT_ROOT": bucket, **s3_credentials}
    run = """
        import json
        from nbmlops.pipeline import compile_notebook
        from nbmlops.runners import run_pipeline
        result = run_pipeline(compile_notebook("nb.ipynb"), ["C=0.5"])
        print(json.dumps({"run_id": result.run_id, "steps": result.steps}))
        """
    results = []
    for machine in ("one", "two"):
        folder = tmp_path / machine
        folder.mkdir()
        (folder / "nb.ipynb").write_text(json.dumps(notebook_json_of(PIPELINE)))
        results.append(json.loads(python(run, home=folder / ".nbmlops", env=env, cwd=folder).splitlines()[-1]))
    first, second = results
    assert not any(s.get("cached") for s in first["steps"].values())
    assert all(s.get("cached") for s in second["steps"].values())  # every step from the other machine's run
    assert {n: s["outputs"] for n, s in first["steps"].items()} == {n: s["outputs"] for n, s in second["steps"].items()}
    assert second["steps"]["score"]["records_from"] == {"run_id": first["run_id"], "step": "score"}
    from nbmlops.runners import RunDir, load_value
    from nbmlops.store import open_store

    run_dir = RunDir(tmp_path / "two" / ".nbmlops" / "runs" / second["run_id"])
    frame = load_value(run_dir.stored_outputs("load")["frame"], run_dir.outputs_dir("load"))
    assert frame["a"].sum() == 1225  # the value came down from the bucket, hash checked
    store = open_store(tmp_path / "three" / ".nbmlops", db_url=db_url, artifact_root=bucket)
    assert store.get_run(second["run_id"]).metrics == {"total": 612.5}  # the records came with the hit
    assert any(name.startswith("cache/steps/") for name in objects(bucket))
