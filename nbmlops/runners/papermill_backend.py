"""The papermill backend: each step runs as its generated, parameterized notebook (targets/papermill.py) through
papermill, and the executed notebook (outputs, plots, errors in place) is kept with the step.

Starting a kernel and importing a notebook's libraries costs seconds, which dominates small steps, so kernels
are pooled: each worker thread owns one kernel, warmed by running the setup cells once (their imports stay
loaded). Between steps the kernel is reset (user namespace, working directory, environment, sys.path), and
every step notebook still runs its setup cells itself, so a step never sees another step's variables.
`fresh_kernel=True` gives every step a new kernel instead (started ahead of time, nothing run in it) when
state outside the namespace (module globals, library options) must not carry over.

Every async kernel object lives on the worker thread that made it: nbclient's clients are bound to the event
loop of their thread.
"""

from __future__ import annotations

import json
import logging
import os
import queue
import re
import signal
import subprocess
import sys
import tempfile
import threading
from concurrent.futures import Future
from pathlib import Path
from typing import Any

from nbmlops.errors import NbmlopsError, StepFailed, cell_label
from nbmlops.pipeline.spec import PipelineSpec, Step
from nbmlops.pipeline.targets.papermill import MANIFEST, kernel_source, notebook_markdown, step_notebook
from nbmlops.runners.execution import unsaveable_failure
from nbmlops.runners.marshal import StoredValue
from nbmlops.runners.task import StepOutcome, StepTask

ENGINE = "nbmlops-pooled"
_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
_CELL_FRAME = re.compile(r"Cell In\[(\d+)\], line (\d+)")
_RESET = "from nbmlops.runners.runtime.papermill import reset_kernel_state as _r\n_r()\n"
_BASELINE = "from nbmlops.runners.runtime.papermill import snapshot_kernel_state as _s\n_s()\n"


def _register_engine() -> None:
    """A papermill engine that runs a notebook on a kernel we already hold (papermill's own starts one)."""
    from papermill.clientwrap import PapermillNotebookClient
    from papermill.engines import NBClientEngine, papermill_engines

    class PooledKernelEngine(NBClientEngine):
        @classmethod
        def execute_managed_notebook(
            cls,
            nb_man: Any,
            kernel_name: str,
            log_output: bool = False,
            stdout_file: Any = None,
            stderr_file: Any = None,
            start_timeout: int = 60,
            execution_timeout: float | None = None,
            **kwargs: Any,
        ) -> Any:
            kernel: _Kernel = kwargs["nbmlops_kernel"]
            client = PapermillNotebookClient(
                nb_man,
                km=kernel.km,
                kernel_name=kernel_name,
                timeout=execution_timeout,
                startup_timeout=start_timeout,
                log=logging.getLogger("papermill"),
                log_output=False,
            )
            client.kc = kernel.kc  # the kernel's long-lived client: nbclient keeps it as it doesn't own the kernel
            return client.execute()

    papermill_engines.register(ENGINE, PooledKernelEngine)


