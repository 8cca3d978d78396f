"""The kernel daemon behind `nbmlops kernels start`: warm kernels started ahead of the papermill backend's runs.

One process per user (its folder: nbmlops.runners.kernel_pool.pool_dir()), an asyncio server on a Unix socket.
A run asks for a kernel for its notebook (a key: kernel, environment, working directory, setup cells); the
daemon hands over one it started and warmed ahead (setup cells run, namespace reset, loaded module files
recorded), and starts the next one for the next run. The kernel is handed to that one claim only: the claim is
the connection, and when it closes (the run ended, crashed or was killed) the daemon ends the kernel. Nothing
is ever returned to the pool. A claim for a key with nothing ready gets a refusal at once (the run starts its
own kernels, as without a daemon) and the daemon starts one for the next run.

Kernels are started `independent` (no JPY_PARENT_PID): each follows its owner through
runtime.papermill.watch_owner instead, first this daemon, then the run that claimed it, so a daemon that dies
takes its spare kernels with it but never a kernel a run is using.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import fcntl
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nbmlops.runners.kernel_pool import LOCK_FILE, STATE_FILE, kernel_command, socket_path

_SNAPSHOT = (
    "from nbmlops.runners.runtime.papermill import snapshot_kernel_state as _s, watch_owner as _w\n_w({pid})\n_s()\n"
)
_RESET = "from nbmlops.runners.runtime.papermill import reset_kernel_state as _r\n_r()\n"
_RECORD = "from nbmlops.runners.runtime.papermill import record_module_files as _m\n_m()\n"


@dataclass(eq=False)
class Pooled:
    """A kernel this daemon started: ready for a claim, or handed to one."""

    key: str
    km: Any  # jupyter_client's AsyncKernelManager
    label: str
    state: str = "starting"
    since: float = field(default_factory=time.time)

    @property
    def pid(self) -> int:
        return int(getattr(self.km.provisioner, "pid", 0) or 0)


class Daemon:
    def __init__(self, folder: Path, idle_timeout: float, max_kernels: int) -> None:
        self.folder = folder
        self.idle_timeout = idle_timeout
        self.max_kernels = max_kernels
        self.kernels: list[Pooled] = []
        self.last_claim: dict[str, float] = {}
        self.stopping = asyncio.Event()
        self._commands: dict[str, list[str] | None] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    # -- the protocol: one JSON object a line each way ------------------------------------------------------
    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        held: list[Pooled] = []
        try:
            while line := await reader.readline():
                try:
                    message = json.loads(line)
                    reply = await self.answer(message, held)
                except Exception as exc:  # noqa: BLE001 - a bad request is answered, the daemon keeps serving
                    reply = {"ok": False, "reason": f"{type(exc).__name__}: {exc}"}
                writer.write((json.dumps(reply) + "\n").encode())
                await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()
            if not self.stopping.is_set():  # stopping leaves claimed kernels to their runs
                for kernel in held:
                    await self.discard(kernel)

    async def answer(self, message: dict[str, Any], held: list[Pooled]) -> dict[str, Any]:
        op = message.get("op")
        if op == "status":
            return {"ok": True, **self.status()}
        if op == "stop":
            self.stopping.set()
            return {"ok": True}
        if op == "claim":
            return await self.claim(message["request"], held)
        return {"ok": False, "reason": f"unknown op {op!r}"}

    async def claim(self, request: dict[str, Any], held: list[Pooled]) -> dict[str, Any]:
        key = request["key"]
        mine = self._command(request["kernel_name"])
        if mine != request["kernel_command"]:
            return {"ok": False, "reason": f"the daemon's kernel '{request['kernel_name']}' is another command"}
        self.last_claim[key] = time.time()
        for kernel in [k for k in self.kernels if k.key == key and k.state == "ready"]:
            if not await kernel.km.is_alive():
                await self.discard(kernel)
                continue
            kernel.state, kernel.since = "claimed", time.time()
            held.append(kernel)
            self._top_up(request)  # the next run's
            info = dict(kernel.km.get_connection_info(session=False))
            info["key"] = info["key"].decode() if isinstance(info["key"], bytes) else info["key"]
            return {"ok": True, "pid": kernel.pid, "connection": info}
        self._top_up(request)
        return {"ok": False, "reason": "no kernel ready for this notebook yet (one is starting)"}

    def _top_up(self, request: dict[str, Any]) -> None:
        """Start kernels for this key until as many are ready or starting as its runs use at once."""
        spare = sum(1 for k in self.kernels if k.key == request["key"] and k.state != "claimed")
        for _ in range(int(request.get("want", 1)) - spare):
            self._spawn(request)

    def status(self) -> dict[str, Any]:
        kernels = [
            {"pid": k.pid, "state": k.state, "label": k.label, "key": k.key, "since": k.since} for k in self.kernels
        ]
        return {
            "pid": os.getpid(),
            "folder": str(self.folder),
            "idle_timeout": self.idle_timeout,
            "max_kernels": self.max_kernels,
            "kernels": kernels,
        }

    # -- kernels -------------------------------------------------------------------------------------------------
    def _command(self, name: str) -> list[str] | None:
        if name not in self._commands:
            try:
                self._commands[name] = kernel_command(name)
            except Exception:  # noqa: BLE001 - no such kernel here: never pooled
                self._commands[name] = None
        return self._commands[name]

    def _spawn(self, request: dict[str, Any]) -> None:
        if self.stopping.is_set():
            return
        if len(self.kernels) >= self.max_kernels and not self._evict(request["key"]):
            return
        task = asyncio.ensure_future(self.start(request))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _evict(self, key: str) -> bool:
        """Make room: end the ready kernel of the key claimed longest ago (not this key's)."""
        others = [k for k in self.kernels if k.state == "ready" and k.key != key]
        if not others:
            return False
        oldest = min(others, key=lambda k: self.last_claim.get(k.key, 0.0))
        self.kernels.remove(oldest)
        self._spawn_discard(oldest)
        return True

    def _spawn_discard(self, kernel: Pooled) -> None:
        task = asyncio.ensure_future(self.discard(kernel))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def start(self, request: dict[str, Any]) -> None:
        from jupyter_client.manager import AsyncKernelManager

        km = AsyncKernelManager(kernel_name=request["kernel_name"])
        kernel = Pooled(request["key"], km, request.get("label", ""))
        km.transport = "ipc"  # local sockets, as the backend's own kernels
        km.ip = os.path.join(tempfile.gettempdir(), f"nbmlops-kernel-{os.getpid()}-{id(kernel)}")
        self.kernels.append(kernel)
        env = dict(request["env"])
        env.pop("JPY_PARENT_PID", None)  # the kernel follows its owner by watch_owner, not its parent
        try:
            await km.start_kernel(
                cwd=request["cwd"], env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, independent=True
            )
            kc = km.client()
            kc.start_channels()
            try:
                await kc.wait_for_ready(timeout=120)
                if not await _run(kc, _SNAPSHOT.format(pid=os.getpid())):
                    raise RuntimeError("nbmlops is not importable in the kernel")
                # as the backend's own warm-up: setup cells after the preamble, up to one that fails
                if await _run(kc, request["preamble"]):
                    for code in request["setup"]:
                        if not await _run(kc, code):
                            break
                if not (await _run(kc, _RESET) and await _run(kc, _RECORD)):
                    raise RuntimeError("the kernel could not be reset after its warm-up")
            finally:
                kc.stop_channels()
        except Exception as exc:  # noqa: BLE001 - logged; claims for this key keep falling back
            print(f"kernel for {kernel.label} did not start: {type(exc).__name__}: {exc}", file=sys.stderr)
            await self.discard(kernel)
            return
        if kernel in self.kernels and not self.stopping.is_set():
            kernel.state, kernel.since = "ready", time.time()
        else:
            await self.discard(kernel)

    async def discard(self, kernel: Pooled) -> None:
        if kernel in self.kernels:
            self.kernels.remove(kernel)
        with contextlib.suppress(Exception):  # already gone
            await kernel.km.shutdown_kernel(now=True)

    async def tend(self) -> None:
        """Every half second: forget kernels that died (reaping them), end ready ones idle too long."""
        while not self.stopping.is_set():
            now = time.time()
            for kernel in list(self.kernels):
                if kernel.state == "starting":
                    continue
                idle = kernel.state == "ready" and now - max(kernel.since, self.last_claim.get(kernel.key, 0)) > (
                    self.idle_timeout
                )
                if idle or not await kernel.km.is_alive():
                    await self.discard(kernel)
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self.stopping.wait(), 0.5)

    async def serve(self) -> None:
        path = socket_path(self.folder)
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)
        server = await asyncio.start_unix_server(self.handle, path=path)
        os.chmod(path, 0o600)
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self.stopping.set)
        state = {"pid": os.getpid(), "socket": path, "started": time.time(), "max_kernels": self.max_kernels}
        tmp = self.folder / f".{STATE_FILE}.tmp"
        tmp.write_text(json.dumps(state))
        os.replace(tmp, self.folder / STATE_FILE)
        try:
            await self.tend()
        finally:
            server.close()
            for task in list(self._tasks):
                task.cancel()
            for kernel in [k for k in self.kernels if k.state != "claimed"]:
                await self.discard(kernel)
            (self.folder / STATE_FILE).unlink(missing_ok=True)
            with contextlib.suppress(FileNotFoundError):
                os.unlink(path)


async def _run(kc: Any, code: str) -> bool:
    reply = await kc.execute_interactive(
        code, silent=True, store_history=False, timeout=600, output_hook=lambda _msg: None
    )
    return bool(reply["content"]["status"] == "ok")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m nbmlops.runners.kernel_daemon")
    parser.add_argument("--folder", required=True)
    parser.add_argument("--idle-timeout", type=float, required=True)
    parser.add_argument("--max-kernels", type=int, required=True)
    args = parser.parse_args(argv)
    folder = Path(args.folder)
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / LOCK_FILE, "w") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            print(f"a kernel daemon already runs for {folder}", file=sys.stderr)
            return 1
        asyncio.run(Daemon(folder, args.idle_timeout, args.max_kernels).serve())
    return 0


if __name__ == "__main__":
    sys.exit(main())
