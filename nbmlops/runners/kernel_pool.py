"""Warm kernels kept between runs (`nbmlops kernels start|stop|status`), claimed by the papermill backend so a
run's first step doesn't wait for a kernel to start and import the notebook's libraries.

The daemon (nbmlops.runners.kernel_daemon) lives in a per-user folder: NBMLOPS_KERNELS_DIR, else
`<user cache>/kernels` (nbmlops.user_cache), holding `daemon.json` (pid, socket), its lock, its log and the
kernels' connection files. This module is the client side: start/stop/status, and `claim`, which never raises:
no daemon, a daemon that died, no kernel ready for this notebook, any error — the run starts its kernels as it
would without one.

What makes a kernel fit a run (the key): the kernel's command (kernelspec argv with this Python), the
environment (less the variables nbmlops sets per run), the working directory and the setup cells. A claimed
kernel is refused by the run when a module it loaded changed on disk since its warm-up.
"""

from __future__ import annotations

import hashlib
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, NamedTuple

from nbmlops.errors import NbmlopsError
from nbmlops.processes import process_alive

STATE_FILE = "daemon.json"
LOCK_FILE = "daemon.lock"
LOG_FILE = "daemon.log"
IDLE_TIMEOUT_S = 3600.0
START_TIMEOUT_S = 60.0
CLAIM_TIMEOUT_S = 5.0
# set by nbmlops for each run or step, or by jupyter_client for each kernel: not part of what a kernel fits
PER_RUN_VARIABLES = frozenset({"NBMLOPS_HOME", "NBMLOPS_RUN_ID", "NBMLOPS_STEP", "JPY_PARENT_PID"})


class KernelPoolError(NbmlopsError):
    """The kernel daemon can't be started or reached when a command needs it."""


def pool_dir() -> Path:
    folder = os.environ.get("NBMLOPS_KERNELS_DIR")
    if folder:
        return Path(folder).expanduser().resolve()
    from nbmlops.user_cache import user_cache_dir

    return user_cache_dir().resolve() / "kernels"


def socket_path(folder: Path) -> str:
    """The daemon's Unix socket: in its folder, or under the temp folder when that path is too long for one."""
    path = str(folder / "daemon.sock")
    if len(path.encode()) < 100:
        return path
    digest = hashlib.sha256(str(folder).encode()).hexdigest()[:12]
    return os.path.join(tempfile.gettempdir(), f"nbmlops-kernels-{digest}.sock")


def kernel_command(name: str) -> list[str]:
    """The command a kernel named `name` starts with from this process, as jupyter_client forms it."""
    from jupyter_client.kernelspec import KernelSpecManager

    spec = KernelSpecManager().get_kernel_spec(name)
    argv = list(spec.argv)
    major, minor = sys.version_info[:2]
    if argv and argv[0] in {"python", f"python{major}", f"python{major}.{minor}"}:
        argv[0] = sys.executable
    return [*argv, json.dumps(sorted((spec.env or {}).items()))]


def kernel_request(
    kernel_name: str, cwd: str, preamble: str, setup: list[str], label: str = "", want: int = 1
) -> dict[str, Any]:
    """What a claim sends: enough for the daemon to start and warm the next kernels like this one (`want`: as
    many as the run uses at once)."""
    env = dict(os.environ)
    command = kernel_command(kernel_name)
    fitting = {k: v for k, v in env.items() if k not in PER_RUN_VARIABLES}
    key = hashlib.sha256(json.dumps([kernel_name, command, fitting, cwd, setup], sort_keys=True).encode())
    return {
        "key": key.hexdigest()[:16],
        "kernel_name": kernel_name,
        "kernel_command": command,
        "env": env,
        "cwd": cwd,
        "preamble": preamble,
        "setup": setup,
        "label": label,
        "want": want,
    }


class Claim:
    """A kernel handed to this process alone, for as long as the connection is open."""

    def __init__(self, sock: socket.socket, pid: int, connection: dict[str, Any]) -> None:
        self.sock = sock
        self.pid = pid
        self.connection = connection

    def close(self) -> None:
        """End the claim: the daemon ends the kernel (the caller kills it too, in case the daemon is gone)."""
        try:
            self.sock.close()
        except OSError:
            pass


