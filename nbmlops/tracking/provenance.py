"""What a run was made from: the notebook's sha256, the git commit and dirty flag, Python and package versions."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

PACKAGES_CACHE = "packages.json"
_CACHE_ENTRIES = 4
_packages: dict[str, dict[str, str]] = {}  # environment key -> versions, for this process


def file_sha256(path: str | Path) -> str:
    import hashlib

    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def git_info(path: str | Path | None = None) -> tuple[str | None, bool | None]:
    """(commit, dirty) of the git work tree holding `path` (the working directory by default); (None, None)
    outside git or without a git binary. Dirty means tracked files differ from the commit."""
    commit, tree = git_commit(path)
    return (commit, git_dirty(tree)) if tree is not None else (None, None)


def git_commit(path: str | Path | None = None) -> tuple[str | None, Path | None]:
    """The commit HEAD points at and the folder to ask git about dirtiness; (None, None) outside git.

    The commit is read from the repository's files (HEAD, loose refs, packed-refs): outside a work tree, or in
    an ordinary one, nothing is spawned. Anything unusual (an unborn branch, reftable, GIT_DIR) asks git."""
    folder = Path(path or Path.cwd())
    if folder.is_file():
        folder = folder.parent
    if not any(os.environ.get(v) for v in ("GIT_DIR", "GIT_WORK_TREE", "GIT_COMMON_DIR")):
        git_dir = _git_dir(folder.resolve())
        if git_dir is None:
            return None, None
        commit = _head_commit(git_dir)
        if commit is not None:
            return commit, folder
    found = _output_of(["git", "-C", str(folder), "rev-parse", "HEAD"])
    return (found[1].strip() or None, folder) if found is not None and found[0] == 0 else (None, None)


def git_dirty(folder: Path) -> bool | None:
    """Whether tracked files in the work tree holding `folder` differ from HEAD (`git status`); None when git
    can't say."""
    found = _output_of(["git", "-C", str(folder), "status", "--porcelain", "--untracked-files=no"])
    return bool(found[1].strip()) if found is not None and found[0] == 0 else None


def _output_of(args: list[str]) -> tuple[int, str] | None:
    """(exit code, stdout) of a command; None when it can't start. By os.posix_spawnp where there is one:
    importing subprocess (with selectors, signal, fcntl) costs a run more than `git status` itself."""
    env = {**os.environ, "GIT_OPTIONAL_LOCKS": "0"}  # a status in the background never takes index.lock
    if not hasattr(os, "posix_spawnp"):  # Windows
        import subprocess

        try:
            done = subprocess.run(args, capture_output=True, text=True, timeout=30, env=env)
        except (OSError, subprocess.TimeoutExpired):
            return None
        return done.returncode, done.stdout
    read, write = os.pipe()
    try:
        pid = os.posix_spawnp(
            args[0],
            args,
            env,
            file_actions=[(os.POSIX_SPAWN_DUP2, write, 1), (os.POSIX_SPAWN_OPEN, 2, os.devnull, os.O_WRONLY, 0)],
        )
    except OSError:
        os.close(read)
        return None
    finally:
        os.close(write)
    with open(read, "rb") as pipe:
        out = pipe.read()
    return os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]), out.decode(errors="replace")


class Background:
    """fn(*args) on a daemon thread: `git status` (and importing subprocess) runs beside the run's first steps
    instead of before them. result() waits for it."""

    def __init__(self, fn: Callable[..., Any], *args: Any) -> None:
        import threading

        self._value: Any = None
        self._thread = threading.Thread(target=self._call, args=(fn, *args), name="nbmlops-provenance", daemon=True)
        self._thread.start()

    def _call(self, fn: Callable[..., Any], *args: Any) -> None:
        self._value = fn(*args)

    def result(self, timeout: float | None = None) -> Any:
        self._thread.join(timeout)
        return None if self._thread.is_alive() else self._value


def _git_dir(folder: Path) -> Path | None:
    """The git directory of the work tree holding `folder` (a worktree's or submodule's `.git` file followed)."""
    for parent in (folder, *folder.parents):
        dot = parent / ".git"
        if dot.is_dir():
            return dot
        if dot.is_file():
            text = dot.read_text(errors="replace").strip()
            if not text.startswith("gitdir:"):
                return None
            target = Path(text[len("gitdir:") :].strip())
            return target if target.is_absolute() else (parent / target).resolve()
    return None


