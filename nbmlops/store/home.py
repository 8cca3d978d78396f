"""The project home: `.nbmlops/` found upward from the working directory (like `.git`), or NBMLOPS_HOME;
and the per-user cache shared by all projects."""

from __future__ import annotations

import os
from pathlib import Path

HOME_DIR = ".nbmlops"


def project_home(start: str | Path | None = None, create: bool = True) -> Path:
    """The `.nbmlops` folder of this project; made in the working directory when none exists above it."""
    env = os.environ.get("NBMLOPS_HOME")
    if env:
        home = Path(env).expanduser().resolve()
    else:
        here = Path(start or Path.cwd()).resolve()
        home = next((p / HOME_DIR for p in (here, *here.parents) if (p / HOME_DIR).is_dir()), here / HOME_DIR)
    if create:
        home.mkdir(parents=True, exist_ok=True)
    return home


def user_cache_dir() -> Path:
    """Per-user cache shared by every project (derived data only: deleting it costs time, never data):
    NBMLOPS_CACHE_DIR, else $XDG_CACHE_HOME/nbmlops, else ~/.cache/nbmlops. Not created here."""
    folder = os.environ.get("NBMLOPS_CACHE_DIR") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "nbmlops")
    return Path(folder)


def write_cache_json(path: Path, text: str) -> OSError | None:
    """Write a per-user cache file atomically (readers see the old file or the new one, never half of one);
    best effort: a read-only cache only costs the next command the work again, so the error is returned, not
    raised."""
    tmp = path.with_name(f".{path.name}.{os.urandom(4).hex()}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp.write_text(text)
        os.replace(tmp, path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        return exc
    return None
