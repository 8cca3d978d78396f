"""The Ray backend: each step is a Ray task with the resources its options ask for (`cpus`, `gpus`, `memory`).

A step runs in a Ray worker exactly as the local backend runs it (setup, parameters, inputs, cells, logs in
the step folder, errors mapped to the notebook cell), and its outputs go two ways: marshalled for the run
folder (cache, lineage, `%pipeline load`) and into Ray's object store, from where downstream tasks receive
them as object refs without reading files. With a remote artifact root (s3://…) the worker writes the step's
files in a scratch folder of its node and publishes them under the root, and the driver takes them into its
run folder (ray_files.py): a node needs nothing of the driver's disk. `address=` (or NBMLOPS_RAY_ADDRESS /
`ray_address` in nbmlops.toml) joins a cluster; else the local cluster `nbmlops ray start` keeps running
(ray_cluster.py) when there is one; else `ray.init()` starts Ray in this process. Each step's status records
the Ray node it ran on, and the node of every attempt (Ray's own retries after a worker or node died count).
"""

from __future__ import annotations

import contextlib
import logging
import os
import pickle
import threading
from collections.abc import Iterator
from concurrent.futures import Future
from pathlib import Path
from typing import Any, NamedTuple

from nbmlops.errors import NbmlopsError, StepFailed
from nbmlops.runners import ray_files
from nbmlops.runners.ray_cluster import child_pids, end_leftovers, patient_node_start
from nbmlops.runners.ray_files import Outbox
from nbmlops.runners.task import StepOutcome, StepTask
from nbmlops.step_options import parse_memory

# the store settings a worker must see as the driver does now (tests and users switch them after ray.init)
PASSED_ENV = ("NBMLOPS_DB_URL", "NBMLOPS_ARTIFACT_ROOT")


class RayBackendError(NbmlopsError):
    """Ray can't start or be reached, or a step asks for resources the cluster can never give."""


def step_resources(options: dict[str, Any]) -> dict[str, Any]:
    """Ray task options for a step's `cpus`, `gpus` and `memory` (a step asks for 1 CPU unless it says)."""
    resources: dict[str, Any] = {"num_cpus": options.get("cpus", 1)}
    if options.get("gpus"):
        resources["num_gpus"] = options["gpus"]
    if options.get("memory"):
        resources["memory"] = parse_memory(options["memory"])
    return resources


# -- in the Ray worker ------------------------------------------------------------------------------------
def _run_step(task: StepTask, env: dict[str, str | None], outbox: Outbox, names: list[str], *payloads: bytes) -> Any:
    """The Ray task: run one step; return its report (plain data) and each output pickled for the object
    store (None where it can't be: modules, unpicklables), so Ray can hand them to downstream tasks."""
    with _environment(env):
        node = _node_id()
        ray_files.mark_attempt(outbox, task.step_dir, node)  # first: a worker killed mid-step leaves it
        values = {name: pickle.loads(payload) for name, payload in zip(names, payloads, strict=True)}
        if outbox.remote is None:
            outcome, namespace, files = *_execute(task, values, task.home), None
        else:
            outcome, namespace, files = _execute_on_scratch(task, values, outbox.remote)
        attempts = ray_files.take_attempts(outbox, task.step_dir)
    pickled = [_pickle(namespace.get(n)) if outcome.error is None else None for n in task.step.outputs]
    report = {
        "outputs": {n: s.to_dict() for n, s in outcome.outputs.items()},
        "artifacts": outcome.artifacts,
        "error": None if outcome.error is None else _error_fields(outcome.error),
        "placement": {"node": node, "inputs_by_ref": sorted(names)},
        "in_store": [n for n, data in zip(task.step.outputs, pickled, strict=True) if data is not None],
        "files": files,  # a remote root: the step's files there, by path in its folder
        "attempts": attempts,
    }
    return (report, *pickled) if task.step.outputs else report


def _execute(task: StepTask, values: dict[str, Any], home: Path) -> tuple[StepOutcome, dict[str, Any]]:
    from nbmlops.runners.local import execute_in_process
    from nbmlops.tracking import attach, get_store

    with attach(task.run_id, task.name, store=get_store(home)):
        return execute_in_process(task, values)


