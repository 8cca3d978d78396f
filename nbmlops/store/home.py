"""The project home: `.nbmlops/` found upward from the working directory (like `.git`), or NBMLOPS_HOME
(the per-user cache shared by all projects is nbmlops.user_cache)."""

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
