"""The feature catalog lives in the metadata database (SQLite and PostgreSQL): versions and the current pointer
survive processes racing on one set, and a JSON catalog from before migration 0007 is imported once."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
from features_helpers import entity_rows, make_store, transactions, write_json_catalog

from nbmlops.features import FeatureError, FeatureSet, FeatureStore, FeatureVector, describe

ROUNDS = 6
ROWS = 20


@pytest.fixture
def shared_db(db_url: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """Every store of the test (and its subprocesses) on one database: SQLite, or a PostgreSQL schema."""
    monkeypatch.setenv("NBMLOPS_DB_URL", db_url)
    return db_url


def _start(script: str, tmp_path: Path, *args: str, n: int = 2) -> list[dict]:
    """Run n copies of script at once (each waits for the others to be ready); their JSON outputs."""
    go = tmp_path / "go"
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", script, str(i), str(tmp_path), *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=tmp_path,
        )
        for i in range(n)
    ]
    deadline = time.monotonic() + 120
    while not all((tmp_path / f"ready{i}").exists() for i in range(n)):
        assert time.monotonic() < deadline and all(p.poll() is None for p in procs), [
            p.communicate()[1][-2000:] for p in procs if p.poll() is not None
        ]
        time.sleep(0.01)
    go.touch()
    outs = [p.communicate(timeout=180) for p in procs]
    for p, (_, err) in zip(procs, outs, strict=True):
        assert p.returncode == 0, err[-3000:]
    return [json.loads(out.strip().splitlines()[-1]) for out, _ in outs]


PREAMBLE = """
import json, sys, time
from pathlib import Path
import numpy as np, pandas as pd
from nbmlops.features import Expr, FeatureSet, FeatureStore

who, work = int(sys.argv[1]), Path(sys.argv[2])
"""

WAIT = """
(work / f"ready{who}").touch()
while not (work / "go").exists():
    time.sleep(0.002)
"""

WRITER = (
    PREAMBLE
    + """
rounds, rows = int(sys.argv[3]), int(sys.argv[4])
rng = np.random.default_rng(who)
store = FeatureStore()

def frame():
    return pd.DataFrame({"customer_id": rng.integers(0, 5, rows),
                         "ts": pd.Timestamp("2024-03-01") + pd.to_timedelta(rng.integers(0, 86400, rows), "s"),
                         "amount": rng.normal(50, 20, rows), "channel": rng.choice(["web", "app"], rows)})

shared = FeatureSet("shared", ["customer_id"], "ts", ["amount"])
wide = FeatureSet("wide", ["customer_id"], "ts")  # inferred: the first frame to commit decides the order
order = ["customer_id", "ts", "amount", "channel"] if who == 0 else ["customer_id", "ts", "channel", "amount"]
"""
    + WAIT
    + """
out = {"tx": [], "shared": [], "reg": []}
for k in range(rounds * 5):  # definitions only, as fast as they come: the tightest race for version numbers
    fset = FeatureSet("reg", ["customer_id"], "ts", [Expr(f"p{who}_{k}", "amount * 2")])
    out["reg"].append([fset.fingerprint(), store.register(fset).version])
for k in range(rounds):
    fset = FeatureSet("tx", ["customer_id"], "ts", ["amount", Expr(f"p{who}_{k}", "amount * 2")])  # a new version
    record = store.ingest(fset, frame())
    out["tx"].append([fset.fingerprint(), record.version, record.id])
    out["shared"].append(store.ingest(shared, frame()).version)
    store.ingest(wide, frame()[order])
