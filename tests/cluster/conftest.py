"""A real two-node Ray cluster on this machine (ray.cluster_utils.Cluster: a head and a second node, 1 CPU
each, each its own raylet and object store), shared by the tests of a module and torn down after them; and a
watch on what the cluster's Ray workers write (`worker_writes`)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

ray = pytest.importorskip("ray")

from nbmlops.runners.ray_cluster import child_pids, end_leftovers, patient_node_start  # noqa: E402

# each node start may take minutes on a loaded machine (patient_node_start); a failed one is tried again, bounded
START_ATTEMPTS = 3
NODE_TIMEOUT_S = 180


def _retry(what: str, start):  # noqa: ANN001, ANN202 - a tiny helper for the fixture below
    error: BaseException | None = None
    for _ in range(START_ATTEMPTS):
        before = child_pids()
        try:
            return start()
        except Exception as exc:  # noqa: BLE001 - Ray raises a bare Exception when a node start times out
            error = exc
            end_leftovers(before)  # what the failed start left running
    pytest.fail(f"could not start the Ray {what} in {START_ATTEMPTS} tries: {error}")


# Installed (as sitecustomize) in every Python process the test clusters start; active in Ray workers only. Each
# write a worker makes under a path listed in WATCH/forbidden (one a line) is appended to WATCH/violations:
# opening a file to write, making, renaming, linking or removing one, the calls every file write goes through
# (pyarrow's C++ writers included: nbmlops writes a temp file and renames it).
WATCH_HOOK = """
import os, sys

_WATCH = os.environ.get("NBMLOPS_TEST_WATCH")
_WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND
_DESTINATIONS = {  # event -> indexes of its arguments that name a path written
    "open": (0,), "os.mkdir": (0,), "os.rename": (0, 1), "os.link": (1,), "os.symlink": (1,),
    "os.remove": (0,), "os.rmdir": (0,), "os.truncate": (0,), "os.utime": (0,), "shutil.rmtree": (0,),
}
_busy = []


def _paths(event, args):
    if event == "open":
        mode, flags = args[1], args[2]
        if not ((mode and any(c in mode for c in "wax+")) or (flags or 0) & _WRITE_FLAGS):
            return []
    found = []
    for index in _DESTINATIONS[event]:
        value = args[index] if index < len(args) else None
        if isinstance(value, (str, bytes, os.PathLike)):
            path = os.path.abspath(os.fsdecode(value))
            if event == "os.mkdir" and os.path.isdir(path):
                continue  # mkdir(exist_ok=True) of a folder that is there writes nothing
            found.append(path)
    return found


def _hook(event, args):
    if event not in _DESTINATIONS or _busy:
        return
    _busy.append(1)
    try:
        paths = _paths(event, args)
        if not paths:
            return
        try:
            with open(os.path.join(_WATCH, "forbidden")) as handle:
                forbidden = [line for line in handle.read().splitlines() if line]
        except FileNotFoundError:
            return
        hits = [p for p in paths for f in forbidden if p == f or p.startswith(f + os.sep)]
        if hits:
            with open(os.path.join(_WATCH, "violations"), "a") as out:
                out.writelines(f"{os.getpid()} {event} {p}\\n" for p in hits)
    finally:
        _busy.clear()


if _WATCH and "default_worker.py" in " ".join(sys.orig_argv):
    sys.addaudithook(_hook)
"""


@pytest.fixture(scope="module")
def quick_ray_agents(tmp_path_factory: pytest.TempPathFactory, s3_credentials: dict[str, str]) -> Iterator[Path]:
    """Ray's agents (Python processes every node starts) import jsonschema, which compiles the rfc3987-syntax
    grammar for seconds when that package is installed (it is here, as an extra of jupyter's packages); on a
    loaded machine that alone outlasts the raylet's fixed wait for its agents. Hidden from the cluster's
    processes (and only there: they inherit this environment), jsonschema skips that one format check.

    The same folder carries the watch on the workers' writes (WATCH_HOOK), and the nodes get S3 credentials
    of their own (moto's), as machines of a cluster have. Yields the watch folder."""
    shim = tmp_path_factory.mktemp("ray-shim")
    (shim / "rfc3987_syntax.py").write_text('raise ImportError("hidden from the Ray test cluster")\n')
    (shim / "sitecustomize.py").write_text(WATCH_HOOK)
    watch = shim / "watch"
    watch.mkdir()
    saved = {key: os.environ.get(key) for key in ("PYTHONPATH", "NBMLOPS_TEST_WATCH", *s3_credentials)}
    os.environ["PYTHONPATH"] = os.pathsep.join(p for p in (str(shim), saved["PYTHONPATH"]) if p)
    os.environ["NBMLOPS_TEST_WATCH"] = str(watch)
    for key, value in s3_credentials.items():
        os.environ.setdefault(key, value)
    try:
        yield watch
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


class WorkerWrites:
    """What the cluster's Ray workers wrote under the paths this test forbids them."""

    def __init__(self, watch: Path) -> None:
        self.watch = watch

    def forbid(self, *paths: Path) -> None:
        (self.watch / "forbidden").write_text("".join(f"{Path(p).resolve()}\n" for p in paths))
        (self.watch / "violations").unlink(missing_ok=True)

    def seen(self) -> list[str]:
        """'pid event path' for each write since forbid()."""
        found = self.watch / "violations"
        return found.read_text().splitlines() if found.is_file() else []

    def clear(self) -> None:
        for name in ("forbidden", "violations"):
            (self.watch / name).unlink(missing_ok=True)


@pytest.fixture
def worker_writes(quick_ray_agents: Path) -> Iterator[WorkerWrites]:
    watch = WorkerWrites(quick_ray_agents)
    yield watch
    watch.clear()


@pytest.fixture(scope="module")
def two_nodes(quick_ray_agents: Path) -> Iterator[ray.cluster_utils.Cluster]:
    """A running two-node cluster; `.address` is what `--ray-address` takes."""
    from ray.cluster_utils import Cluster

    if ray.is_initialized():
        ray.shutdown()  # another module's local runtime: this module's drivers join the cluster instead
    with patient_node_start():
        cluster = _retry(
            "head node",
            lambda: Cluster(initialize_head=True, head_node_args={"num_cpus": 1, "include_dashboard": False}),
        )
        try:
            _retry("second node", lambda: cluster.add_node(num_cpus=1))
            cluster.wait_for_nodes(timeout=NODE_TIMEOUT_S)
            yield cluster
        finally:
            if ray.is_initialized():
                ray.shutdown()
            cluster.shutdown()
