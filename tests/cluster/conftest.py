"""A real two-node Ray cluster on this machine (ray.cluster_utils.Cluster: a head and a second node, 1 CPU
each, each its own raylet and object store), shared by the tests of a module and torn down after them."""

from __future__ import annotations

import os
from collections.abc import Iterator

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


@pytest.fixture(scope="module")
def quick_ray_agents(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Ray's agents (Python processes every node starts) import jsonschema, which compiles the rfc3987-syntax
    grammar for seconds when that package is installed (it is here, as an extra of jupyter's packages); on a
    loaded machine that alone outlasts the raylet's fixed wait for its agents. Hidden from the cluster's
    processes (and only there: they inherit this environment), jsonschema skips that one format check."""
    shim = tmp_path_factory.mktemp("ray-shim")
    (shim / "rfc3987_syntax.py").write_text('raise ImportError("hidden from the Ray test cluster")\n')
    saved = os.environ.get("PYTHONPATH")
    os.environ["PYTHONPATH"] = os.pathsep.join(p for p in (str(shim), saved) if p)
    try:
        yield
    finally:
        if saved is None:
            os.environ.pop("PYTHONPATH", None)
        else:
            os.environ["PYTHONPATH"] = saved


@pytest.fixture(scope="module")
def two_nodes(quick_ray_agents: None) -> Iterator[ray.cluster_utils.Cluster]:
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