out["wide"] = store.catalog.get("wide").inferred
print(json.dumps(out))
"""
)


def test_two_processes_ingesting_one_set_lose_no_version_and_no_pointer(
    home: Path, tmp_path: Path, shared_db: str
) -> None:
    reports = _start(WRITER, tmp_path, str(ROUNDS), str(ROWS))
    registered = [entry for report in reports for entry in report["reg"]]
    assert sorted(version for _, version in registered) == list(range(1, 10 * ROUNDS + 1))
    made = [entry for report in reports for entry in report["tx"]]
    # every new definition got a number of its own: none lost, none given twice
    assert sorted(version for _, version, _ in made) == list(range(1, 2 * ROUNDS + 1))
    store = FeatureStore(home)
    assert {s.version: s.raw["fingerprint"] for s in store.catalog.versions("reg")} == dict(
        (version, fingerprint) for fingerprint, version in registered
    )
    assert {s.version: s.raw["fingerprint"] for s in store.catalog.versions("tx")} == {
        version: fingerprint for fingerprint, version, _ in made
    }
    for _, version, ingest in made:  # each ingest's rows sit in the version it was told
        assert [r.id for r in store.offline.ingests("tx", version)] == [ingest]
    assert store.catalog.current_version("tx") in {report["tx"][-1][1] for report in reports}
    # one definition ingested by both: one version, every row in it
    assert all(v == 1 for report in reports for v in report["shared"])
    assert [s.version for s in store.catalog.versions("shared")] == [1]
    assert sum(r.rows for r in store.offline.ingests("shared", 1)) == 2 * ROUNDS * ROWS
    # inferred columns: one process fixed them, the other adopted them
    [wide] = store.catalog.versions("wide")
    assert wide.inferred in (["amount", "channel"], ["channel", "amount"])
    assert reports[0]["wide"] == reports[1]["wide"] == wide.inferred
    assert sum(r.rows for r in store.offline.ingests("wide", 1)) == 2 * ROUNDS * ROWS


def test_the_catalog_is_in_the_database_not_under_the_artifact_root(home: Path, shared_db: str) -> None:
    store = make_store(home)
    a = FeatureSet("tx", ["customer_id"], "ts", ["amount"], owner="risk")
    store.ingest(a, transactions(n=30))
    store.ingest(FeatureSet("tx", ["customer_id"], "ts"), transactions(n=30, seed=2))  # v2, inferred
    store.ingest(FeatureSet("tx", ["customer_id"], "ts", ["amount"], owner="fraud"), transactions(n=5, seed=3))
    store.get_offline_features(FeatureVector("v", ["tx.amount"], label="churned"), entity_rows(n=20), "ts")
    assert not (home / "artifacts" / "features" / "catalog").exists()
    assert not (home / "artifacts" / "features" / "vectors").exists()
    rows = store.meta.db.query(
        "SELECT version, inferred, definition FROM feature_set_versions WHERE name = 'tx' ORDER BY version"
    )
    assert [(r["version"], r["inferred"] and json.loads(r["inferred"])) for r in rows] == [
        (1, None),
        (2, ["amount", "channel"]),
    ]
    assert json.loads(rows[0]["definition"])["owner"] == "fraud"  # metadata refreshed in place, no new version
    assert store.meta.db.query("SELECT current_version FROM feature_sets WHERE name = 'tx'")[0]["current_version"] == 1
    other = FeatureStore(home)  # another process reads the same catalog
    assert (describe("tx", other).current, describe("tx", other).versions) == (1, [1, 2])
    assert other.catalog.vector("v") == {"name": "v", "features": ["tx.amount"], "label": "churned", "description": ""}


# -- the JSON catalog of before 0007 --------------------------------------------------------------------------
def _old_project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[FeatureStore, FeatureVector, pd.DataFrame]:
    """A project's data and catalog records (A, then B inferred, then A again: v1 current), from a store with
    a database of its own: what a JSON catalog held, and the training set it gave."""
    with monkeypatch.context() as env:
        env.delenv("NBMLOPS_DB_URL", raising=False)
        old = make_store(tmp_path / "old" / ".nbmlops")
    a = FeatureSet("tx", ["customer_id"], "ts", ["amount"], description="amounts")
    old.ingest(a, transactions(n=60, seed=1))
    old.ingest(FeatureSet("tx", ["customer_id"], "ts"), transactions(n=40, seed=2))
    old.ingest(a, transactions(n=30, seed=3))
    vector = FeatureVector("v", ["tx.amount", "tx@v2.channel"], label="churned")
    return old, vector, old.get_offline_features(vector, entity_rows(), "ts", cache=False)


def _write_old_catalog(old: FeatureStore, root: Path, vector: FeatureVector) -> dict:
    shutil.copytree(Path(old.files.where("features/data")), root / "features" / "data")
    write_json_catalog(root, [s.raw for s in old.catalog.versions("tx")], current={"tx": 1}, vectors=[vector.record()])
    stats = {"state": "s", "features": {"amount": {"count": 90}}}  # the statistics cache of v1
    (root / "features" / "data" / "tx" / "v1" / "_stats.json").write_text(json.dumps(stats))
    return stats


def test_a_json_catalog_from_before_0007_is_imported_on_first_open(
    home: Path, tmp_path: Path, shared_db: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    old, vector, expected = _old_project(tmp_path, monkeypatch)
    assert old.meta.db.url != shared_db
    root = home / "artifacts"
    stats = _write_old_catalog(old, root, vector)

    store = FeatureStore(home)
    info = describe("tx", store, stats=False)
    assert (info.current, info.versions, info.description) == (1, [1, 2], "amounts")
    assert [(v.version, v.schema, v.features, v.rows) for v in info.history] == [
        (1, "declared", ["amount"], 90),
        (2, "inferred", ["amount", "channel"], 40),
    ]  # from the claim file
    pd.testing.assert_frame_equal(store.get_offline_features(vector, entity_rows(), "ts", cache=False), expected)
    assert store.catalog.vectors() == [vector.record()]
    assert store.catalog.stats(store.catalog.get("tx", 1)) == stats
    assert store.meta.db.query("SELECT root, sets, vectors FROM feature_catalog_imports") == [
        {"root": str(root.resolve()), "sets": 1, "vectors": 1}
    ]

    # once: files written into the old catalog afterwards are not read; new versions go on from the imported
    write_json_catalog(root, [{**store.catalog.get("tx", 1).raw, "name": "late"}])
    assert FeatureStore(home).catalog.names() == ["tx"]
    assert store.ingest(FeatureSet("tx", ["customer_id"], "ts", ["channel"]), transactions(n=5)).version == 3


OPENER = (
    PREAMBLE
    + """
