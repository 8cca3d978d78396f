"""Notebook paths from the browser, checked against the server root before anything is read."""

from __future__ import annotations

import os
from pathlib import Path, PurePosixPath

from tornado.web import HTTPError


def safe_path(root_dir: str, api_path: str, *, must_exist: bool = True) -> Path:
    """The real file behind `api_path` (a contents-API path, relative to the root). Refuses, with 403, absolute
    paths, `..` parts and anything whose real path (symlinks followed) leaves the root; 404 if it is missing."""
    if not isinstance(api_path, str) or not api_path.strip("/"):
        raise HTTPError(400, "a notebook path is required")
    if "\\" in api_path or "\x00" in api_path:
        raise HTTPError(403, "path refused")
    pure = PurePosixPath(api_path)
    # contents-API paths are root-relative: an absolute path, '..' or '~' can only mean escaping the root
    if pure.is_absolute() or any(p == ".." or p.startswith("~") for p in pure.parts):
        raise HTTPError(403, "path outside the server root")
    parts = pure.parts
    root = Path(os.path.realpath(root_dir))
    target = Path(os.path.realpath(root.joinpath(*parts)))
    if target != root and root not in target.parents:
        raise HTTPError(403, "path outside the server root")
    if must_exist and not target.exists():
        raise HTTPError(404, f"no such file: {api_path}")
    return target


def api_path_of(root_dir: str, path: str | Path) -> str | None:
    """The contents-API path of a file under the root, or None when it is outside or hidden (the contents manager
    won't open hidden files by default)."""
    root = Path(os.path.realpath(root_dir))
    real = Path(os.path.realpath(path))
    if root not in real.parents:
        return None
    rel = real.relative_to(root)
    if any(part.startswith(".") for part in rel.parts):
        return None
    return rel.as_posix()
