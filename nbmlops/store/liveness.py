"""Is the process behind a 'running' run still alive? Heartbeats across hosts, pids on this one."""

from __future__ import annotations

import os
from functools import cache

# A run's heartbeat thread beats every HEARTBEAT_S; one silent for STALE_AFTER_S is presumed dead.
HEARTBEAT_S = 5.0
STALE_AFTER_S = 60.0
# On this host a live pid vouches for a run, but not forever: pids get reused.
LIVE_PID_STALE_AFTER_S = 3600.0


@cache
def this_host() -> str:
    if hasattr(os, "uname"):
        return os.uname().nodename  # what socket.gethostname() returns, without importing socket
    import socket

    return socket.gethostname()


def pid_alive(pid: int) -> bool:
    """True when a process with this pid exists on this host and is not a zombie."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process: alive
    try:
        with open(f"/proc/{pid}/stat") as handle:
            # state follows the parenthesised command name, which may itself hold spaces or parens
            return handle.read().rpartition(")")[2].split()[0] != "Z"
    except (FileNotFoundError, IndexError):
        return os.path.exists(f"/proc/{pid}") or not os.path.isdir("/proc")


def stale_reason(
    *, host: str | None, pid: int | None, heartbeat_at: float | None, started_at: float, now: float, stale_after: float
) -> str | None:
    """Why a 'running' run should be considered failed, or None while it may still be alive."""
    last = heartbeat_at or started_at
    silent = now - last
    if host == this_host() and pid:
        if not pid_alive(pid):
            return f"process {pid} on {host} ended without finishing the run (last heartbeat {silent:.0f} s ago)"
        if silent > max(stale_after, LIVE_PID_STALE_AFTER_S):
            return f"no heartbeat for {silent:.0f} s (pid {pid} on {host} is alive but silent: reused or hung)"
        return None
    if silent > stale_after:
        return f"no heartbeat for {silent:.0f} s from pid {pid} on {host}: presumed dead"
    return None