"""
    + WAIT
    + """
store = FeatureStore()
print(json.dumps({"names": store.catalog.names(), "versions": [s.version for s in store.catalog.versions("tx")],
                  "current": store.catalog.current_version("tx")}))
"""
)


def test_two_processes_opening_an_old_catalog_import_it_once(
    home: Path, tmp_path: Path, shared_db: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    old, vector, _ = _old_project(tmp_path, monkeypatch)
    _write_old_catalog(old, home / "artifacts", vector)
    reports = _start(OPENER, tmp_path, n=3)
    assert reports == [{"names": ["tx"], "versions": [1, 2], "current": 1}] * 3
    store = FeatureStore(home)
    assert len(store.meta.db.query("SELECT root FROM feature_catalog_imports")) == 1
    assert len(store.meta.db.query("SELECT version FROM feature_set_versions")) == 2


def test_an_old_catalog_that_disagrees_with_the_database_imports_nothing(home: Path, tmp_path: Path) -> None:
    store = make_store(home)
    store.ingest(FeatureSet("tx", ["customer_id"], "ts", ["amount"]), transactions(n=20))
    other_root = tmp_path / "other-root"
    records = []
    for fset in (
        FeatureSet("another", ["customer_id"], "ts", ["amount"]),
        FeatureSet("tx", ["customer_id"], "ts", ["amount", "channel"]),
    ):  # not the database's v1
        records.append(
            {
                "name": fset.name,
                "version": 1,
                "fingerprint": fset.fingerprint(),
                "spec": fset.spec(),
                "dtypes": {},
                "created_at": 0.0,
            }
        )
    write_json_catalog(other_root, records)
    where = re.escape(str(other_root.resolve() / "features" / "catalog" / "tx" / "v1.json"))
    with pytest.raises(
        FeatureError,
        match=f"feature set 'tx': the old catalog file {where} defines v1 otherwise "
        "than the feature catalog of sqlite:///.*; nothing was imported",
    ):
        FeatureStore(home, artifact_root=str(other_root))
    assert store.catalog.names() == ["tx"]  # 'another', read before the clash, was rolled back with it
    assert not store.meta.db.query(
        "SELECT root FROM feature_catalog_imports WHERE root = :root", {"root": str(other_root.resolve())}
    )
    with pytest.raises(FeatureError, match="defines v1 otherwise"):  # and it says so again, every time
        FeatureStore(home, artifact_root=str(other_root))