def _is_sha(text: str) -> bool:
    return len(text) in (40, 64) and all(c in "0123456789abcdef" for c in text)


def _head_commit(git_dir: Path) -> str | None:
    """The commit HEAD points at, from the files; None when they don't say plainly."""
    try:
        head = (git_dir / "HEAD").read_text().strip()
        if not head.startswith("ref:"):
            return head if _is_sha(head) else None
        ref = head[len("ref:") :].strip()
        common = git_dir
        if (git_dir / "commondir").is_file():  # a linked worktree: branches live in the main repository
            common = (git_dir / (git_dir / "commondir").read_text().strip()).resolve()
        for base in dict.fromkeys((git_dir, common)):
            loose = base / ref
            if loose.is_file():
                value = loose.read_text().strip()
                return value if _is_sha(value) else None
        packed = common / "packed-refs"
        if packed.is_file():
            for line in packed.read_text().splitlines():
                sha, _, name = line.partition(" ")
                if name == ref and _is_sha(sha):
                    return sha
    except OSError:
        return None
    return None


def environment_key() -> str:
    """Changes when a distribution is installed, upgraded or removed: the interpreter, and the modification
    time of every site directory on sys.path (`*-packages`: installing or removing anything adds or removes a
    *.dist-info folder there, which touches the folder). Other entries (the script's folder, the working
    directory, an editable project's source root) change whenever a file is created in them, so they are left
    out. A few stat calls."""
    parts = [sys.prefix, sys.version]
    for entry in sys.path:
        if not entry.rstrip("/\\").endswith("-packages"):
            continue
        try:
            mtime = os.stat(entry).st_mtime_ns
        except OSError:
            mtime = -1
        parts.append(f"{entry}={mtime}")
    return "|".join(parts)  # a few hundred characters: no need to hash it (and no hashlib to load)


def _scan_distributions() -> dict[str, str]:
    from importlib.metadata import distributions

    found: dict[str, str] = {}
    for dist in distributions():
        name = dist.metadata["Name"]
        if name:
            found.setdefault(name.lower(), dist.version)
    return dict(sorted(found.items()))


def package_versions(cache_dir: str | Path | None = None) -> dict[str, str]:
    """Every installed distribution and its version. Scanning them all takes ~150 ms, so the result is kept
    per process and, with `cache_dir` (start_run passes the per-user cache), in `cache_dir/packages.json`
    under environment_key(): an unchanged environment costs ~1 ms; an install or uninstall rescans."""
    key = environment_key()
    found = _packages.get(key)
    if found is None and cache_dir is not None:
        found = _read_cache(Path(cache_dir) / PACKAGES_CACHE, key)
    if found is None:
        found = _scan_distributions()
        if cache_dir is not None:
            _write_cache(Path(cache_dir) / PACKAGES_CACHE, key, found)
    _packages[key] = found
    return dict(found)


def _read_cache(path: Path, key: str) -> dict[str, str] | None:
    packages = _cache_entries(path).get(key)
    return packages if isinstance(packages, dict) else None


def _cache_entries(path: Path) -> dict[str, dict[str, str]]:
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:  # unreadable or damaged: rescan, and rewrite it
        _log().debug("nbmlops: ignoring package cache %s: %s", path, exc)
        return {}
    return data if isinstance(data, dict) else {}


def _write_cache(path: Path, key: str, packages: dict[str, str]) -> None:
    # a few environments side by side (a venv and a kernel's, say) share one home without evicting each other
    entries = {k: v for k, v in _cache_entries(path).items() if k != key}
    entries = {**dict(list(entries.items())[-(_CACHE_ENTRIES - 1) :]), key: packages}
    from nbmlops.user_cache import write_cache_json

    error = write_cache_json(path, json.dumps(entries))
    if error is not None:  # a read-only cache only costs the next run a rescan
        _log().debug("nbmlops: could not write package cache %s: %s", path, error)


def python_version() -> str:
    return sys.version.split()[0]  # what platform.python_version() returns, without importing platform


def _log() -> Any:
    import logging  # only on the rare paths that log

    return logging.getLogger("nbmlops.tracking")
