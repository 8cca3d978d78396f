"""The CLI and the compiler under hostile or careless input: every case exits 2 with one `error:` line naming the
file (and the cell, 1-based as JupyterLab numbers them), no traceback, and nothing written where it must not be."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from contextlib import closing
from pathlib import Path

import pytest

NBMLOPS = Path(sys.executable).parent / "nbmlops"


def written_near(tmp_path: Path, home: Path) -> list[Path]:
    """What is in this test's folder (its home aside) and the names beside it, where `../..` from a run folder
    lands; not the other tests' folders, whose leftovers (SQLite WAL files) may still change."""
    return sorted([*(p for p in tmp_path.rglob("*") if home not in p.parents), *tmp_path.parent.iterdir()])


def sql_dump(db: Path) -> list[str]:
    """The database's content as SQL: a checkpoint of the WAL moves bytes of the file without changing it."""
    with closing(sqlite3.connect(db)) as connection:
        return list(connection.iterdump())


def cli(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([str(NBMLOPS), *args], capture_output=True, text=True, timeout=120, cwd=cwd)


def refused(done: subprocess.CompletedProcess, *says: str) -> None:
    assert done.returncode == 2, (done.returncode, done.stderr)
    assert "Traceback" not in done.stderr and done.stderr.startswith("error: "), done.stderr
    for text in says:
        assert text in done.stderr, done.stderr


def no_runs(home: Path) -> bool:
    runs = home / "runs"
    return not runs.exists() or not any(runs.iterdir())


def write_raw(folder: Path, cells: list, name: str = "nb.ipynb") -> Path:
    path = folder / name
    path.write_text(json.dumps({"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": cells}))
    return path


def code(source: object, tags: tuple[str, ...] = ()) -> dict:
    return {
        "cell_type": "code",
        "source": source,
        "metadata": {"tags": list(tags)},
        "outputs": [],
        "execution_count": None,
    }


@pytest.mark.parametrize(
    ("cells", "says"),
    [
        ([code("x = 1"), code(5)], ("nb.ipynb, cell 2", "'source' must be a string")),
        ([code(None)], ("nb.ipynb, cell 1", "not null")),
        ([code({"a": 1})], ("cell 1", "not an object")),
        ([code(["x = 1\n", 2])], ("cell 1", "a list with a non-string item")),
        ([code("x = " + "+".join(["1"] * 200_000))], ("cell 1 `x = 1+1", "nested too deeply")),
        ([code("x = 1", ("step:" + "a" * 5000,))], ("cell 1", "5000 characters long")),
        ([code("x = 1", ("step:a", "cpus:nan"))], ("cell 1", "'cpus:nan'")),
        ([code("x = 1", ("step:a", "cpus:1e400"))], ("'cpus:1e400'",)),
        ([code("x = 1", ("step:a", "memory:99999999999999999999999TiB"))], ("'memory:99999999999999999999999TiB'",)),
        ([code("x = 1", ("step:a", "retries:99999999999999999999"))], ("'retries:99999999999999999999'",)),
        ([code("x = 1", ("step:a", "gpus:²"))], ("'gpus:²'",)),
        ([code("x = 1", ("step:../../outside",))], ("needs a step name",)),
    ],
)
def test_odd_notebooks_exit_2_naming_file_and_cell(
    tmp_path: Path, home: Path, cells: list, says: tuple[str, ...]
) -> None:
    write_raw(tmp_path, cells)
    for command in ("compile", "run", "show"):
        refused(cli(command, "nb.ipynb", cwd=tmp_path), *says)
    assert no_runs(home)


def test_metadata_nested_100000_deep(tmp_path: Path) -> None:
    deep = '{"a": ' * 100_000 + "1" + "}" * 100_000
    (tmp_path / "nb.ipynb").write_text('{"nbformat": 4, "metadata": ' + deep + ', "cells": []}')
    refused(cli("compile", "nb.ipynb", cwd=tmp_path), "nb.ipynb", "nested too deep")
    cell = '{"cell_type": "code", "source": "x = 1", "metadata": ' + deep + "}"
    (tmp_path / "nb.ipynb").write_text('{"nbformat": 4, "metadata": {}, "cells": [' + cell + "]}")
    refused(cli("compile", "nb.ipynb", cwd=tmp_path), "nb.ipynb", "nested too deep")


@pytest.mark.parametrize(
    ("edit", "says"),
    [
        (lambda s: s["steps"][0].update(name="../../../../outside"), "steps[0].name '../../../../outside'"),
        (lambda s: s["steps"][1].update(name="a" * 5000), "5000 characters long"),
        (lambda s: s.update(name="../x"), "name '../x'"),
        (lambda s: s["steps"][0].update(outputs=["../../x"]), "is not a Python variable name"),
        (lambda s: s["steps"][1].update(inputs={"x": "nowhere"}), "'nowhere' is not a step"),
        (lambda s: s["steps"][0].update(options={"cpus": float("nan")}), "options.cpus"),
        (lambda s: s["steps"][0].update(options={"retries": 10**30}), "options.retries"),
        (lambda s: s["steps"][0]["cells"][0].update(code=None), "cells[0].code must be a string"),
        (lambda s: s["steps"][0].update(name="b"), "name of an earlier step"),
        (lambda s: s.update(steps={}), "steps must be a list"),
    ],
)
def test_hand_edited_pipeline_json_is_refused_naming_the_field(
    make_notebook, tmp_path: Path, home: Path, edit, says
) -> None:
    make_notebook([("n = 1", ["parameters"]), ("x = n", ["step:a"]), ("y = x", ["step:b"])])
    assert cli("compile", "nb.ipynb", "-o", "pipeline.json", cwd=tmp_path).returncode == 0
    spec = json.loads((tmp_path / "pipeline.json").read_text())
    edit(spec)
    (tmp_path / "pipeline.json").write_text(json.dumps(spec))
    before = written_near(tmp_path, home)
    refused(cli("run", "pipeline.json", cwd=tmp_path), "pipeline.json: ", says)
    assert no_runs(home)
    assert written_near(tmp_path, home) == before  # nothing written


def test_compile_output_errors(make_notebook, tmp_path: Path) -> None:
    make_notebook([("x = 1", ["step:train"]), ("y = x", ["step:eval"])], name="train.ipynb")
    original = (tmp_path / "train.ipynb").read_bytes()
    refused(
        cli("compile", "train.ipynb", "-o", "/nonexistent/dir/x.json", cwd=tmp_path),
        "the folder /nonexistent/dir does not exist",
    )
    (tmp_path / "out").mkdir()
    refused(cli("compile", "train.ipynb", "-o", "out", cwd=tmp_path), "writes a file, and out is a folder")
    refused(cli("compile", "train.ipynb", "--target", "ray", "-o", "out", cwd=tmp_path), "is a folder")
    refused(
        cli("compile", "train.ipynb", "--target", "papermill", "-o", "train.ipynb/x", cwd=tmp_path),
        "train.ipynb is a file, not a folder",
    )
    # the folder case: a step named like the notebook, compiled into the notebook's own folder
    refused(cli("compile", "train.ipynb", "--target", "papermill", "-o", ".", cwd=tmp_path), "the notebook itself")
    (tmp_path / "eval.ipynb").write_text('{"a user\'s": "notebook"}')
    refused(cli("compile", "train.ipynb", "--target", "papermill", "-o", "sub/..", cwd=tmp_path))
    assert (tmp_path / "train.ipynb").read_bytes() == original
    assert (tmp_path / "eval.ipynb").read_text() == '{"a user\'s": "notebook"}'
    assert not (tmp_path / "pipeline.json").exists()


@pytest.mark.parametrize(
    ("params", "says"),
    [
        (("-p", "n=1", "-p", "n=2"), "parameter 'n' is given twice"),
        (("-p", "n=1,2", "-p", "n=3"), "parameter 'n' is given twice"),
        (("-p", "rate=nan"), "'nan' is not a finite number"),
        (("-p", "rate=inf"), "is not a finite number"),
        (("-p", "n=99999999999999999999999"), "out of range"),
        (("-p", "n=" + "9" * 5000), "parameter 'n'"),
    ],
)
def test_parameter_values_are_refused_before_anything_runs(
    make_notebook, tmp_path: Path, home: Path, params, says
) -> None:
    make_notebook([("n = 1\nrate = 0.5", ["parameters"]), ("x = n * rate", ["step:a"])])
    refused(cli("run", "nb.ipynb", *params, cwd=tmp_path), says)
    assert no_runs(home)


@pytest.fixture
def project(make_notebook, tmp_path: Path, home: Path) -> Path:
    make_notebook([("wid = 1", ["parameters"]), ("x = wid", ["step:a"])])
    for wid in (3, 4):
        assert cli("run", "nb.ipynb", "-p", f"wid={wid}", cwd=tmp_path).returncode == 0
    return tmp_path


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (("--filter", "params.wid = 3 or params.wid = 4"), "'or' is not supported"),
        (("--filter", "params.wid = 3; DROP TABLE runs; --"), "is not one value"),
        (("--filter", " and ".join(["params.wid = 3"] * 1000)), "at most 50"),
        (("--filter", "params.wid = 99999999999999999999999"), "out of range"),
        (("--filter", "metrics.x > NaN"), "finite"),
        (("--limit", "99999999999999999999999"), "limit"),
        (("--limit", "0"), "limit 0"),
    ],
)
def test_runs_filter_refuses_what_it_does_not_parse(project: Path, args, says) -> None:
    db = project / ".nbmlops" / "nbmlops.db"
    before = sql_dump(db)
    refused(cli("runs", "ls", *args, cwd=project), says)
    assert sql_dump(db) == before
    listed = cli("runs", "ls", "--filter", "params.wid = 3", "--json", cwd=project)
    assert listed.returncode == 0 and len(json.loads(listed.stdout)) == 1


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (("alias", "churn", "production", "99999999999999999999999"), "out of range"),
        (("show", "churn:" + "9" * 400), "out of range"),
        (("show", " churn"), "holds spaces"),
        (("show", "churn: 1"), "holds spaces"),
        (("show", "churn:01"), "leading zeros"),
        (("show", "churn:0"), "start at 1"),
        (("show", "../x:1"), "not a valid model name"),
    ],
)
def test_model_uris_follow_one_rule(tmp_path: Path, args, says) -> None:
    refused(cli("models", *args, cwd=tmp_path), says)
