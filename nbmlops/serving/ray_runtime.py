"""Starting (or joining) the Ray runtime the Ray engines use: Ray Serve (`serve --engine ray`) and Ray Data batch
scoring (`predict --engine ray`)."""

from __future__ import annotations

import contextlib
import logging
import os

from nbmlops.serving.errors import GraphError


def init_ray(address: str | None, *, what: str = "--engine ray") -> None:
    """ray.init on `address` (None: a local Ray), unless this process already joined one."""
    try:
        import ray
    except ImportError:
        raise GraphError(f'{what} needs Ray: pip install "nbmlops[ray,serve]"') from None
    if ray.is_initialized():
        return
    if address is None:
        # the raylet waits a fixed time for its agents; their imports take longer on a loaded machine
        os.environ.setdefault("RAY_agent_register_timeout_ms", "120000")
    for attempt in (1, 2):  # a local start on a loaded machine can miss Ray's fixed 30 s; the retry finds it warm
        try:
            ray.init(address=address, include_dashboard=False, logging_level=logging.WARNING, log_to_driver=False)
            return
        except Exception as exc:  # noqa: BLE001 - Ray raises a bare Exception when its node times out
            with contextlib.suppress(Exception):
                ray.shutdown()
            if address is not None or attempt == 2:
                where = f"the Ray cluster at {address}" if address else "a local Ray runtime"
                raise GraphError(f"{what}: could not start {where}: {exc}") from None