def _execute_on_scratch(
    task: StepTask, values: dict[str, Any], root: str
) -> tuple[StepOutcome, dict[str, Any], dict[str, str]]:
    """Run the step in a scratch folder of this node and publish its files under the artifact root: nothing
    is written to the driver's paths (its run folder, its project home), which this node may not have."""
    import shutil
    import tempfile

    import ray

    # under Ray's temp folder of this node (Ray removes it with the session); the home is one per worker
    # process, so its store (connection, schema check) is opened once, not once per step
    base = Path(ray.get_runtime_context().get_temp_dir()) / "nbmlops"
    home = base / f"home-{os.getpid()}"
    base.mkdir(parents=True, exist_ok=True)
    folder = Path(tempfile.mkdtemp(prefix=f"{task.run_id}-{task.name}-", dir=base))
    store = ray_files.artifact_store(root)
    try:
        try:
            scratch = ray_files.scratch_task(task, folder, store, set(values), home)
        except NbmlopsError as exc:  # an input missing from the root, or changed there
            return StepOutcome(error=_failed(task, str(exc))), {}, {}
        # user code that opens the project (nbmlops.load_model) gets the configured store, here too
        with _environment({"NBMLOPS_HOME": str(home)}):
            outcome, namespace = _execute(scratch.task, values, home)
        files = ray_files.publish(store, scratch.task.step_dir)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    outcome.artifacts = {
        key: ray_files.driver_path(path, scratch.task.step_dir, task.step_dir)
        for key, path in outcome.artifacts.items()
    }
    return outcome, namespace, files


def _pickle(value: Any) -> bytes | None:
    """In-band pickle (not Ray's zero-copy one): the reader gets writable arrays, as from the local backend."""
    import types

    import cloudpickle

    if isinstance(value, types.ModuleType):
        return None  # re-imported from its file by name downstream
    try:
        return cloudpickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)
    except Exception:  # noqa: BLE001 - the run folder has it (marshalled); downstream reads that instead
        return None


def _error_fields(error: StepFailed) -> dict[str, Any]:
    # StepFailed takes keyword-only arguments, so it does not survive pickling through Ray: send its fields
    return {
        "message": str(error),
        "step": error.step,
        "cell": error.cell,
        "line": error.line,
        "traceback_text": error.traceback_text,
    }


def _node_id() -> str | None:
    import ray

    return ray.get_runtime_context().get_node_id() if ray.is_initialized() else None


def _warm_worker() -> str | None:
    """A no-op task that leaves a worker of this job on its node with a step's imports loaded."""
    import nbmlops.runners.local  # noqa: F401 - what every step imports first

    return _node_id()


@contextlib.contextmanager
def _environment(env: dict[str, str | None]) -> Iterator[None]:
    saved = {key: os.environ.get(key) for key in env}
    for key, value in env.items():
        _set_env(key, value)
    try:
        yield
    finally:
        for key, value in saved.items():
            _set_env(key, value)


def _set_env(key: str, value: str | None) -> None:
    if value is None:
        os.environ.pop(key, None)
    else:
        os.environ[key] = value


# -- in the driver ----------------------------------------------------------------------------------------
_INIT_LOCK = threading.Lock()
_REMOTE: dict[str, Any] = {}  # remote functions, made once per process (each one is exported to the cluster)
WARM_TIMEOUT_S = 120.0  # a cold worker on a loaded node takes seconds; past this, steps start anyway


_REMOTE_LOCK = threading.Lock()  # not _INIT_LOCK: warming (under _INIT_LOCK) makes a remote function


def _remote(function: Any) -> Any:
    import ray

    with _REMOTE_LOCK:
        if function.__name__ not in _REMOTE:
            _REMOTE[function.__name__] = ray.remote(function)
        return _REMOTE[function.__name__]


def warm_nodes(timeout: float = WARM_TIMEOUT_S) -> list[str]:
    """Start one worker of this job on every alive node, in parallel, and wait for them (bounded).

    Ray starts workers ahead only on the driver's node. Without this, the first parallel steps find no worker
    on the other nodes: the task sent there waits seconds for a cold one, and meanwhile the driver hands it to
    the worker that just finished the sibling step (Ray reuses a finished task's worker for the next task of
    the same kind) — the branches then run one after the other on one node. Returns the warmed node ids."""
    import ray
    from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

    warm = _remote(_warm_worker)
    nodes = [node["NodeID"] for node in ray.nodes() if node.get("Alive")]
    # num_cpus=0: warming never waits for (or holds) a CPU that a step could use
    refs = [
        warm.options(num_cpus=0, scheduling_strategy=NodeAffinitySchedulingStrategy(node, soft=False)).remote()
        for node in nodes
    ]
    ready, _ = ray.wait(refs, num_returns=len(refs), timeout=timeout)
    return [node for node in ray.get(ready) if node]


