"""Compile targets: a PipelineSpec written out as something else that runs it (pipeline.json, papermill
notebooks, a Ray module). One registry, as papermill registers its engines, so the CLI, the Jupyter server and
`%pipeline compile` offer the same targets and write them by the same rules:

  - the source notebook is never written over;
  - any other file that is there already is written over only if nbmlops wrote it (a pipeline spec, a step
    notebook, a compiled Ray module), or with `force=True` (`--force`): a user's own file or notebook is never
    lost to a mistyped `-o`.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any, NamedTuple

from nbmlops.errors import NbmlopsError

if TYPE_CHECKING:  # loaded when a target is written: the CLI reads TARGETS for its options at start-up
    from pathlib import Path

    from nbmlops.pipeline.spec import PipelineSpec


class Target(NamedTuple):
    name: str
    writer: str  # "module:function"; called as function(spec, output, **options) -> list of paths written
    output: str  # "file" or "folder"
    suffix: str  # what `export` appends to the notebook's stem (the lab panel's export writes next to it)
    help: str
    options: tuple[str, ...] = ()  # the keyword options its writer takes (e.g. kernel_name)


TARGETS: dict[str, Target] = {
    t.name: t
    for t in (
        Target("json", "nbmlops.pipeline.targets:write_spec", "file", ".pipeline.json", "pipeline.json: the spec"),
        Target(
            "papermill",
            "nbmlops.pipeline.targets.papermill:write_papermill_target",
            "folder",
            "_papermill",
            "a parameterized notebook per step, plus pipeline.json",
            ("kernel_name",),
        ),
        Target(
            "ray",
            "nbmlops.pipeline.targets.ray:write_ray_target",
            "file",
            "_ray.py",
            "a standalone Python module that runs the pipeline on Ray",
        ),
    )
}


class OverwriteError(NbmlopsError):
    """Writing a target would replace a file nbmlops did not write (or the notebook itself)."""


def target(name: str) -> Target:
    found = TARGETS.get(name)
    if found is None:
        raise NbmlopsError(f"unknown compile target '{name}' (available: {', '.join(TARGETS)})")
    return found


def write_target(
    spec: PipelineSpec, name: str, output: str | os.PathLike[str], *, force: bool = False, **options: Any
) -> list[Path]:
    """Write `spec` as target `name` at `output`; the paths written. `options` the target doesn't take (a
    kernel name for a Ray module) are ignored. Refuses (OverwriteError) to replace the
    source notebook, or without `force` any existing file nbmlops didn't write."""
    import importlib
    from pathlib import Path

    chosen = target(name)
    shown = Path(output).expanduser()  # messages say the path as the user wrote it
    out = reached_path(shown)  # the checks look at the files the write will reach
    if chosen.output == "folder" and out.exists() and not out.is_dir():
        raise NbmlopsError(f"--target {name} writes a folder, and {shown} is a file")
    if chosen.output == "file" and out.is_dir():
        raise NbmlopsError(
            f"--target {name} writes a file, and {shown} is a folder; name the file, e.g. "
            f"{shown / ('pipeline.json' if name == 'json' else 'pipeline' + chosen.suffix)}"
        )
    folder = out if chosen.output == "folder" else out.parent  # what must be (or become) a folder
    existing = next(p for p in (folder, *folder.parents) if p.exists())
    if not existing.is_dir():
        raise NbmlopsError(f"can't write {shown}: {existing} is a file, not a folder")
    if chosen.output == "file" and existing != folder:
        raise NbmlopsError(f"can't write {shown}: the folder {shown.parent} does not exist")
    for step in spec.steps:  # a spec built in code never went through the spec file's checks
        if "/" in step.name or "\\" in step.name or step.name in (".", ".."):
            raise NbmlopsError(f"step name '{step.name}' can't be a file name")
    planned = (
        [out / f"{step.name}.ipynb" for step in spec.steps] + [out / "pipeline.json"]
        if chosen.output == "folder"
        else [out]
    )
    check_overwrite(spec, planned, force)
    module, _, function = chosen.writer.partition(":")
    given = {key: value for key, value in options.items() if key in chosen.options and value is not None}
    try:
        return getattr(importlib.import_module(module), function)(spec, out, **given)
    except OSError as exc:  # permissions, a full disk, a name too long for the file system
        raise NbmlopsError(f"can't write {exc.filename or out}: {exc.strerror or exc}") from None


def reached_path(path: Path) -> Path:
    """The absolute path a write at `path` reaches, symlinks followed as the kernel will follow them. `..` after
    a folder that does not exist yet is refused: `sub/..` with no `sub` names the current folder once `sub` is made,
    and the overwrite checks, run before, would look at files that aren't the ones replaced."""
    from pathlib import Path

    absolute = path if path.is_absolute() else Path.cwd() / path
    current = Path(absolute.anchor)
    for part in absolute.parts[1:]:
        if part == ".." and not current.exists():
            raise NbmlopsError(f"can't write {path}: '..' after a folder that does not exist; give the path without it")
        current = current / part
        if current.exists() or part == "..":
            current = Path(os.path.realpath(current))
    return current


def check_overwrite(spec: PipelineSpec, paths: list[Path], force: bool) -> None:
    notebook = os.path.realpath(spec.notebook_path)
    for path in paths:
        if not path.exists():
            continue
        if os.path.realpath(path) == notebook:
            raise OverwriteError(f"{path} is the notebook itself; nbmlops never writes over it")
        if not force and not written_by_nbmlops(path):
            raise OverwriteError(
                f"{path} exists and nbmlops did not write it; choose another output or pass --force to replace it"
            )


def written_by_nbmlops(path: Path) -> bool:
    """Whether `path` holds something a compile target wrote, whatever its name: a pipeline spec, a step
    notebook, a compiled Ray module."""
    try:
        with open(path, "rb") as handle:
            first = handle.readline(4096)
            if first.startswith(b'"""Pipeline ') and b" on Ray, compiled by nbmlops " in first:
                return True
            if not first.lstrip().startswith(b"{"):
                return False
            handle.seek(0)
            import json

            data = json.loads(handle.read())
    except (OSError, UnicodeDecodeError, ValueError):
        return False
    if not isinstance(data, dict):
        return False
    if "spec_version" in data and "steps" in data:
        return True
    return "step" in ((data.get("metadata") or {}).get("nbmlops") or {})  # a step notebook, not a user's


def write_spec(spec: PipelineSpec, output: Path) -> list[Path]:
    spec.save(output)
    return [output]
