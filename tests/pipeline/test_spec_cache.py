"""The per-user cache of compiled specs: an unchanged notebook is not compiled again, any change is."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from nbmlops.errors import NotebookError
from nbmlops.pipeline import compile_notebook, load_pipeline, spec_cache

CELLS = [("C = 0.5", ["parameters"]), ("x = C * 2", ["step:make"]), ("print(x + 1)", ["step:show"])]


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "cache"
    monkeypatch.setenv("NBMLOPS_CACHE_DIR", str(folder))
    return folder / spec_cache.FOLDER


def test_an_unchanged_notebook_loads_its_spec_without_the_compiler(make_notebook, cache: Path) -> None:
    notebook = make_notebook(CELLS)
    first = load_pipeline(str(notebook))
    assert first.to_dict() == compile_notebook(str(notebook)).to_dict()
    assert len(list(cache.glob("*.json"))) == 1
    code = (
        "import sys; from nbmlops.pipeline import load_pipeline; spec = load_pipeline(sys.argv[1]); "
        "print(spec.to_json()); print('nbmlops.pipeline.compiler' in sys.modules, file=sys.stderr)"
    )
    done = subprocess.run([sys.executable, "-c", code, str(notebook)], capture_output=True, text=True, check=True)
    assert json.loads(done.stdout) == first.to_dict()
    assert done.stderr.strip() == "False"


def test_any_change_to_the_notebook_or_the_compiler_compiles_again(
    make_notebook, cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    notebook = make_notebook(CELLS)
    assert load_pipeline(str(notebook)).defaults == {"C": 0.5}
    make_notebook([("C = 0.7", ["parameters"]), *CELLS[1:]])  # same size, same second: the bytes differ
    assert load_pipeline(str(notebook)).defaults == {"C": 0.7}
    compiled = []
    real = spec_cache._compile
    monkeypatch.setattr(spec_cache, "_compile", lambda path, *raw: compiled.append(path) or real(path, *raw))
    load_pipeline(str(notebook))
    assert compiled == []
    monkeypatch.setattr(spec_cache, "compiler_fingerprint", lambda: "a newer nbmlops")
    load_pipeline(str(notebook))
    assert compiled == [str(notebook)]


def test_a_notebook_with_errors_is_never_cached_and_a_damaged_entry_is_a_miss(make_notebook, cache: Path) -> None:
    broken = make_notebook([("x = (", ["step:a"])], name="broken.ipynb")
    for _ in range(2):
        with pytest.raises(NotebookError, match="cell 1"):
            load_pipeline(str(broken))
    assert not list(cache.glob("*.json"))
    notebook = make_notebook(CELLS)
    load_pipeline(str(notebook))
    for entry in cache.glob("*.json"):
        entry.write_text("{not json")
    assert [s.name for s in load_pipeline(str(notebook)).steps] == ["make", "show"]
