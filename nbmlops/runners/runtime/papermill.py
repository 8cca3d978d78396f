"""The runtime a step notebook of the `papermill` target calls (nbmlops.pipeline.targets.papermill writes them):
prepare the step in its kernel, load its inputs, save its outputs with a manifest; and the reset between steps of
the papermill backend's warm kernels."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

from nbmlops.pipeline.targets.papermill import MANIFEST


class StepContext:
    """Prepares a step inside its kernel and moves its data: resolves the data folders (relative ones against
    where papermill started), moves to the working directory, and points metric logging at the run."""

    def __init__(
        self,
        step: str,
        data_dir: str = "data",
        input_dirs: dict[str, str] | None = None,
        output_dir: str = "",
        *,
        workdir: str = "",
        run_id: str = "",
        home: str = "",
        params: dict[str, Any] | None = None,
    ) -> None:
        start = Path.cwd()
        self.step = step
        self.params = dict(params or {})
        self.data_dir = start / data_dir
        self.input_dirs = {name: start / folder for name, folder in (input_dirs or {}).items()}
        self.output_dir = start / output_dir if output_dir else self.data_dir / step
        if workdir:
            os.chdir(workdir)
            if workdir not in sys.path:
                sys.path.insert(0, workdir)  # local modules next to the notebook import as under Jupyter
        if run_id:
            os.environ["NBMLOPS_RUN_ID"] = run_id
            os.environ["NBMLOPS_STEP"] = step
        if home:
            os.environ["NBMLOPS_HOME"] = str(start / home)

    def folder_of(self, producer: str) -> Path:
        return self.input_dirs.get(producer) or self.data_dir / producer

    def load_inputs(self, inputs: dict[str, str], namespace: dict[str, Any]) -> None:
        """Load each input (variable -> producing step) into the namespace."""
        from nbmlops.runners.marshal import bind_to_namespace, load_value

        loaded = {var: load_value(*stored_input(var, self.folder_of(producer))) for var, producer in inputs.items()}
        # bind only once all are loaded: unpickling an instance re-sets its class's methods
        namespace.update({var: bind_to_namespace(value, namespace) for var, value in loaded.items()})

    def save_outputs(self, names: list[str], namespace: dict[str, Any]) -> None:
        """Save the outputs by type and write the manifest (variable -> format, file, sha256, ...)."""
        from nbmlops.errors import NbmlopsError
        from nbmlops.runners.marshal import save_value
        from nbmlops.runners.rundir import write_json

        missing = [name for name in names if name not in namespace]
        if missing:
            raise NbmlopsError(
                f"step '{self.step}' did not define {', '.join(map(repr, missing))}, which later "
                "steps read (was it assigned only in a branch that didn't run?)"
            )
        self.output_dir.mkdir(parents=True, exist_ok=True)
        manifest = {name: save_value(name, namespace[name], self.output_dir).to_dict() for name in names}
        write_json(self.output_dir / MANIFEST, {"step": self.step, "outputs": manifest})


def stored_input(var: str, folder: Path) -> tuple[Any, Path]:
    """(StoredValue, folder) for a variable a step wrote to `folder`: from its manifest, or else from the file's
    extension (folders filled by other backends have no manifest)."""
    from nbmlops.errors import NbmlopsError
    from nbmlops.runners.marshal import EXTENSIONS, StoredValue

    if (folder / MANIFEST).is_file():
        record = read_manifest(folder).get(var)
        if record is not None:
            return StoredValue(**record), folder
    for fmt, extension in EXTENSIONS.items():
        path = folder / f"{var}{extension}"
        if path.is_file():
            return StoredValue(var, path.name, fmt, "", "", path.stat().st_size), folder
    raise NbmlopsError(
        f"input '{var}' is not in {folder}: run the step that makes it first, or pass its folder "
        "with -p nbmlops_input_dirs / -p nbmlops_data_dir"
    )


def read_manifest(folder: str | Path) -> dict[str, dict[str, Any]]:
    """The outputs a step notebook saved to `folder` (variable -> StoredValue fields)."""
    return json.loads((Path(folder) / MANIFEST).read_text())["outputs"]


# -- kernel state, for the backend's pool of warm kernels ---------------------------------------------------------
_baseline: tuple[dict[str, str], str, list[str]] | None = None


def snapshot_kernel_state() -> None:
    """Remember the fresh kernel's environment, working directory and sys.path (run once, at its start)."""
    global _baseline
    _baseline = (dict(os.environ), os.getcwd(), list(sys.path))


def reset_kernel_state() -> None:
    """Make a used kernel like a fresh one for the next step: an empty user namespace (IPython's reset), the
    environment, working directory and sys.path it started with, no open figures. Imported modules stay: that
    is the point of a warm kernel."""
    import gc

    from IPython import get_ipython

    shell = get_ipython()
    if shell is not None:
        shell.reset(new_session=False)
    if _baseline is not None:
        env, cwd, path = _baseline
        os.environ.clear()
        os.environ.update(env)
        os.chdir(cwd)
        sys.path[:] = path
    pyplot = sys.modules.get("matplotlib.pyplot")
    if pyplot is not None:
        pyplot.close("all")
    gc.collect()
    # what survives a reset is the imported modules' state: frozen, later collections skip it (a full collection
    # of a kernel with pandas and scikit-learn loaded walks ~160k objects: ~0.2 s between every two steps)
    gc.freeze()


# -- kernels started ahead (nbmlops.runners.kernel_daemon), claimed by one run --------------------------------------
_module_files: dict[str, tuple[int, int]] = {}
_owner = {"pid": 0}


def record_module_files() -> None:
    """Remember the files of every loaded module (mtime, size), at the end of a warm-up ahead of a run."""
    _module_files.clear()
    for module in list(sys.modules.values()):
        path = getattr(module, "__file__", None)
        if isinstance(path, str):
            try:
                stat = os.stat(path)
            except OSError:
                continue
            _module_files[path] = (stat.st_mtime_ns, stat.st_size)


def modules_changed() -> list[str]:
    """Loaded modules whose file changed since the warm-up (edited, reinstalled, deleted): a kernel holding
    them would run old code, so it is not used."""
    changed = []
    for path, (mtime, size) in _module_files.items():
        try:
            stat = os.stat(path)
        except OSError:
            changed.append(path)
            continue
        if (stat.st_mtime_ns, stat.st_size) != (mtime, size):
            changed.append(path)
    return changed


def watch_owner(pid: int) -> None:
    """End this kernel when process `pid` is gone: the daemon that started it ahead, then the run that claimed
    it (a kernel a run starts itself follows the run through ipykernel's own parent poller)."""
    import threading
    import time

    first = _owner["pid"] == 0
    _owner["pid"] = pid
    if not first:
        return

    def poll() -> None:
        while True:
            try:
                os.kill(_owner["pid"], 0)
            except ProcessLookupError:
                os._exit(1)
            except PermissionError:  # alive, another user's: cannot be ours
                os._exit(1)
            time.sleep(0.5)

    threading.Thread(target=poll, name="nbmlops-owner-poller", daemon=True).start()


def adopt_kernel(owner: int, env: dict[str, str], cwd: str) -> None:
    """Make a kernel started ahead the run's own: refuse it when a loaded module changed on disk, follow the
    run's process, take the run's environment and working directory as what resets go back to."""
    changed = modules_changed()
    if changed:
        raise RuntimeError(f"{len(changed)} loaded modules changed since the kernel was warmed, e.g. {changed[0]}")
    watch_owner(owner)
    os.environ.clear()
    os.environ.update(env)
    os.chdir(cwd)
    snapshot_kernel_state()
