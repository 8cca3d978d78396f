"""A real two-node Ray cluster on this machine (ray.cluster_utils.Cluster: a head and a second node, 1 CPU
each, each its own raylet and object store), shared by the tests of a module and torn down after them."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

ray = pytest.importorskip("ray")

from nbmlops.runners.ray_cluster import patient_node_start  # noqa: E402

# each node start may take minutes on a loaded machine (patient_node_start); a failed one is tried again, bounded
START_ATTEMPTS = 3
NODE_TIMEOUT_S = 180


def _retry(what: str, start):  # noqa: ANN001, ANN202 - a tiny helper for the fixture below
    error: BaseException | None = None
    for _ in range(START_ATTEMPTS):
        try:
            return start()
        except Exception as exc:  # noqa: BLE001 - Ray raises a bare Exception when a node start times out
            error = exc
            time.sleep(1)
    pytest.fail(f"could not start the Ray {what} in {START_ATTEMPTS} tries: {error}")


@pytest.fixture(scope="module")
def two_nodes() -> Iterator[ray.cluster_utils.Cluster]:
    """A running two-node cluster; `.address` is what `--ray-address` takes."""
    from ray.cluster_utils import Cluster

    if ray.is_initialized():
        ray.shutdown()  # another module's local runtime: this module's drivers join the cluster instead
    with patient_node_start():
        cluster = _retry("head node", lambda: Cluster(
            initialize_head=True, head_node_args={"num_cpus": 1, "include_dashboard": False}))
        try:
            _retry("second node", lambda: cluster.add_node(num_cpus=1))
            cluster.wait_for_nodes(timeout=NODE_TIMEOUT_S)
            yield cluster
        finally:
            if ray.is_initialized():
                ray.shutdown()
            cluster.shutdown()
