"""What a run was made from: the notebook's sha256, the git commit and dirty flag, Python and package versions."""

from __future__ import annotations

import hashlib
import platform
import subprocess
from functools import cache
from pathlib import Path


def file_sha256(path: str | Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def git_info(path: str | Path | None = None) -> tuple[str | None, bool | None]:
    """(commit, dirty) of the git work tree holding `path` (the working directory by default); (None, None)
    outside git or without a git binary. Dirty means tracked files differ from the commit."""
    folder = Path(path or Path.cwd())
    if folder.is_file():
        folder = folder.parent
    try:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=folder, capture_output=True, text=True,
                                timeout=10)
        if commit.returncode != 0:
            return None, None
        status = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=folder,
                                capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return None, None
    return commit.stdout.strip() or None, bool(status.stdout.strip()) if status.returncode == 0 else None


@cache
def package_versions() -> dict[str, str]:
    """Every installed distribution and its version (cached: the environment doesn't change under a process)."""
    from importlib.metadata import distributions

    found: dict[str, str] = {}
    for dist in distributions():
        name = dist.metadata["Name"]
        if name:
            found.setdefault(name.lower(), dist.version)
    return dict(sorted(found.items()))


def python_version() -> str:
    return platform.python_version()
