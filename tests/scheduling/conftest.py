"""A project folder with a schedulable notebook, and the nbmlops CLI driven in-process (click) or as a real
process (schedulers racing, killed, signalled)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

# parameters: x (scaled into y), new_files (the files trigger), fail (raise), sleep (seconds), hold (while this
# file exists, wait: a run that stays alive until the test lets it go)
NOTEBOOK = {
    "nbformat": 4,
    "nbformat_minor": 5,
    "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}},
    "cells": [
        {
            "cell_type": "code",
            "metadata": {"tags": ["parameters"]},
            "execution_count": None,
            "outputs": [],
            "source": "x = 1\nnew_files = []\nfail = False\nsleep = 0.0\nhold = ''",
        },
        {
            "cell_type": "code",
            "metadata": {"tags": ["step:work"]},
            "execution_count": None,
            "outputs": [],
            "source": "import os, time\ntime.sleep(sleep)\nwhile hold and os.path.exists(hold):\n    time.sleep(0.1)\n"
            "assert not fail, 'asked to fail'\ny = x * 2\nprint('files', new_files)",
        },
    ],
}


class Project:
    def __init__(self, root: Path, db_url: str | None) -> None:
        self.root = root
        self.home = root / ".nbmlops"
        self.notebook = root / "job.ipynb"
        self.notebook.write_text(json.dumps(NOTEBOOK))
        self.env = {**os.environ, "NBMLOPS_HOME": str(self.home)}
        if db_url:
            self.env["NBMLOPS_DB_URL"] = db_url
        else:
            self.env.pop("NBMLOPS_DB_URL", None)

    def cli(self, *args: str, ok: int | None = 0) -> object:
        """`nbmlops ARGS` in this process (click's runner); asserts the exit code unless ok is None."""
        from nbmlops.cli.main import main

        result = CliRunner().invoke(main, list(args), catch_exceptions=False)
        if ok is not None:
            assert result.exit_code == ok, (result.exit_code, result.output, result.stderr)
        return result

    def json(self, *args: str) -> object:
        return json.loads(self.cli(*args, "--json").stdout)

    def process(self, *args: str, **kwargs: object) -> subprocess.Popen[str]:
        """`nbmlops ARGS` as a process of its own (its own session: the test can kill it and its workers)."""
        return subprocess.Popen(
            [sys.executable, "-m", "nbmlops.cli", *args],
            cwd=self.root,
            env=self.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            **kwargs,
        )

    def run(self, *args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "nbmlops.cli", *args],
            cwd=self.root,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )

    def store(self) -> object:
        from nbmlops.store import open_store

        return open_store(self.home)

    def occurrences(self, name: str | None = None) -> list[dict]:
        store = self.store()
        try:
            where = " WHERE schedule = :name" if name else ""
            return store.db.query(f"SELECT * FROM schedule_occurrences{where} ORDER BY id", {"name": name})
        finally:
            store.close()

    def scheduled_runs(self) -> list:
        store = self.store()
        try:
            return [r for r in store.list_runs(limit=1000, check_stale=False) if r.trigger]
        finally:
            store.close()


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Project:
    """A project on SQLite, with NBMLOPS_HOME and the working directory set for in-process CLI calls."""
    made = Project(tmp_path, None)
    monkeypatch.setenv("NBMLOPS_HOME", str(made.home))
    monkeypatch.delenv("NBMLOPS_DB_URL", raising=False)
    monkeypatch.chdir(tmp_path)
    return made


@pytest.fixture
def any_db_project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, db_url: str) -> Project:
    """The same on SQLite and on PostgreSQL (tests/conftest.py's db_url)."""
    made = Project(tmp_path, None if db_url.startswith("sqlite") else db_url)
    monkeypatch.setenv("NBMLOPS_HOME", str(made.home))
    if db_url.startswith("sqlite"):
        monkeypatch.delenv("NBMLOPS_DB_URL", raising=False)
    else:
        monkeypatch.setenv("NBMLOPS_DB_URL", db_url)
    monkeypatch.chdir(tmp_path)
    return made