def _connect(folder: Path, timeout: float) -> socket.socket | None:
    try:
        state = json.loads((folder / STATE_FILE).read_text())
    except (OSError, ValueError):
        return None
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(timeout)
    try:
        sock.connect(state["socket"])
    except (OSError, KeyError, TypeError):
        sock.close()
        return None
    return sock


def _ask(sock: socket.socket, message: dict[str, Any]) -> dict[str, Any]:
    sock.sendall((json.dumps(message) + "\n").encode())
    data = b""
    while not data.endswith(b"\n"):
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError("the kernel daemon closed the connection")
        data += chunk
    return dict(json.loads(data))


def claim(request: dict[str, Any], folder: Path | None = None, timeout: float = CLAIM_TIMEOUT_S) -> Claim | None:
    """A warm kernel for this request from the daemon, or None (no daemon, none ready, any failure)."""
    sock = _connect(folder or pool_dir(), timeout)
    if sock is None:
        return None
    try:
        reply = _ask(sock, {"op": "claim", "request": request})
    except (OSError, ValueError):
        sock.close()
        return None
    if not reply.get("ok"):
        sock.close()
        return None
    sock.settimeout(None)
    return Claim(sock, int(reply["pid"]), reply["connection"])


def daemon_status(folder: Path | None = None, timeout: float = 5.0) -> dict[str, Any] | None:
    """The running daemon's status (pid, kernels with their state), or None when none answers."""
    sock = _connect(folder or pool_dir(), timeout)
    if sock is None:
        return None
    try:
        return _ask(sock, {"op": "status"})
    except (OSError, ValueError):
        return None
    finally:
        sock.close()


class DaemonInfo(NamedTuple):
    pid: int
    folder: str


def start_daemon(
    idle_timeout: float = IDLE_TIMEOUT_S,
    max_kernels: int | None = None,
    folder: Path | None = None,
    timeout: float = START_TIMEOUT_S,
) -> tuple[DaemonInfo, bool]:
    """Start the daemon in the background unless one runs; (daemon, True when started now)."""
    folder = folder or pool_dir()
    running = daemon_status(folder)
    if running is not None:
        return DaemonInfo(running["pid"], str(folder)), False
    if idle_timeout <= 0:
        raise KernelPoolError(f"--idle-timeout must be positive (got {idle_timeout:g})")
    max_kernels = max_kernels or max(2, os.cpu_count() or 1)
    if max_kernels < 1:
        raise KernelPoolError(f"--max-kernels must be at least 1 (got {max_kernels})")
    folder.mkdir(parents=True, exist_ok=True)
    (folder / STATE_FILE).unlink(missing_ok=True)
    command = [
        sys.executable,
        "-m",
        "nbmlops.runners.kernel_daemon",
        f"--folder={folder}",
        f"--idle-timeout={idle_timeout}",
        f"--max-kernels={max_kernels}",
    ]
    with open(folder / LOG_FILE, "ab") as log:
        process = subprocess.Popen(
            command, stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True, cwd=folder
        )
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status = daemon_status(folder)
        if status is not None:
            return DaemonInfo(status["pid"], str(folder)), True
        if process.poll() is not None:
            break
        time.sleep(0.1)
    if process.poll() is None:
        process.kill()
    tail = (folder / LOG_FILE).read_text(errors="replace").strip().splitlines()[-1:]
    raise KernelPoolError(f"the kernel daemon did not start (log {folder / LOG_FILE}{': ' + tail[0] if tail else ''})")


def stop_daemon(folder: Path | None = None, timeout: float = 30.0) -> bool:
    """Stop the daemon and its spare kernels (kernels runs are using stay theirs); whether one was running."""
    folder = folder or pool_dir()
    status = daemon_status(folder)
    if status is None:
        return False
    sock = _connect(folder, 5.0)
    if sock is not None:
        try:
            _ask(sock, {"op": "stop"})
        except (OSError, ValueError):
            pass
        finally:
            sock.close()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and process_alive(status["pid"]):
        time.sleep(0.1)
    if process_alive(status["pid"]):
        os.kill(status["pid"], 9)
    return True