class _ClaimedManager:
    """What nbclient asks of a kernel manager, for a kernel the daemon started and this run claimed."""

    has_kernel = True

    def __init__(self, pid: int) -> None:
        self.pid = pid

    async def is_alive(self) -> bool:
        from nbmlops.processes import process_alive

        return process_alive(self.pid)

    async def interrupt_kernel(self) -> None:
        os.kill(self.pid, signal.SIGINT)

    async def shutdown_kernel(self, now: bool = False, restart: bool = False) -> None:
        self.kill()

    async def cleanup_resources(self, restart: bool = False) -> None:
        return None

    def kill(self) -> None:
        try:
            os.kill(self.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


class _Kernel:
    """A started kernel with its client, owned by one worker thread: one this run started (`start`), or one
    started ahead by the kernel daemon and claimed for this run alone (`adopt`)."""

    def __init__(self, km: Any, kc: Any, claim: Any = None) -> None:
        from jupyter_core.utils import run_sync

        self.run_sync = run_sync
        self.km = km
        self.kc = kc
        self.claim = claim
        self.steps_run = 0
        self.warm_key: str | None = None

    @classmethod
    def start(cls, name: str, cwd: Path) -> _Kernel:
        from jupyter_client.manager import AsyncKernelManager
        from jupyter_core.utils import run_sync

        km = AsyncKernelManager(kernel_name=name)
        if os.name == "posix":
            km.transport = "ipc"  # local sockets: no open TCP ports for the kernel
            km.ip = os.path.join(tempfile.gettempdir(), f"nbmlops-kernel-{os.getpid()}-{id(km)}")
        run_sync(km.start_kernel)(cwd=str(cwd), stdin=subprocess.DEVNULL)
        kernel = cls(km, km.client())
        kernel._connect()
        return kernel

    @classmethod
    def adopt(cls, claim: Any, cwd: Path, env: dict[str, str]) -> _Kernel | None:
        """The claimed kernel made this run's (its environment and working directory), or None when it can't
        be (a loaded module changed on disk, the kernel died): the claim is then ended."""
        from jupyter_client.asynchronous import AsyncKernelClient

        kc = AsyncKernelClient()
        kc.load_connection_info(claim.connection)
        kernel = cls(_ClaimedManager(claim.pid), kc, claim)
        why = ""
        try:
            kernel._connect(timeout=10)
            reply = kernel.run_sync(kc.execute_interactive)(
                "from nbmlops.runners.runtime.papermill import adopt_kernel as _a\n"
                f"_a({os.getpid()}, {env!r}, {str(cwd)!r})\n",
                silent=True,
                store_history=False,
                timeout=30,
                output_hook=lambda _msg: None,
            )
            if reply["content"]["status"] != "ok":
                why = f"{reply['content'].get('ename')}: {reply['content'].get('evalue')}"
        except Exception as exc:  # noqa: BLE001 - any trouble with a kernel started ahead: start one instead
            why = f"{type(exc).__name__}: {exc}"
        if why:
            logging.getLogger(__name__).info("kernel %d started ahead not used: %s", claim.pid, why)
            kernel.shutdown()
            return None
        return kernel

    def _connect(self, timeout: float = 60) -> None:
        self.kc.start_channels()
        try:
            self.run_sync(self.kc.wait_for_ready)(timeout=timeout)
        except RuntimeError:
            self.shutdown()
            raise
        self.kc.allow_stdin = False

    def run_code(self, code: str, timeout: float = 120) -> bool:
        """Run code quietly; True when it finished without an error."""
        reply = self.run_sync(self.kc.execute_interactive)(
            code, silent=True, store_history=False, timeout=timeout, output_hook=lambda _msg: None
        )
        return reply["content"]["status"] == "ok"

    def alive(self) -> bool:
        return bool(self.run_sync(self.km.is_alive)())

    def shutdown(self) -> None:
        try:
            self.kc.stop_channels()
        except Exception:  # noqa: BLE001 - a client that never started has nothing to stop
            pass
        self.run_sync(self.km.shutdown_kernel)(now=True)
        if self.claim is not None:
            self.claim.close()

    def kill(self) -> None:
        """From another thread (close on Ctrl-C): end the process without touching loop-bound objects."""
        if self.claim is not None:
            self.km.kill()
            self.claim.close()
            return
        process = getattr(self.km.provisioner, "process", None)
        if process is not None and process.poll() is None:
            process.kill()


class PapermillExecutor:
    """Runs steps as papermill notebooks, up to `workers` at once, on pooled warm kernels or fresh ones."""

    name = "papermill"

    def __init__(
        self,
        workers: int | None = None,
        kernel: str | None = None,
        fresh_kernel: bool = False,
        timeout: float | None = None,
    ) -> None:
        if workers is not None and workers < 1:
            raise NbmlopsError(f"--workers must be at least 1 (got {workers})")
        self.capacity = workers or os.cpu_count() or 1
        self.kernel_name = kernel
        if kernel is not None:
            _check_kernel(kernel, chosen=True)
        self.fresh_kernel = fresh_kernel
        self.timeout = timeout  # per cell, seconds; None: no limit
        self._jobs: queue.Queue[tuple[StepTask, Future[StepOutcome]] | None] = queue.Queue()
        self._lock = threading.Lock()
        self._threads: list[threading.Thread] = []
        self._idle = 0
        self._kernels: set[_Kernel] = set()
        self._closing = False
        self._first: StepTask | None = None  # what new kernels warm for
        self._notebooks: dict[str, dict[str, Any]] = {}
        self._markdown: dict[int, list[str]] | None = None
        self._submitted = 0
        _register_engine()

    # -- the Executor protocol ------------------------------------------------------------------------------
    def submit(self, task: StepTask) -> Future[StepOutcome]:
        future: Future[StepOutcome] = Future()
        with self._lock:
            if self._first is None:
                self._first = task
                if self.kernel_name is None:
                    self.kernel_name = task.spec.kernel_name or "python3"
                    _check_kernel(self.kernel_name, chosen=False)
                # start (and warm) as many kernels as the pipeline can use at once, while this step waits
                for _ in range(min(self.capacity, dag_width(task.spec))):
                    self._spawn()
            self._submitted += 1
            self._jobs.put((task, future))
            # a thread still starting its kernel counts as idle: it takes the job once ready
            if self._idle < self._jobs.qsize() and len(self._threads) < self.capacity:
                self._spawn()
        return future

    def close(self) -> None:
        with self._lock:
            self._closing = True
            for _ in self._threads:
                self._jobs.put(None)
            kernels = list(self._kernels)
        for thread in self._threads:
            thread.join(timeout=10)
        for kernel in kernels:
            if kernel in self._kernels:  # its thread didn't get to shut it down (a step still running)
                kernel.kill()

    # -- workers ----------------------------------------------------------------------------------------
    def _spawn(self) -> None:
        thread = threading.Thread(target=self._work, name=f"nbmlops-papermill-{len(self._threads)}", daemon=True)
        self._threads.append(thread)
        self._idle += 1  # called under the lock
        thread.start()

    def _work(self) -> None:
        kernel: _Kernel | None = None
        start_error: BaseException | None = None
        try:
            while True:
                if kernel is None and start_error is None and self._want_spare():
                    kernel, start_error = self._start_kernel()
                item = self._jobs.get()
                if item is None:
                    return
                task, future = item
                if not future.set_running_or_notify_cancel():
                    continue
                with self._lock:
                    self._idle -= 1
                if kernel is None:
                    kernel, start_error = self._start_kernel()
                if kernel is None:
                    future.set_result(_failed(task, f"the kernel '{self.kernel_name}' did not start: {start_error}"))
                    start_error = None  # try again for the next step
                    with self._lock:
                        self._idle += 1
                    continue
                error: BaseException | None = None
                try:
                    outcome, reusable = self._execute(task, kernel)
                except BaseException as exc:  # noqa: BLE001 - whatever happens must reach the orchestrator
                    error, reusable = exc, False
                # idle from here, reset included: the next step waits for this reset rather than for a new kernel
                # (counted before the result is out, which is when the next step is submitted)
                with self._lock:
                    self._idle += 1
                if error is not None:
                    future.set_exception(error)
                else:
                    future.set_result(outcome)
                if self.fresh_kernel or not reusable or not self._reset(kernel):
                    self._discard(kernel)
                    kernel = None
        finally:
            if kernel is not None:
                self._discard(kernel)

    def _want_spare(self) -> bool:
        """Start a kernel before a step asks for one, unless no step is left to use it."""
        with self._lock:
            if self._closing or self._first is None:
                return False
            return self._submitted < len(self._first.spec.steps) or not self._jobs.empty()

    def _start_kernel(self) -> tuple[_Kernel | None, BaseException | None]:
        first = self._first
        assert first is not None and self.kernel_name is not None
        kernel = None if self.fresh_kernel else self._claim(first)
        if kernel is not None:
            with self._lock:
                self._kernels.add(kernel)
            return kernel, None
        try:
            kernel = _Kernel.start(self.kernel_name, first.workdir)
        except Exception as exc:  # noqa: BLE001 - reported as the step's failure
            return None, exc
        with self._lock:
            self._kernels.add(kernel)
        if not kernel.run_code(_BASELINE):
            self._discard(kernel)
            return None, NbmlopsError(
                "nbmlops is not importable in the kernel; install it in the kernel's "
                "environment or pick another with --kernel"
            )
        if not self.fresh_kernel:
            self._warm(kernel, first)
        return kernel, None

    def _claim(self, task: StepTask) -> _Kernel | None:
        """A kernel the kernel daemon (`nbmlops kernels start`) warmed ahead for this notebook, or None: no
        daemon, none ready yet (the daemon then warms one for the next run), or one that can't be used."""
        from nbmlops.runners import kernel_pool

        assert self.kernel_name is not None
        try:
            want = min(self.capacity, dag_width(task.spec))
            request = kernel_pool.kernel_request(
                self.kernel_name, str(task.workdir), _preamble(task), _setup(task.spec), task.spec.name, want
            )
        except Exception:  # noqa: BLE001 - the kernelspec can't be read: started as without a daemon
            return None
        claim = kernel_pool.claim(request)
        if claim is None:
            return None
        env = {**request["env"], "JPY_PARENT_PID": str(os.getpid())}  # as a kernel this run starts has it
        kernel = _Kernel.adopt(claim, task.workdir, env)
        if kernel is not None:
            kernel.warm_key = task.spec.notebook_sha256
        return kernel

    def _warm(self, kernel: _Kernel, task: StepTask) -> None:
        """Run the setup cells once so their imports are loaded; the namespace is reset afterwards. A failing
        setup is not an error here: the step notebook runs setup again and shows the error in place."""
        if kernel.run_code(_preamble(task)):
            for code in _setup(task.spec):
                if not kernel.run_code(code):
                    break
        kernel.warm_key = task.spec.notebook_sha256
        self._reset(kernel)

    def _reset(self, kernel: _Kernel) -> bool:
        try:
            return kernel.alive() and kernel.run_code(_RESET, timeout=60)
        except Exception:  # noqa: BLE001 - a kernel that can't be reset is replaced, never reused
            return False

    def _discard(self, kernel: _Kernel) -> None:
        with self._lock:
            self._kernels.discard(kernel)
        try:
            kernel.shutdown()
        except Exception:  # noqa: BLE001 - already gone
            kernel.kill()

    # -- one step -----------------------------------------------------------------------------------------
    def _notebook(self, spec: PipelineSpec, step: Step) -> dict[str, Any]:
        with self._lock:
            if self._markdown is None:
                self._markdown = notebook_markdown(spec)
            if step.name not in self._notebooks:
                self._notebooks[step.name] = step_notebook(
                    spec, step, kernel_name=self.kernel_name, markdown=self._markdown
                )
            return self._notebooks[step.name]

    def _execute(self, task: StepTask, kernel: _Kernel) -> tuple[StepOutcome, bool]:
        """Run the step's notebook; (outcome, whether the kernel may be reused)."""
        import nbformat
        import papermill
        from papermill.exceptions import PapermillExecutionError

        task.step_dir.mkdir(parents=True, exist_ok=True)
        suffix = "" if task.attempt == 1 else f".attempt{task.attempt}"
        output = (task.step_dir / f"{task.name}{suffix}.ipynb").resolve()
        artifacts = {"notebook": str(output)}
        folders: dict[str, str] = {}
        for var, producer in task.step.inputs.items():
            folders[producer] = str(task.inputs[var][1])
        parameters = {
            **task.params,
            "nbmlops_input_dirs": folders,
            "nbmlops_output_dir": str(task.outputs_dir),
            "nbmlops_workdir": str(task.workdir),
            "nbmlops_run_id": task.run_id,
            "nbmlops_home": str(Path(task.home).resolve()),
            "nbmlops_data_dir": str(task.step_dir.parent),
        }
        nb = nbformat.from_dict(json.loads(json.dumps(self._notebook(task.spec, task.step))))
        error: PapermillExecutionError | None = None
        try:
            # saved once at the end (and on error): writing it after every cell costs more than a small step
            papermill.execute_notebook(
                nb,
                str(output),
                parameters=parameters,
                engine_name=ENGINE,
                request_save_on_cell_execute=False,
                kernel_name=self.kernel_name,
                progress_bar=False,
                log_output=False,
                execution_timeout=self.timeout,
                nbmlops_kernel=kernel,
            )
        except PapermillExecutionError as exc:
            error = exc
        except Exception as exc:  # noqa: BLE001 - a dead kernel, a timeout: the step fails, the kernel goes
            _write_logs(task, output)
            return StepOutcome(error=_failed(task, f"{type(exc).__name__}: {exc}"), artifacts=artifacts), False
        finally:
            kernel.steps_run += 1
        _write_logs(task, output)
        if error is not None:
            return StepOutcome(error=map_error(task.spec, task.step, error, output), artifacts=artifacts), True
        try:
            manifest = json.loads((task.outputs_dir / MANIFEST).read_text())["outputs"]
        except (OSError, ValueError, KeyError) as exc:
            return StepOutcome(
                error=_failed(task, f"its notebook saved no {MANIFEST} ({exc})"), artifacts=artifacts
            ), True
        outputs = {name: StoredValue(**manifest[name]) for name in task.step.outputs}
        return StepOutcome(outputs=outputs, artifacts=artifacts), True


# -- helpers ----------------------------------------------------------------------------------------------------
def _preamble(task: StepTask) -> str:
    """What a warm-up runs before the setup cells: the step's working directory and the run's parameters."""
    lines = [f"import os, sys\nos.chdir({str(task.workdir)!r})\nsys.path.insert(0, {str(task.workdir)!r})"]
    lines += [f"{name} = {value!r}" for name, value in task.params.items()]
    return "\n".join(lines)


def _setup(spec: PipelineSpec) -> list[str]:
    return [kernel_source(cell) for cell in spec.setup]


def _check_kernel(name: str, *, chosen: bool) -> None:
    from jupyter_client.kernelspec import KernelSpecManager, NoSuchKernel

    try:
        KernelSpecManager().get_kernel_spec(name)
    except NoSuchKernel:
        installed = ", ".join(sorted(KernelSpecManager().find_kernel_specs())) or "none"
        where = "--kernel" if chosen else "the notebook's kernelspec"
        raise NbmlopsError(
            f"no Jupyter kernel '{name}' (from {where}); installed: {installed}"
            + ("" if chosen else "; pick one with --kernel NAME")
        ) from None


def dag_width(spec: PipelineSpec) -> int:
    """How many steps can run at once at most, estimated as the widest level of the DAG."""
    level: dict[str, int] = {}
    for step in spec.steps:  # spec order is a topological order: upstream steps come first
        level[step.name] = 1 + max((level.get(u, 0) for u in step.upstream), default=0)
    counts: dict[int, int] = {}
    for value in level.values():
        counts[value] = counts.get(value, 0) + 1
    return max(counts.values(), default=1)


def _failed(task: StepTask, message: str) -> StepFailed:
    return StepFailed(f"step '{task.name}': {message}", step=task.name, cell=None, line=None, traceback_text=message)


def _plain(traceback: list[str] | str) -> str:
    text = "\n".join(traceback) if isinstance(traceback, list) else traceback
    return _ANSI.sub("", text)


def _cells_by_count(output: Path) -> dict[int, dict[str, Any]]:
    try:
        cells = json.loads(output.read_text())["cells"]
    except (OSError, ValueError, KeyError):
        return {}
    return {c["execution_count"]: c for c in cells if c.get("cell_type") == "code" and c.get("execution_count")}


_UNSAVEABLE = re.compile(r"'(\w+)' \(.*\) can't be saved to pass to another step")


def map_error(spec: PipelineSpec, step: Step, error: Any, output: Path) -> StepFailed:
    """A StepFailed naming the ORIGINAL notebook's cell and line: the deepest traceback frame that is a step or
    setup cell (`Cell In[N], line L`, N the generated cell's execution count, its metadata the source cell)."""
    text = _plain(error.traceback)
    unsaved = _UNSAVEABLE.match(error.evalue or "") if error.ename == "MarshalError" else None
    if unsaved and unsaved.group(1) in step.outputs:
        return unsaveable_failure(spec, step, unsaved.group(1), error.evalue, f"\n(executed notebook: {output})")
    by_count = _cells_by_count(output)
    cell: int | None = None
    line: int | None = None
    for match in _CELL_FRAME.finditer(text):
        meta = by_count.get(int(match.group(1)), {}).get("metadata", {}).get("nbmlops", {})
        if meta.get("kind") in ("step", "setup") and "cell" in meta:
            cell, line = meta["cell"], int(match.group(2))
    if cell is None:  # no frame line (e.g. a SyntaxError): the failing cell itself
        meta = by_count.get(error.exec_count, {}).get("metadata", {}).get("nbmlops", {})
        if meta.get("kind") in ("step", "setup"):
            cell = meta.get("cell")
    if cell is None:
        message = f"step '{step.name}': {error.ename}: {error.evalue}"
    else:
        message = f"step '{step.name}' failed in {cell_label(cell)}"
        source = next((c.source for c in [*spec.setup, *step.cells] if c.index == cell), "")
        lines = source.splitlines()
        if line and 0 < line <= len(lines):
            message += f", line {line}: {lines[line - 1].strip()}"
        message += f"\n{error.ename}: {error.evalue}"
    message += f"\n(executed notebook: {output})"
    return StepFailed(message, step=step.name, cell=cell, line=line, traceback_text=text)


def _write_logs(task: StepTask, output: Path) -> None:
    """stdout.txt and stderr.txt from the executed notebook's stream and error outputs."""
    out: list[str] = []
    err: list[str] = []
    try:
        cells = json.loads(output.read_text())["cells"]
    except (OSError, ValueError, KeyError):
        cells = []
    for cell in cells:
        for item in cell.get("outputs", []):
            kind = item.get("output_type")
            if kind == "stream":
                text = item.get("text", "")
                text = "".join(text) if isinstance(text, list) else text
                (out if item.get("name") == "stdout" else err).append(text)
            elif kind == "error":
                err.append(_plain(item.get("traceback", [])) + "\n")
    (task.step_dir / "stdout.txt").write_text("".join(out))
    (task.step_dir / "stderr.txt").write_text("".join(err))
    if task.echo:
        sys.__stdout__.write("".join(out))
        sys.__stderr__.write("".join(err))
