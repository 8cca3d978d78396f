"""Where a Ray step's worker puts what lasts, so that a step on another node never needs the driver's disk.

With a remote artifact root (`s3://…`, `gs://…`, `file:///shared/…`, any pyarrow URL) the worker runs the step in
a scratch folder of its own node and publishes every file the run folder keeps for the step (stdout.txt,
stderr.txt, the marshalled outputs, the executed notebook) content-addressed under the root; its report names
them by sha256 and the driver takes them from there into its run folder. Inputs the worker does not get as
object refs (a cached upstream step, a value that can't be pickled) come from the root the same way. With a
local artifact root the worker writes the run folder itself, as every other backend does (one machine, or a
run folder on a disk all nodes share).

Each attempt of a step, Ray's own retries after a worker or a node died included, leaves a marker (node, pid)
where the step publishes: under the root, or in the step's folder for a local root. The attempt that reports
reads and removes them all; when none reports (Ray gave up), the driver does. So the step's record counts every
attempt and names the node each ran on.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

from nbmlops.store.filesystems import Root

if TYPE_CHECKING:
    from nbmlops.runners.task import StepTask
    from nbmlops.store.artifacts import ArtifactStore


class Outbox(NamedTuple):
    """Where one submission of a step publishes: `remote` is the artifact root's URL (None: the run folder)."""

    remote: str | None
    run_id: str
    step: str
    submission: int  # the orchestrator's attempt number when the task was sent: Ray's retries share it

    def markers(self, step_dir: Path) -> tuple[Root, str]:
        """The root and folder holding this submission's attempt markers."""
        if self.remote is None:
            from nbmlops.store.filesystems import LocalRoot

            # beside the step's files (hidden: listings of the run folder leave it out)
            return LocalRoot(step_dir), f".attempts-{self.submission}"
        return artifact_store(self.remote).files, f"attempts/{self.run_id}-{self.step}-{self.submission}"


_STORES: dict[str, ArtifactStore] = {}  # a worker runs many steps: open (and sign in to) each root once


def artifact_store(url: str) -> ArtifactStore:
    from nbmlops.store.artifacts import ArtifactStore

    if url not in _STORES:
        _STORES[url] = ArtifactStore(url)
    return _STORES[url]


# -- attempts -----------------------------------------------------------------------------------------------
def mark_attempt(outbox: Outbox, step_dir: Path, node: str | None) -> None:
    """Leave this attempt's marker before the step's code runs: it outlives a worker or node killed mid-step."""
    root, folder = outbox.markers(step_dir)
    marker = {"node": node, "pid": os.getpid(), "started": time.time()}
    root.write_bytes(f"{folder}/{os.urandom(8).hex()}.json", json.dumps(marker).encode())


def take_attempts(outbox: Outbox, step_dir: Path) -> list[dict[str, Any]]:
    """The markers of this submission's attempts, oldest first, removed from where they were left."""
    root, folder = outbox.markers(step_dir)
    found = [json.loads(raw) for name in root.listdir(folder) if (raw := root.read_bytes(f"{folder}/{name}"))]
    root.delete_tree(folder)  # the run folder keeps what it kept before; the root, nothing
    return sorted(found, key=lambda marker: marker["started"])


# -- a step on a remote root, in the worker -------------------------------------------------------------------
class Scratch(NamedTuple):
    folder: Path  # the worker's own, removed after the step
    task: StepTask  # the task as it runs there: its folders, home and inputs in the scratch folder


def scratch_task(task: StepTask, folder: Path, store: ArtifactStore, by_ref: set[str], home: Path) -> Scratch:
    """The task rewritten to run in `folder` on this node: logs and outputs there, the project home `home` (the
    database and the artifact root come from the settings the driver passed), inputs that don't come as object
    refs downloaded from the root, and the notebook's folder as working directory only where this node has it."""
    inputs_dir = folder / "inputs"
    inputs = {}
    for name, (stored, _driver_folder) in task.inputs.items():
        if name not in by_ref:
            store.download(stored.sha256, inputs_dir / stored.file)
        inputs[name] = (stored, inputs_dir)
    step_dir = folder / "step"
    workdir = task.workdir if task.workdir.is_dir() else folder / "work"
    local = replace(
        task,
        inputs=inputs,
        step_dir=step_dir,
        outputs_dir=step_dir / task.outputs_dir.relative_to(task.step_dir),
        workdir=workdir,
        home=home,
    )
    return Scratch(folder, local)


def publish(store: ArtifactStore, step_dir: Path) -> dict[str, str]:
    """Every file the step left in its scratch folder, stored under the root: {path relative to it: sha256}."""
    files = {}
    for path in sorted(p for p in step_dir.rglob("*") if p.is_file()):
        files[path.relative_to(step_dir).as_posix()] = store.put_file(path).sha256
    return files


def driver_path(path: str, scratch_step_dir: Path, step_dir: Path) -> str:
    """A path the worker named (an artifact of the step) as it will be in the driver's run folder."""
    try:
        return str(step_dir / Path(path).relative_to(scratch_step_dir))
    except ValueError:
        return path  # not one of the step's files (an artifact elsewhere): as named


# -- a step on a remote root, in the driver -------------------------------------------------------------------
def ensure_inputs(store: ArtifactStore, task: StepTask, by_ref: set[str], known: set[str]) -> None:
    """Store each input the worker will read from the root (not an object ref) there, if it isn't yet: the
    outputs of a cached or resumed step may only be in a run folder of this machine."""
    for name, (stored, folder) in task.inputs.items():
        if name in by_ref or stored.sha256 in known:
            continue
        if not store.exists(stored.sha256):
            store.put_file(folder / stored.file)
        known.add(stored.sha256)


def fetch(store: ArtifactStore, files: dict[str, str], step_dir: Path) -> None:
    """Take the files the worker published into the step's folder of the run (each checked against its hash)."""
    for rel, sha256 in files.items():
        store.download(sha256, step_dir / rel)
