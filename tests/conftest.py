"""Shared fixtures: build real .ipynb files from a list of cells."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest


def notebook_json(cells: list, kernel: str = "python3") -> dict:
    """cells: a source string (code cell), ("md", text), or (source, [tags]) / (source, "tag,tag")."""
    out = []
    for cell in cells:
        if isinstance(cell, tuple) and cell[0] == "md":
            out.append({"cell_type": "markdown", "metadata": {}, "source": cell[1]})
            continue
        source, tags = (cell, []) if isinstance(cell, str) else cell
        if isinstance(tags, str):
            tags = [t for t in tags.split(",") if t] if "," in tags and ":" not in tags else [tags]
        out.append({"cell_type": "code", "execution_count": None, "metadata": {"tags": list(tags)},
                    "outputs": [], "source": source})
    return {"nbformat": 4, "nbformat_minor": 5, "cells": out,
            "metadata": {"kernelspec": {"name": kernel, "display_name": "Python 3", "language": "python"},
                         "language_info": {"name": "python"}}}


@pytest.fixture
def make_notebook(tmp_path: Path):
    """make_notebook(cells, name="nb.ipynb") -> Path of a real notebook file in a temporary folder."""

    def make(cells: list, name: str = "nb.ipynb") -> Path:
        path = tmp_path / name
        path.write_text(json.dumps(notebook_json(cells), indent=1))
        return path

    return make


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An isolated project home (NBMLOPS_HOME) so tests never touch the developer's .nbmlops."""
    path = tmp_path / ".nbmlops"
    monkeypatch.setenv("NBMLOPS_HOME", str(path))
    monkeypatch.chdir(tmp_path)
    return path


@pytest.fixture(autouse=True)
def _no_user_home(monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory) -> None:
    if "NBMLOPS_HOME" not in os.environ:
        monkeypatch.setenv("NBMLOPS_HOME", str(tmp_path_factory.mktemp("home") / ".nbmlops"))
