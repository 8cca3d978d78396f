"""The per-user cache every project shares (derived data only: installed package versions, a template database,
compiled specs). Below every subpackage: the compiler, the store and tracking all keep files there."""

from __future__ import annotations

import os
from pathlib import Path


def user_cache_dir() -> Path:
    """Per-user cache shared by every project (derived data only: deleting it costs time, never data):
    NBMLOPS_CACHE_DIR, else $XDG_CACHE_HOME/nbmlops, else ~/.cache/nbmlops. Not created here."""
    folder = os.environ.get("NBMLOPS_CACHE_DIR") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "nbmlops"
    )
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
