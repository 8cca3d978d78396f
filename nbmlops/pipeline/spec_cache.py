"""The specs of notebooks compiled before, kept per user: `nbmlops run NB` on an unchanged notebook loads its
spec instead of importing the compiler and parsing every cell again (a scheduled or swept notebook is run
many times unchanged).

An entry is found by the notebook's path as given and as resolved, and is used only when the notebook's bytes
(SHA-256) and the compiler (nbmlops's version and the size and modification time of every source file of the
analysis) are those it was compiled from. Entries are derived data: deleting them costs a compile. A notebook
with errors is never cached, so its errors show on every run.
"""

from __future__ import annotations

import json
import os
from typing import TYPE_CHECKING

from nbmlops.digest import sha256_hex
from nbmlops.errors import SpecError

if TYPE_CHECKING:
    from nbmlops.pipeline.spec import PipelineSpec

FOLDER = "specs"
_ANALYSIS = ("notebook", "pipeline")  # the packages whose code decides what a spec holds


def compiler_fingerprint() -> str:
    from nbmlops._version import __version__

    package = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    parts = [__version__]
    for name in _ANALYSIS:
        with os.scandir(os.path.join(package, name)) as entries:
            parts += sorted(
                f"{e.name}:{e.stat().st_size}:{e.stat().st_mtime_ns}" for e in entries if e.name.endswith(".py")
            )
    return "|".join(parts)


def compile_cached(path: str) -> PipelineSpec:
    """compile_notebook(path), or the spec compiled from these same bytes by this same compiler."""
    from nbmlops.pipeline.spec import PipelineSpec
    from nbmlops.user_cache import user_cache_dir, write_cache_json

    try:
        with open(path, "rb") as handle:
            content = handle.read()
    except OSError:
        return _compile(path)  # its error message names the file
    where = os.path.abspath(path)
    key = {"path": path, "resolved": where, "sha256": sha256_hex(content), "compiler": compiler_fingerprint()}
    name = sha256_hex("\0".join((where, path)).encode())[:32]
    entry = user_cache_dir() / FOLDER / f"{name}.json"
    try:
        saved = json.loads(entry.read_text())
        if saved.get("key") == key:
            return PipelineSpec.from_dict(saved["spec"], where=str(entry))
    except (OSError, ValueError, AttributeError, SpecError):
        pass  # no entry, or a damaged one: compile
    spec = _compile(path, content)  # the bytes the key was made from: the entry can't describe another file
    write_cache_json(entry, json.dumps({"key": key, "spec": spec.to_dict()}))  # best effort
    return spec


def _compile(path: str, content: bytes | None = None) -> PipelineSpec:
    from nbmlops.notebook.reader import parse_notebook, path_string
    from nbmlops.pipeline.compiler import compile_notebook

    return compile_notebook(path if content is None else parse_notebook(content, path_string(path)))
