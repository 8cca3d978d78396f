"""A local Ray cluster kept running between commands (`nbmlops ray start|stop|status`), so that `--backend ray`
joins it instead of paying Ray's start-up on every run.

The head node is Ray's own (`ray start --head`), started with a Ray temp folder of its own
(`NBMLOPS_RAY_DIR`, else `<tmp>/nbmlops-ray-<uid>`: short, as Ray's socket paths must be) on 127.0.0.1 and a
free port, and described in `<that folder>/nbmlops-cluster.json` (address, port, CPUs). Every process of the
cluster names that folder on its command line, so `stop` ends exactly those processes (never `ray stop`,
which ends every Ray on the machine). A recorded cluster whose port no longer answers is not used.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NamedTuple

from nbmlops.errors import NbmlopsError

STATE_FILE = "nbmlops-cluster.json"
START_TIMEOUT_S = 600.0  # Ray's head start on a loaded machine: minutes; bounded
STOP_TIMEOUT_S = 30.0


class RayClusterError(NbmlopsError):
    """The local Ray cluster can't be started, or isn't running when it must be."""


class LocalCluster(NamedTuple):
    address: str  # what ray.init(address=...) and --ray-address take
    port: int
    num_cpus: int | None
    folder: str  # Ray's temp folder for this cluster
    started: float


NODE_START_S = 90.0  # how long a starting Ray node may take to register (Ray's own wait is a fixed 30 s)


@contextlib.contextmanager
def patient_node_start(seconds: float = NODE_START_S) -> Iterator[None]:
    """Give a Ray node started in this process `seconds` to come up instead of Ray's fixed 30 s.

    A node registers once its raylet has heard from its agents (Python processes); on a loaded machine their
    imports alone take longer than Ray waits, and the start fails though nothing is wrong. Ray polls
    `services.get_node` until its deadline: here each poll waits for the node up to ours. The raylet's wait for
    its agents to register follows the same bound (RAY_agent_register_timeout_ms); its wait for their port files
    is fixed (~15 s here), so a start on a very loaded machine can still fail: callers try again."""
    from ray._private import services

    original = services.get_node

    def get_node(*args: Any, **kwargs: Any) -> Any:
        deadline = time.monotonic() + seconds
        while True:
            try:
                return original(*args, **kwargs)
            except RuntimeError:  # not registered yet
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.5)

    os.environ.setdefault("RAY_agent_register_timeout_ms", str(int(seconds * 1000)))
    services.get_node = get_node
    try:
        yield
    finally:
        services.get_node = original


def child_pids() -> set[int]:
    """Pids of this process's children (and theirs)."""
    import psutil

    return {child.pid for child in psutil.Process().children(recursive=True)}


def end_leftovers(before: set[int], timeout: float = STOP_TIMEOUT_S) -> None:
    """End the children this process started since `before` was taken: what a failed node start leaves
    running (its GCS, agents), which Ray does not stop when its start raises."""
    terminate(child_pids() - before, timeout)


def terminate(pids: set[int] | list[int], timeout: float) -> int:
    """SIGTERM each process, SIGKILL those still alive after `timeout`; how many were found running."""
    import psutil

    processes = []
    for pid in pids:
        try:
            process = psutil.Process(pid)
            process.terminate()
            processes.append(process)
        except psutil.NoSuchProcess:
            continue
    _, alive = psutil.wait_procs(processes, timeout=timeout)
    for process in alive:
        try:
            process.kill()
        except psutil.NoSuchProcess:
            continue
    return len(processes)


def cluster_dir() -> Path:
    """Ray's temp folder for the local cluster (NBMLOPS_RAY_DIR, else a short per-user one under /tmp)."""
    folder = os.environ.get("NBMLOPS_RAY_DIR")
    if folder:
        return Path(folder).expanduser().resolve()
    uid = os.getuid() if hasattr(os, "getuid") else 0
    return Path(tempfile.gettempdir()) / f"nbmlops-ray-{uid}"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _answers(port: int, timeout: float = 2.0) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout):
            return True
    except OSError:
        return False


