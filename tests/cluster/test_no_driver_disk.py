"""Steps on a cluster's nodes need nothing of the driver's disk: with the artifact root on object storage (a real
S3 API server, moto's, on 127.0.0.1) and a database every node reaches, the Ray workers of a two-node cluster
write nothing under the driver's folders (its notebook folder, its project home with the run folder and the
cache), watched by an audit hook in every worker (conftest.WATCH_HOOK). The run folder the driver keeps is
the one it keeps today: logs, outputs, the executed notebook, the status of each step; the cache works across
runs and the store holds what the steps logged. With a local artifact root the workers write the run folder
themselves, as before, and the watch sees it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from nbmlops.digest import sha256_hex
from nbmlops.pipeline import compile_notebook
from nbmlops.runners import RunDir, run_pipeline
from nbmlops.store import open_store

pafs = pytest.importorskip("pyarrow.fs")

CELLS = [
    ("import time\nimport nbmlops\nimport pandas as pd", ["setup"]),
    (
        "frame = pd.DataFrame({'a': range(6), 'b': [x * 2 for x in range(6)]})\nprint('made', len(frame))",
        ["step:start"],
    ),
    ("time.sleep(2)\nleft = int(frame.a.sum())\nnbmlops.log_metric('left', left)", ["step:left", "cpus:1"]),
    ("time.sleep(2)\nright = int(frame.b.sum())\nright", ["step:right", "cpus:1"]),  # shown: a kernel runs it
    ("total = left + right\nprint(total)", ["step:join"]),
]
STEPS = ["start", "left", "right", "join"]


def statuses(run_dir: Path) -> dict[str, dict]:
    return {step: json.loads((run_dir / "steps" / step / "status.json").read_text()) for step in STEPS}


def bucket_files(url: str) -> list[str]:
    fs, base = pafs.FileSystem.from_uri(url)
    infos = fs.get_file_info(pafs.FileSelector(base, recursive=True, allow_not_found=True))
    return sorted(info.path[len(base) + 1 :] for info in infos if info.type == pafs.FileType.File)


@pytest.fixture
def driver(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, make_notebook) -> tuple[Path, Path]:  # noqa: ANN001
    """The driver's folder (the notebook, and its project home in it) and the database, kept apart from it as a
    database server would be."""
    folder = tmp_path / "driver"
    folder.mkdir()
    notebook = make_notebook(CELLS, name="driver/nb.ipynb")
    home = folder / ".nbmlops"
    monkeypatch.setenv("NBMLOPS_HOME", str(home))
    monkeypatch.setenv("NBMLOPS_DB_URL", f"sqlite:///{tmp_path / 'db' / 'nbmlops.db'}")
    monkeypatch.chdir(folder)
    return notebook, home


def run(notebook: Path, home: Path, address: str):  # noqa: ANN201 - a RunResult
    return run_pipeline(compile_notebook(notebook), backend="ray", home=home, backend_options={"address": address})


def test_workers_write_nothing_on_the_driver_with_the_root_on_s3(  # noqa: ANN001
    two_nodes, driver, s3_bucket, worker_writes, make_notebook
) -> None:
    notebook, home = driver
    worker_writes.forbid(notebook.parent)
    first = run(notebook, home, two_nodes.address)
    assert first.status == "succeeded"
    status = statuses(first.run_dir)
    assert len({status[s]["node"] for s in ("left", "right")}) == 2  # a step ran on each node
    # the run folder holds what it always did, each output the bytes its hash names
    run_dir = RunDir(first.run_dir)
    for step in STEPS:
        folder = first.run_dir / "steps" / step
        assert (folder / "stdout.txt").is_file() and (folder / "stderr.txt").is_file()
        for stored in run_dir.stored_outputs(step).values():
            assert sha256_hex((folder / "outputs" / stored.file).read_bytes()) == stored.sha256
        assert status[step]["attempts"] == 1 and status[step]["attempt_nodes"] == [status[step]["node"]]
    assert (first.run_dir / "steps" / "start" / "stdout.txt").read_text() == "made 6\n"
    assert (first.run_dir / "steps" / "join" / "stdout.txt").read_text() == "45\n"
    notebook_file = Path(status["right"]["artifacts"]["notebook"])  # the executed step, in the run folder
    assert notebook_file.parent == first.run_dir / "steps" / "right" and notebook_file.is_file()
    shown = json.loads(notebook_file.read_text())["cells"][-1]["outputs"]
    assert shown[0]["data"]["text/plain"] == "30"
    # the store (the configured database) has what the steps logged, and the logs' paths in the run folder
    store = open_store(home)
    assert store.get_run(first.run_id).metrics["left"] == 15
    steps = {s.name: s for s in store.steps(first.run_id)}
    assert steps["join"].stdout_path == str(first.run_dir / "steps" / "join" / "stdout.txt")
    # the bucket holds each step's files by hash and the shared cache entries; no attempt markers are left
    held = bucket_files(s3_bucket)
    assert not [name for name in held if name.startswith("attempts/")]
    assert sum(name.startswith("cache/steps/") for name in held) == len(STEPS)
    for step in STEPS:
        for stored in run_dir.stored_outputs(step).values():
            assert f"{stored.sha256[:2]}/{stored.sha256}" in held

    # the join changed: its upstream steps are cache hits, so its inputs come from the bucket, not as object refs
    cells = [*CELLS[:-1], ("total = left + right + 1\nprint(total)", ["step:join"])]
    make_notebook(cells, name="driver/nb.ipynb")
    second = run(notebook, home, two_nodes.address)
    status = statuses(second.run_dir)
    assert all(status[s].get("cached") for s in ("start", "left", "right")) and not status["join"].get("cached")
    assert status["join"]["inputs_by_ref"] == []
    assert (second.run_dir / "steps" / "join" / "stdout.txt").read_text() == "46\n"
    assert worker_writes.seen() == []  # in both runs: nothing under the driver's folder

    shown = subprocess.run(
        [sys.executable, "-m", "nbmlops.cli", "runs", "show", second.run_id, "--json"],
        capture_output=True,
        text=True,
        timeout=120,
        env=dict(os.environ),
    )
    assert shown.returncode == 0, shown.stderr
    assert {s["name"]: s["status"] for s in json.loads(shown.stdout)["steps"]} == dict.fromkeys(STEPS, "succeeded")


def test_with_a_local_root_the_workers_write_the_run_folder(two_nodes, driver, worker_writes) -> None:  # noqa: ANN001
    """The watch sees writes: with the default (local) artifact root the workers write the run folder, as
    every backend does on one machine or on a disk all nodes share."""
    notebook, home = driver
    worker_writes.forbid(notebook.parent)
    done = run(notebook, home, two_nodes.address)
    assert done.status == "succeeded"
    written = {line.split(" ", 2)[2] for line in worker_writes.seen()}
    assert str((done.run_dir / "steps" / "join" / "stdout.txt").resolve()) in written
