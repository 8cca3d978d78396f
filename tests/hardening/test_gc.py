"""`nbmlops gc`: unreferenced blobs and interrupted writes' temporary files go (with their bytes reported), every
blob a run, model version or cached training set names stays, young files stay, nothing else under the artifact
root is touched, and models registered by other processes while gc runs all still load."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

from nbmlops.registry import delete_model, get_model_version, load_model, register_model
from nbmlops.store import open_store
from nbmlops.tracking import log_artifact, start_run

NBMLOPS = Path(sys.executable).parent / "nbmlops"
OLD = time.time() - 7200  # older than gc's default grace of an hour


def gc(*args: str, cwd: Path) -> dict:
    done = subprocess.run([str(NBMLOPS), "gc", "--json", *args], capture_output=True, text=True, timeout=120, cwd=cwd)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def age(path: Path) -> None:
    os.utime(path, (OLD, OLD))


def test_gc_removes_only_what_nothing_references(home: Path, tmp_path: Path) -> None:
    store = open_store(home)
    model = register_model({"weights": [1, 2, 3]}, "churn", store=store)
    with start_run(name="r", home=home):
        log_artifact(b"run artifact bytes", "notes.txt")
    blobs = store.artifacts
    orphan = blobs.put_bytes(b"x" * 5000)  # a registration killed after its blob was written
    young = blobs.put_bytes(b"still being registered")
    root = Path(blobs.root)
    temp = root / orphan.sha256[:2] / f".{orphan.sha256}.0badf00d.tmp"
    temp.write_bytes(b"y" * 300)
    user_file = root / "features" / "tx" / "part-0.parquet"
    user_file.parent.mkdir(parents=True)
    user_file.write_bytes(b"not a blob")
    for path in root.rglob("*"):
        if path.is_file() and young.sha256 not in path.name:
            age(path)

    planned = gc("--dry-run", cwd=tmp_path)
    assert planned["dry_run"] and planned["removed"] == [orphan.sha256]
    assert planned["temp"] == [temp.relative_to(root).as_posix()]
    assert planned["blob_bytes"] == 5000 and planned["temp_bytes"] == 300 and planned["total_bytes"] == 5300
    assert planned["kept_young"] == 1 and planned["referenced"] == 2
    assert blobs.exists(orphan.sha256) and temp.exists()  # a dry run removes nothing

    done = gc(cwd=tmp_path)
    assert done["removed"] == [orphan.sha256] and done["total_bytes"] == 5300 and not done["dry_run"]
    assert not blobs.exists(orphan.sha256) and not temp.exists()
    assert blobs.exists(young.sha256) and user_file.read_bytes() == b"not a blob"
    assert load_model(f"churn:{model.version}", store=store) == {"weights": [1, 2, 3]}  # its hash checked
    assert gc(cwd=tmp_path)["removed"] == []  # nothing left to do
    assert gc("--older-than", "0", cwd=tmp_path)["removed"] == [young.sha256]


def test_gc_while_other_processes_register_models(home: Path, tmp_path: Path) -> None:
    writer = (
        "import sys\n"
        "from nbmlops.registry import register_model\n"
        "for i in range(15):\n"
        "    register_model({'writer': sys.argv[1], 'i': i}, 'm' + sys.argv[1])\n"
        "    register_model({'shared': True}, 'm' + sys.argv[1])  # the same bytes again: a blob reused\n"
    )
    store = open_store(home)
    seed = register_model({"shared": True}, "seed", store=store)
    payload = store.artifacts.get_bytes(seed.artifact_sha256)
    delete_model("seed", store=store)  # its blob goes with it; put back as an old blob nothing references
    assert not store.artifacts.exists(seed.artifact_sha256)
    store.artifacts.put_bytes(payload)
    for blob in Path(store.artifacts.root).rglob("*"):
        if blob.is_file():
            age(blob)  # an old orphan the writers will reuse: only its renewed mtime keeps gc from taking it
    writers = [subprocess.Popen([sys.executable, "-c", writer, str(n)], cwd=tmp_path) for n in range(2)]
    sweeps = 0
    while any(w.poll() is None for w in writers):
        gc("--older-than", "5", cwd=tmp_path)
        sweeps += 1
    assert all(w.wait(timeout=120) == 0 for w in writers)
    assert sweeps >= 1
    for n in range(2):
        for version in range(1, 31):
            assert load_model(f"m{n}:{version}", store=store) is not None  # every blob still there, hash intact
        assert get_model_version(f"m{n}:2", store=store).artifact_sha256 == seed.artifact_sha256  # reused


def test_a_reused_blob_is_safe_between_its_put_and_its_row(home: Path, tmp_path: Path) -> None:
    """A writer puts its blob, then records the row naming it: an old unreferenced blob with the same bytes, reused
    by that put, must survive a gc that runs in between (put renews its mtime)."""
    store = open_store(home)
    blob = store.artifacts.put_bytes(b"model bytes")
    path = Path(store.artifacts.root) / blob.sha256[:2] / blob.sha256
    age(path)
    assert store.artifacts.put_bytes(b"model bytes").created is False  # the writer's put: reused, not rewritten
    assert gc(cwd=tmp_path)["removed"] == []
    assert store.artifacts.exists(blob.sha256)
    age(path)  # nobody recorded a row for it after all: once old again, it goes
    assert gc(cwd=tmp_path)["removed"] == [blob.sha256]