def _token_auth_if_available() -> None:
    """Present this user's Ray token when joining a cluster by address, as Ray itself does only for a cluster
    it finds on its own: a local `ray.init()` makes the token (~/.ray/auth_token) and `ray start` then requires
    it, but a driver given an explicit address sends none and is refused (InvalidAuthToken)."""
    try:
        from ray._private.authentication.authentication_token_setup import (
            maybe_enable_token_auth_if_token_available,
        )
    except ImportError:  # a Ray without token authentication
        return
    maybe_enable_token_auth_if_token_available(warn_if_disabled=False)


def init_ray(
    address: str | None = None,
    *,
    num_cpus: int | None = None,
    num_gpus: int | None = None,
    log_to_driver: bool = True,
    attempts: int = 2,
) -> None:
    """Start a local Ray runtime (or join the cluster at `address`) quietly, without the dashboard.

    A local start fails when Ray's agent processes take longer than its fixed timeouts to import, which happens
    on a loaded machine; the second try finds the imports warm, so a failed local start is tried again."""
    import ray

    if address is not None:
        _token_auth_if_available()
    for attempt in range(1, attempts + 1):
        before = child_pids() if address is None else set()
        try:
            # a local start runs Ray's node here: give it time on a loaded machine (joining one starts nothing)
            with patient_node_start() if address is None else contextlib.nullcontext():
                ray.init(
                    address=address,
                    num_cpus=num_cpus if address is None else None,
                    num_gpus=num_gpus if address is None else None,
                    include_dashboard=False,
                    log_to_driver=log_to_driver,
                    logging_level=logging.WARNING,
                )
            return
        except Exception as exc:  # noqa: BLE001 - Ray raises a bare Exception when its node times out
            with contextlib.suppress(Exception):
                ray.shutdown()
            if address is None:
                end_leftovers(before)  # a failed local start leaves its GCS and agents running
            if address is None and attempt < attempts:
                continue
            where = f"the Ray cluster at {address}" if address else "a local Ray runtime"
            raise RayBackendError(f"could not start {where}: {exc}") from None


