"""One way to open an artifact root (nbmlops.store.filesystems), used by the artifact store and the feature store
alike; a scheme registered there carries the whole feature store. And definitions need no store to exist."""

from __future__ import annotations

import ast
from pathlib import Path

import pandas as pd
import pytest
from features_helpers import entity_rows, make_store, transactions, tx_set

from nbmlops.features import FeatureStore, FeatureVector, default_store, describe, parity
from nbmlops.store import filesystems
from nbmlops.store.artifacts import ArtifactStore
from nbmlops.store.filesystems import ArrowRoot, FilesystemError, LocalRoot, open_root


@pytest.mark.parametrize("kind", ["path", "file-uri"])
def test_a_root_reads_writes_lists_and_creates_exclusively(tmp_path: Path, kind: str) -> None:
    folder = tmp_path / "root"
    root = open_root(folder if kind == "path" else folder.as_uri())
    assert isinstance(root, LocalRoot if kind == "path" else ArrowRoot) and root.is_local == (kind == "path")
    assert root.read_bytes("a/b.json") is None and root.listdir("a") == [] and not root.delete("a/b.json")
    assert root.write_bytes("a/b.json", b"1") and root.write_bytes("a/b.json", b"2")
    assert not root.write_bytes("a/b.json", b"3", exclusive=True)  # the second claim of a name loses
    assert root.write_bytes("a/c.json", b"4", exclusive=True)
    root.write_chunks("a/d.bin", iter([b"x", b"y"]))
    assert (folder / "a" / "b.json").read_bytes() == b"2" and root.read_bytes("a/d.bin") == b"xy"
    assert root.listdir("a") == ["b.json", "c.json", "d.bin"]  # temp files hidden, none left behind
    assert root.is_file("a/c.json") and not root.is_file("a")
    assert root.delete("a/c.json") and not root.is_file("a/c.json")
    where = root.where("a/b.json")
    assert where == (str(folder / "a" / "b.json") if kind == "path" else f"{folder.as_uri()}/a/b.json")


def test_an_unknown_scheme_names_the_root(tmp_path: Path) -> None:
    with pytest.raises(FilesystemError, match="artifact root 'nosuch://bucket/x': pyarrow can't open it"):
        open_root("nosuch://bucket/x")
    with pytest.raises(FilesystemError, match="nosuch://"):
        ArtifactStore("nosuch://bucket/x")


def test_a_registered_scheme_carries_the_artifact_and_the_feature_store(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An in-memory pyarrow filesystem plugged in as mem://: ingest, training sets (their blobs in the artifact
    store), online reads and parity all go through it; nothing of the data lands on the local disk."""
    import pyarrow.fs

    memory = pyarrow.fs._MockFileSystem()
    opened: list[str] = []

    def opener(url: str) -> ArrowRoot:
        opened.append(url)
        return ArrowRoot(url, memory, url.split("://", 1)[1])

    monkeypatch.setitem(filesystems._OPENERS, "mem", opener)  # as filesystems.register("mem", opener), undone
    store = FeatureStore(home, artifact_root="mem://bucket/project")
    events = transactions(n=120)
    record = store.ingest(tx_set(), events)
    assert all(memory.get_file_info(f"bucket/project/{f['path']}").is_file for f in record.files)
    vector = FeatureVector("v", ["transactions.amount", "transactions.amount_sum_1d"])
    first = store.get_offline_features(vector, entity_rows(n=50), "ts")
    again = store.get_offline_features(vector, entity_rows(n=50), "ts")  # the cached training set, read back
    pd.testing.assert_frame_equal(first, again)
    blob = ArtifactStore(store.files).uri(ArtifactStore(store.files).put_bytes(b"x").sha256)
    assert blob.startswith("mem://bucket/project/") and opened == ["mem://bucket/project"]
    assert parity(vector, store=store).ok and describe("transactions", store).rows == 120
    assert not (home / "artifacts").exists()


def test_feature_sets_write_through_the_store_given_or_the_default_one(home: Path, tmp_path: Path) -> None:
    other = make_store(tmp_path / "other" / ".nbmlops")
    fset = tx_set()
    fset.ingest(transactions(n=30), store=other)
    fset.push(transactions(n=1, seed=4).iloc[0].to_dict(), store=other)
    other.flush()
    assert "transactions" not in default_store().catalog.names()
    fset.ingest(transactions(n=10))  # no store=: the project's default store
    fset.push_many(transactions(n=5, seed=5))
    default_store().flush()
    assert describe("transactions").rows == 15 and describe("transactions", other).rows == 31


def test_definitions_import_nothing_else_of_the_feature_store() -> None:
    source = Path(__file__).resolve().parents[2] / "nbmlops" / "features" / "definitions.py"
    found = set()
    for node in ast.walk(ast.parse(source.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("nbmlops"):
            found |= {
                f"{node.module}.{a.name}" if node.module == "nbmlops.features" else node.module for a in node.names
            }
        elif isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.startswith("nbmlops")}
    # the package's base modules (names, errors) are for everyone; of the feature store, only these two
    assert {m for m in found if m.startswith("nbmlops.features")} == {
        "nbmlops.features.durations",
        "nbmlops.features.errors",
    }
