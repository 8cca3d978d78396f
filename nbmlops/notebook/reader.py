"""Reading .ipynb files with one clear error per way they can be broken."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field

from nbmlops.digest import sha256_hex
from nbmlops.errors import NotebookError

# No pathlib here: on the `nbmlops compile` path it would cost 7 ms of imports for these few calls.


@dataclass(frozen=True)
class Cell:
    index: int
    cell_type: str
    source: str
    tags: tuple[str, ...] = ()
    execution_count: int | None = None

    @property
    def first_line(self) -> str:
        for line in self.source.splitlines():
            if line.strip():
                return line.strip()[:60]
        return ""


@dataclass(frozen=True)
class Notebook:
    path: str
    sha256: str
    cells: tuple[Cell, ...]
    kernel_name: str | None = None
    language: str = "python"
    metadata: dict = field(default_factory=dict, compare=False)


def path_string(path: str | os.PathLike[str]) -> str:
    """`str(pathlib.Path(path))` without pathlib: repeated slashes and `.` parts go, a trailing slash goes,
    `..` stays; two leading slashes stay two (POSIX), more become one; an empty path is `.`."""
    text = os.fspath(path)
    relative = text.lstrip("/")
    root = "" if relative == text else "//" if len(text) - len(relative) == 2 else "/"
    return root + "/".join(part for part in relative.split("/") if part and part != ".") or "."


def read_notebook(path: str | os.PathLike[str]) -> Notebook:
    """Read a notebook file; any problem is a NotebookError naming the file."""
    path = path_string(path)
    if not os.path.exists(path):
        raise NotebookError("no such file", path=path)
    if os.path.isdir(path):
        raise NotebookError("is a directory, not a notebook", path=path)
    with open(path, "rb") as handle:
        raw = handle.read()
    return parse_notebook(raw, path)


def parse_notebook(raw: bytes, path: str = "<notebook>") -> Notebook:
    """Parse notebook JSON bytes (nbformat 4) without touching nbformat's heavier validation."""
    if not raw.strip():
        raise NotebookError("file is empty, not a notebook", path=path)
    try:
        data = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise NotebookError(f"not valid notebook JSON ({exc})", path=path) from None
    except RecursionError:  # e.g. metadata nested 100,000 deep: no notebook needs that
        raise NotebookError("not a notebook: its JSON is nested too deep to read", path=path) from None
    if not isinstance(data, dict) or "cells" not in data:
        raise NotebookError("not a Jupyter notebook (no 'cells' list)", path=path)
    major = data.get("nbformat")
    if major != 4:
        raise NotebookError(
            f"nbformat {major} is not supported; save it as nbformat 4 (jupyter nbconvert --to notebook)", path=path
        )
    if not isinstance(data["cells"], list):
        raise NotebookError("'cells' is not a list", path=path)
    cells = [_cell(index, cell, path) for index, cell in enumerate(data["cells"])]
    meta = data.get("metadata")
    meta = meta if isinstance(meta, dict) else {}
    kernelspec, language_info = _mapping(meta.get("kernelspec")), _mapping(meta.get("language_info"))
    kernel = _text(kernelspec.get("name"))
    language = _text(language_info.get("name")) or _text(kernelspec.get("language")) or "python"
    return Notebook(path, sha256_hex(raw), tuple(cells), kernel, language, meta)


def _cell(index: int, cell: object, path: str) -> Cell:
    """One cell of the JSON, its shape checked as nbformat 4 has it (a hand-edited or generated file may not)."""
    if not isinstance(cell, dict) or not isinstance(cell.get("cell_type"), str):
        raise NotebookError("malformed cell (no cell_type)", path=path, cell=index)
    source = cell.get("source", "")
    if isinstance(source, list) and all(isinstance(line, str) for line in source):
        source = "".join(source)
    elif not isinstance(source, str):
        kind = "a list with a non-string item" if isinstance(source, list) else _kind(source)
        raise NotebookError(f"'source' must be a string or a list of strings, not {kind}", path=path, cell=index)
    metadata = cell.get("metadata")
    if metadata is not None and not isinstance(metadata, dict):
        raise NotebookError(f"'metadata' must be an object, not {_kind(metadata)}", path=path, cell=index)
    tags = (metadata or {}).get("tags") or []
    if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
        raise NotebookError("metadata.tags must be a list of strings", path=path, cell=index)
    count = cell.get("execution_count")
    count = count if isinstance(count, int) and not isinstance(count, bool) else None
    return Cell(index, cell["cell_type"], source, tuple(t.strip() for t in tags), count)


def _kind(value: object) -> str:
    return {
        type(None): "null",
        bool: "a boolean",
        int: "a number",
        float: "a number",
        dict: "an object",
        list: "a list",
    }.get(type(value), type(value).__name__)


def _mapping(value: object) -> dict:
    return value if isinstance(value, dict) else {}


def _text(value: object) -> str | None:
    return value if isinstance(value, str) and value else None