class RayExecutor:
    """Runs steps as Ray tasks; `capacity` is how many Ray can run at once (the cluster's CPUs)."""

    name = "ray"

    def __init__(
        self,
        address: str | None = None,
        *,
        num_cpus: int | None = None,
        num_gpus: int | None = None,
        log_to_driver: bool = True,
        **_ignored: Any,
    ) -> None:
        try:
            import ray
        except ImportError:
            raise RayBackendError("the ray backend needs Ray: pip install ray") from None
        self._ray = ray
        if address is None:
            from nbmlops.store.config import load_settings

            address = load_settings().ray_address  # NBMLOPS_RAY_ADDRESS or nbmlops.toml
        if address is None and not ray.is_initialized():
            from nbmlops.runners.ray_cluster import recorded_cluster

            running = recorded_cluster()  # `nbmlops ray start`: join it, no start-up to pay
            address = running.address if running else None
        with _INIT_LOCK:  # a sweep builds one executor per child run, in threads, at the same moment
            self.started_here = not ray.is_initialized()
            if self.started_here:
                init_ray(address, num_cpus=num_cpus, num_gpus=num_gpus, log_to_driver=log_to_driver)
                if address is not None:
                    warm_nodes()
        # a cluster we joined may grow (autoscaler): only a runtime we started has fixed resources
        self.local = address is None
        self.capacity = max(1, int(ray.cluster_resources().get("CPU", 1)))
        # On several nodes, steps are spread: by default Ray packs the driver's node first and hands a task to a
        # worker of the same kind that just finished, so steps ready at once (branches, a sweep's children) could
        # queue on one node while another sits idle.
        self.spread = sum(1 for node in ray.nodes() if node.get("Alive")) > 1
        self._step = _remote(_run_step)
        self._lock = threading.Lock()
        self._values: dict[tuple[str, str], Any] = {}  # (name, sha256) -> ObjectRef of the pickled value
        self._running: dict[Any, StepTask] = {}  # report ObjectRef -> task, to cancel on Ctrl-C
        self._settings: dict[Path, Any] = {}  # project home -> its Settings (where artifacts go)
        self._published: set[str] = set()  # blobs known to be under the remote root (inputs need no upload)
        self._nodes: dict[tuple[str, str], list[str | None]] = {}  # (run, step) -> node of each attempt

    def submit(self, task: StepTask) -> Future[StepOutcome]:
        future: Future[StepOutcome] = Future()
        resources = step_resources(task.step.options)
        unfit = self._unfit(resources)
        if unfit:
            future.set_result(
                StepOutcome(
                    error=StepFailed(
                        f"step '{task.name}' asks for {unfit}; it would wait forever. Lower the step's options or run "
                        "on a bigger cluster (--ray-address)",
                        step=task.name,
                        cell=None,
                        line=None,
                        traceback_text="",
                    )
                )
            )
            return future
        names, refs = [], []
        with self._lock:
            for name, (stored, _folder) in task.inputs.items():
                ref = self._values.get((stored.name, stored.sha256))
                if ref is not None:  # else (a cached step, a value that can't be pickled) the file is read
                    names.append(name)
                    refs.append(ref)
        # Ray retries only a crashed worker or a lost node (a Python error is a normal result here), with the
        # attempts left; the orchestrator retries failed steps, so a step is never retried twice over
        left = max(0, int(task.step.options.get("retries", 0)) - (task.attempt - 1))
        remote = self._remote_root(task)
        outbox = Outbox(remote, task.run_id, task.name, task.attempt)
        if remote is None:
            env = {key: os.environ.get(key) for key in PASSED_ENV}
        else:  # the worker reads no settings file of the driver's: it gets the database and root as resolved here
            settings = self._settings[task.home]
            env = {"NBMLOPS_DB_URL": settings.db_url, "NBMLOPS_ARTIFACT_ROOT": settings.artifact_root}
            try:
                ray_files.ensure_inputs(ray_files.artifact_store(remote), task, set(names), self._published)
            except (OSError, NbmlopsError) as exc:
                future.set_result(
                    StepOutcome(error=_failed(task, f"its inputs could not be stored in {remote}: {exc}"))
                )
                return future
        if self.spread:
            resources = {**resources, "scheduling_strategy": "SPREAD"}
        options = {
            **resources,
            "num_returns": 1 + len(task.step.outputs),
            "max_retries": left,
            "retry_exceptions": False,
            "name": f"{task.spec.name}.{task.name}",
        }
        returned = self._step.options(**options).remote(task, env, outbox, names, *refs)
        returned = returned if isinstance(returned, list) else [returned]
        with self._lock:
            self._running[returned[0]] = task
        settle = Settle(task, outbox, returned[0], returned[1:], left, future)
        # settled in a thread of its own, not Ray's callback thread: it may read and download from the root
        returned[0].future().add_done_callback(
            lambda done: threading.Thread(target=self._settle, args=(done, settle), daemon=True).start()
        )
        return future

    def _remote_root(self, task: StepTask) -> str | None:
        """The artifact root's URL when it is remote (steps publish there), None for a local folder."""
        from nbmlops.store.filesystems import scheme_of

        settings = self._settings.get(task.home)
        if settings is None:
            from nbmlops.store.config import load_settings

            settings = self._settings[task.home] = load_settings(task.home)
        return settings.artifact_root if scheme_of(settings.artifact_root) else None

    def _settle(self, done: Future[Any], settle: Settle) -> None:
        """Turn the task's report (or Ray's error) into a StepOutcome; remember where its outputs are."""
        try:
            future = settle.future
            with self._lock:
                self._running.pop(settle.report_ref, None)
            try:
                report = done.result()
            except Exception as exc:  # noqa: BLE001 - any Ray failure (crash, OOM, cancel) fails the step
                future.set_result(self._ray_failure(settle, exc))
                return
            future.set_result(self._outcome(settle, report))
        except BaseException as exc:  # noqa: BLE001 - reach the orchestrator through the future
            if not settle.future.done():
                settle.future.set_exception(exc)

    def _outcome(self, settle: Settle, report: dict[str, Any]) -> StepOutcome:
        from nbmlops.runners.marshal import StoredValue

        task = settle.task
        placement = {**report["placement"], "attempt_nodes": self._attempts(task, report["attempts"])}
        error = report["error"]
        if report["files"] is not None:  # published under the remote root: into the run folder
            try:
                ray_files.fetch(ray_files.artifact_store(settle.outbox.remote or ""), report["files"], task.step_dir)
            except (OSError, NbmlopsError) as exc:
                failed = _failed(task, f"its files could not be fetched from {settle.outbox.remote}: {exc}")
                return StepOutcome(error=failed, placement=placement)
            with self._lock:
                self._published.update(report["files"].values())
        outputs = {name: StoredValue(**fields) for name, fields in report["outputs"].items()}
        if error is None:
            with self._lock:
                for name, ref in zip(task.step.outputs, settle.value_refs, strict=True):
                    stored = outputs.get(name)
                    if stored is not None and name in report["in_store"]:
                        self._values[(stored.name, stored.sha256)] = ref
        return StepOutcome(
            outputs=outputs,
            artifacts=report["artifacts"],
            placement=placement,
            error=None if error is None else StepFailed(error.pop("message"), **error),
        )

    def _attempts(self, task: StepTask, markers: list[dict[str, Any]], at_least: int = 1) -> list[str | None]:
        """Count the attempts Ray made of this submission (its own retries after a worker or node died
        included) into the task's, and return the node of every attempt of the step so far."""
        task.attempt += max(len(markers), at_least) - 1
        with self._lock:
            nodes = self._nodes.setdefault((task.run_id, task.name), [])
            nodes.extend(marker.get("node") for marker in markers)
            return list(nodes)

    def _ray_failure(self, settle: Settle, exc: BaseException) -> StepOutcome:
        """A task that never reported: its worker died, ran out of memory or was cancelled."""
        task = settle.task
        try:
            markers = ray_files.take_attempts(settle.outbox, task.step_dir)
        except (OSError, NbmlopsError, ValueError):
            markers = []  # the count falls back to what Ray allows
        # Ray gives up on a crashed task only once it made every attempt allowed (a cancelled one: at once)
        made = 1 if isinstance(exc, self._ray.exceptions.TaskCancelledError) else settle.left + 1
        before = task.attempt
        nodes = self._attempts(task, markers, at_least=made)
        kind = type(exc).__name__
        detail = str(exc).strip().splitlines()
        attempts = task.attempt - before + 1
        retried = f" after {attempts} attempts" if attempts > 1 else ""
        message = f"step '{task.name}' failed on Ray{retried}: {kind}" + (f": {detail[-1]}" if detail else "")
        try:
            with (task.step_dir / "stderr.txt").open("a") as log:
                log.write(f"\n{kind}: {exc}\n")
        except OSError:
            pass  # the log is a convenience; the message carries the error
        failed = StepFailed(message, step=task.name, cell=None, line=None, traceback_text=str(exc))
        return StepOutcome(error=failed, placement={"attempt_nodes": nodes})

    def _unfit(self, resources: dict[str, Any]) -> str:
        """What a step asks for beyond every node of a runtime that can't grow ('' when it fits)."""
        if not self.local:
            return ""
        asked = {
            "CPU": resources.get("num_cpus", 0),
            "GPU": resources.get("num_gpus", 0),
            "memory": resources.get("memory", 0),
        }
        nodes = [n.get("Resources", {}) for n in self._ray.nodes() if n.get("Alive")]
        if any(all(node.get(k, 0) >= v for k, v in asked.items() if v) for node in nodes):
            return ""
        most = {k: max((node.get(k, 0) for node in nodes), default=0) for k in asked}
        over = [
            f"{_amount(k, v)} (the local Ray has {_amount(k, most[k])})" for k, v in asked.items() if v and v > most[k]
        ]
        return ", ".join(over)

    def close(self) -> None:
        """End of a run: cancel what still runs (Ctrl-C) and let go of the values; Ray itself stays up for
        the next run in this process (starting it costs seconds), and stops when the process exits."""
        with self._lock:
            running, self._running = list(self._running), {}
            self._values.clear()
            self._nodes.clear()
        for ref in running:
            with contextlib.suppress(Exception):
                self._ray.cancel(ref, force=True)

    def shutdown(self) -> None:
        """Stop the Ray runtime this executor started (a joined cluster is left alone)."""
        self.close()
        if self.started_here and self._ray.is_initialized():
            self._ray.shutdown()


class Settle(NamedTuple):
    """What the driver needs when a step's Ray task ends."""

    task: StepTask
    outbox: Outbox
    report_ref: Any
    value_refs: list[Any]
    left: int  # Ray's own retries this submission was allowed
    future: Future[StepOutcome]


def _failed(task: StepTask, why: str) -> StepFailed:
    return StepFailed(f"step '{task.name}': {why}", step=task.name, cell=None, line=None, traceback_text="")


def _amount(resource: str, value: float) -> str:
    if resource == "memory":
        return f"{value / 2**30:.1f} GiB memory"
    return f"{value:g} {resource}{'s' if value != 1 else ''}"