def recorded_cluster(folder: Path | None = None) -> LocalCluster | None:
    """The cluster `nbmlops ray start` recorded, when its head still answers; else None."""
    path = (folder or cluster_dir()) / STATE_FILE
    try:
        cluster = LocalCluster(**json.loads(path.read_text()))
    except (OSError, ValueError, TypeError):
        return None
    return cluster if _answers(cluster.port) else None


def cluster_processes(folder: Path | None = None) -> list[int]:
    """Pids of the processes of the local cluster: those naming its temp folder on their command line."""
    import psutil  # a dependency of Ray

    marker = str(folder or cluster_dir())
    found = []
    for process in psutil.process_iter(["pid", "cmdline"]):
        cmdline = process.info.get("cmdline") or []
        if process.info["pid"] != os.getpid() and any(marker in part for part in cmdline):
            found.append(process.info["pid"])
    return sorted(found)


def start_cluster(
    num_cpus: int | None = None, folder: Path | None = None, timeout: float = START_TIMEOUT_S
) -> tuple[LocalCluster, bool]:
    """Start the local head node unless one runs; (cluster, True when started now)."""
    folder = folder or cluster_dir()
    running = recorded_cluster(folder)
    if running is not None:
        return running, False
    stale = cluster_processes(folder)
    if stale:  # a head whose port stopped answering: end it before starting another in the same folder
        stop_cluster(folder)
    folder.mkdir(parents=True, exist_ok=True)
    port = _free_port()
    args = [
        "start",
        "--head",
        f"--port={port}",
        "--node-ip-address=127.0.0.1",
        "--include-dashboard=false",
        "--disable-usage-stats",
        f"--temp-dir={folder}",
    ]
    if num_cpus is not None:
        args.append(f"--num-cpus={num_cpus}")
    # Ray's own `ray start`, run by a module that gives the node time to come up on a loaded machine
    command = [sys.executable, "-m", "nbmlops.runners.ray_cluster", *args]
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        stop_cluster(folder)
        raise RayClusterError(f"Ray's head node did not start within {timeout:.0f} s (folder {folder})") from None
    if done.returncode != 0 or not _answers(port):
        stop_cluster(folder)
        detail = (done.stderr or done.stdout).strip().splitlines()
        raise RayClusterError("could not start a local Ray head node" + (f": {detail[-1]}" if detail else ""))
    cluster = LocalCluster(f"127.0.0.1:{port}", port, num_cpus, str(folder), time.time())
    tmp = folder / f".{STATE_FILE}.tmp"
    tmp.write_text(json.dumps(cluster._asdict()))
    os.replace(tmp, folder / STATE_FILE)
    return cluster, True


def stop_cluster(folder: Path | None = None, timeout: float = STOP_TIMEOUT_S) -> int:
    """End the local cluster's processes (SIGTERM, then SIGKILL after `timeout`); how many there were."""
    folder = folder or cluster_dir()
    ended = terminate(cluster_processes(folder), timeout)
    (folder / STATE_FILE).unlink(missing_ok=True)
    return ended


def cluster_status(folder: Path | None = None) -> dict[str, Any]:
    """What `nbmlops ray status` shows: running or not, address, CPUs asked, processes."""
    folder = folder or cluster_dir()
    cluster = recorded_cluster(folder)
    processes = cluster_processes(folder)
    if cluster is None:
        return {"running": False, "folder": str(folder), "processes": len(processes)}
    return {"running": True, **cluster._asdict(), "processes": len(processes)}


def _main(argv: list[str]) -> int:
    """`python -m nbmlops.runners.ray_cluster start ...`: Ray's CLI with a patient node start."""
    from ray.scripts.scripts import cli

    with patient_node_start():
        try:
            cli.main(args=argv, prog_name="ray", standalone_mode=False)
        except Exception as exc:  # noqa: BLE001 - reported to the parent through the exit code and stderr
            print(f"{type(exc).__name__}: {exc}", file=sys.stderr)
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(_main(sys.argv[1:]))
