"""Garbage collection of the artifact store: blobs nothing references and temporary files writes left behind.

`collect_garbage(store, references)` works in one write transaction of the metadata database (BEGIN IMMEDIATE on
SQLite: writers that would add a reference wait for it), so the set of references it reads is the store's view
while it deletes. `references` are functions the packages that keep blobs expose (this package's
`run_artifact_references`, the registry's, monitoring's, the feature store's): gc imports none of them, the command
on top combines them, as DESIGN.md's layering wants.

Safe while other processes write: a blob or temporary file younger than `grace_s` (an hour by default) is kept,
whatever references it: a writer puts a blob first and records its row after, and a write in progress owns its
temporary file. Only names this store makes are touched: `<sha[:2]>/<sha>` blobs and `.<name>.<8 hex>.tmp` files;
anything else under the root (the feature store's Parquet, a user's file) is never looked at.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nbmlops.store.errors import QueryError

if TYPE_CHECKING:
    from nbmlops.store.db import Query
    from nbmlops.store.filesystems import Root
    from nbmlops.store.store import Store

GRACE_S = 3600.0
_BLOB = re.compile(r"[0-9a-f]{64}")
_TEMP = re.compile(r"\..+\.[0-9a-f]{8}\.tmp")

# what a package exposes: given the transaction's query function and the artifact root, the hashes it references
References = Callable[["Query", "Root"], set[str]]


@dataclass
class GcReport:
    dry_run: bool
    blobs: list[str] = field(default_factory=list)  # hashes removed (or, on a dry run, that would be)
    blob_bytes: int = 0
    temp_files: list[str] = field(default_factory=list)  # root-relative paths
    temp_bytes: int = 0
    kept_young: int = 0  # unreferenced blobs and temporary files kept because they are younger than the grace
    referenced: int = 0  # blobs in use

    @property
    def total_bytes(self) -> int:
        return self.blob_bytes + self.temp_bytes

    def to_dict(self) -> dict[str, Any]:
        return {
            "dry_run": self.dry_run,
            "blobs": len(self.blobs),
            "blob_bytes": self.blob_bytes,
            "temp_files": len(self.temp_files),
            "temp_bytes": self.temp_bytes,
            "total_bytes": self.total_bytes,
            "kept_young": self.kept_young,
            "referenced": self.referenced,
        }


def run_artifact_references(q: Query, root: Root) -> set[str]:
    """The blobs runs' artifacts name (the `artifacts` table)."""
    return {row["sha256"] for row in q("SELECT DISTINCT sha256 FROM artifacts")}


def collect_garbage(
    store: Store,
    references: Iterable[References],
    *,
    dry_run: bool = False,
    grace_s: float = GRACE_S,
    now: float | None = None,
) -> GcReport:
    """Remove (or with `dry_run` only list) unreferenced blobs and stale temporary files older than `grace_s`."""
    if grace_s < 0:
        raise QueryError(f"--older-than {grace_s}: give a number of seconds from 0")
    root = store.artifacts._root  # the opened root: its filesystem, local or not
    local = getattr(root, "local", None)
    sources = list(references)
    cutoff = (time.time() if now is None else now) - grace_s

    def sweep(tx: Any) -> GcReport:
        used: set[str] = set()
        for source in sources:
            used |= source(tx.all, root)
        report = GcReport(dry_run)
        for sha, size, mtime in _blobs(root, local):
            if sha in used:
                report.referenced += 1
            elif mtime is not None and mtime > cutoff:
                report.kept_young += 1
            else:
                if not dry_run:
                    store.artifacts.delete(sha)
                report.blobs.append(sha)
                report.blob_bytes += size
        if local is not None:
            for path, size, mtime in _temp_files(Path(local)):
                if mtime > cutoff:
                    report.kept_young += 1
                    continue
                if not dry_run:
                    path.unlink(missing_ok=True)
                report.temp_files.append(path.relative_to(local).as_posix())
                report.temp_bytes += size
        return report

    return store.db.transaction(sweep)


def _blobs(root: Root, local: Path | None) -> Iterator[tuple[str, int, float | None]]:
    """(sha256, size, mtime) of every blob under the root; mtime None where the filesystem doesn't say."""
    if local is not None:
        for folder in Path(local).iterdir() if Path(local).is_dir() else ():
            if len(folder.name) != 2 or not folder.is_dir() or folder.is_symlink():
                continue
            for entry in os.scandir(folder):
                named = _BLOB.fullmatch(entry.name) and entry.name[:2] == folder.name
                if named and entry.is_file(follow_symlinks=False):
                    stat = entry.stat(follow_symlinks=False)
                    yield entry.name, stat.st_size, stat.st_mtime
        return
    import pyarrow.fs

    for folder in root.listdir(""):
        if len(folder) != 2:
            continue
        for name in root.listdir(folder):
            if _BLOB.fullmatch(name) and name[:2] == folder:
                info = root.fs.get_file_info(root.path(f"{folder}/{name}"))
                if info.type == pyarrow.fs.FileType.File:
                    mtime = info.mtime.timestamp() if info.mtime is not None else None
                    yield name, info.size or 0, mtime


def _temp_files(local: Path) -> Iterator[tuple[Path, int, float]]:
    """Temporary files of interrupted writes anywhere under a local root (hidden, `.<name>.<8 hex>.tmp`)."""
    for folder, _dirs, files in os.walk(local, followlinks=False):
        for name in files:
            if _TEMP.fullmatch(name):
                path = Path(folder) / name
                stat = path.lstat()
                yield path, stat.st_size, stat.st_mtime
