"""Paths from the browser, checked against the server root before anything is read or written.

- `safe_path`: a contents-API path (root-relative) to the real file; absolute paths, `..`, `~`, symlinks leaving
  the root are 403; hidden files and folders (`.hidden/x.ipynb`) are 403 unless the contents manager allows them
  (Jupyter's `ContentsManager.allow_hidden`); a path of more than MAX_PATH_CHARS characters or MAX_PATH_PARTS
  parts is 400 (no file system has one).
- `safe_output`: where the server may write (an export): inside the root, through no symlink.
- `home_inside_root`: the project home (`.nbmlops`) of a notebook as the server sees it, looked for from the
  notebook's folder up to the root and never above it (NBMLOPS_HOME, set by whoever runs the server, wins).
"""

from __future__ import annotations

import os
from pathlib import Path, PurePosixPath

from tornado.web import HTTPError

MAX_PATH_CHARS = 4096  # PATH_MAX on Linux
MAX_PATH_PARTS = 256
HOME_DIR = ".nbmlops"  # as nbmlops.store.home names it


def _parts(api_path: object) -> tuple[str, ...]:
    if not isinstance(api_path, str) or not api_path.strip("/"):
        raise HTTPError(400, "a notebook path is required")
    if "\\" in api_path or "\x00" in api_path:
        raise HTTPError(403, "path refused")
    pure = PurePosixPath(api_path)
    if len(pure.parts) > MAX_PATH_PARTS:
        raise HTTPError(400, f"the path has {len(pure.parts):,} parts; at most {MAX_PATH_PARTS}")
    if len(api_path) > MAX_PATH_CHARS:
        raise HTTPError(400, f"the path is {len(api_path):,} characters long; at most {MAX_PATH_CHARS:,}")
    # contents-API paths are root-relative: an absolute path, '..' or '~' can only mean escaping the root
    if pure.is_absolute() or any(p == ".." or p.startswith("~") for p in pure.parts):
        raise HTTPError(403, "path outside the server root")
    return pure.parts


def safe_path(root_dir: str, api_path: str, *, must_exist: bool = True, allow_hidden: bool = False) -> Path:
    """The real file behind `api_path` (a contents-API path, relative to the root). Refuses, with 403, absolute
    paths, `..` parts, hidden parts (unless `allow_hidden`) and anything whose real path (symlinks followed)
    leaves the root; 404 if it is missing."""
    parts = _parts(api_path)
    if not allow_hidden and any(part.startswith(".") for part in parts):
        raise HTTPError(403, "hidden files and folders are not served (ContentsManager.allow_hidden is off)")
    root = Path(os.path.realpath(root_dir))
    try:
        target = Path(os.path.realpath(root.joinpath(*parts)))
    except OSError:  # e.g. a part longer than the file system's NAME_MAX
        raise HTTPError(400, "the path can't be a file name on this server") from None
    if target != root and root not in target.parents:
        raise HTTPError(403, "path outside the server root")
    try:
        exists = target.exists()
    except OSError:
        raise HTTPError(400, "the path can't be a file name on this server") from None
    if must_exist and not exists:
        raise HTTPError(404, f"no such file: {'/'.join(parts)}")
    return target


def safe_output(root_dir: str, path: Path) -> None:
    """Refuse (403) to write at `path` when it, or a folder on the way to it from the root, is a symlink, or when
    it is not inside the root: a write must land where the path says, not where a link points."""
    root = Path(os.path.realpath(root_dir))
    absolute = Path(os.path.abspath(path))
    if absolute != root and root not in absolute.parents:
        raise HTTPError(403, "the output would be outside the server root")
    current = root
    for part in absolute.relative_to(root).parts:
        current = current / part
        if current.is_symlink():
            raise HTTPError(
                403,
                f"the output path {current.relative_to(root).as_posix()} is a symbolic link; "
                "nbmlops won't write through it",
            )


def home_inside_root(root_dir: str, notebook: Path) -> Path:
    """The `.nbmlops` folder a notebook's runs go to, as this server sees it: the nearest one from the notebook's
    folder up to the root (not above: a server rooted at `root/sub` never reads `root/.nbmlops`), else a new one
    beside the notebook. NBMLOPS_HOME, when whoever started the server set it, is used as it is."""
    env = os.environ.get("NBMLOPS_HOME")
    if env:
        return Path(env).expanduser().resolve()
    root = Path(os.path.realpath(root_dir))
    folder = Path(os.path.realpath(notebook)).parent
    for candidate in (folder, *folder.parents):
        if candidate != root and root not in candidate.parents:
            break
        home = candidate / HOME_DIR
        if home.is_dir():
            return home
    return folder / HOME_DIR


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
