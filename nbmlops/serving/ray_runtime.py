"""Starting (or joining) the Ray runtime the Ray engines use: Ray Serve (`serve --engine ray`) and Ray Data batch
scoring (`predict --engine ray`). The cluster is found as `nbmlops run --backend ray` finds it: the address given,
else the configured one (NBMLOPS_RAY_ADDRESS, `ray_address` in nbmlops.toml), else the local cluster `nbmlops ray
start` keeps running; none: a local Ray starts in this process. Starting and joining are the runners' (patient
node start, token auth when joining)."""

from __future__ import annotations

from nbmlops.serving.errors import GraphError


def cluster_address(address: str | None) -> str | None:
    """The address to join (None: start a local Ray)."""
    from nbmlops.runners.ray_cluster import recorded_cluster
    from nbmlops.store.config import load_settings

    address = address or load_settings().ray_address
    if address is None:
        running = recorded_cluster()
        address = running.address if running else None
    return address


def init_ray(address: str | None, *, what: str = "--engine ray") -> None:
    """Join the cluster (see above), unless this process already joined one."""
    try:
        import ray
    except ImportError:
        raise GraphError(f'{what} needs Ray: pip install "nbmlops[ray,serve]"') from None
    if ray.is_initialized():
        return
    from nbmlops.runners.ray_backend import RayBackendError
    from nbmlops.runners.ray_backend import init_ray as start_or_join

    try:
        start_or_join(cluster_address(address), log_to_driver=False)
    except RayBackendError as exc:
        raise GraphError(f"{what}: {exc}") from None
