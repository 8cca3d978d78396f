"""The console script parses `run`, `compile` and `show` without click: it must take exactly what click takes,
with the same values, and leave everything else (help, errors, odd forms) to click."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import click
import pytest

from nbmlops.cli.fast import COMMANDS, parse_simply
from nbmlops.cli.main import main

NBMLOPS = str(Path(sys.executable).with_name("nbmlops"))

ARGVS = {
    "run": [
        ["nb.ipynb"],
        ["nb.ipynb", "-p", "C=0.5"],
        ["-p", "C=0.5", "nb.ipynb"],
        ["nb.ipynb", "--param=C=1", "-p", "a=b=c"],
        ["nb.ipynb", "-p", "C=1", "-p", "seed=2", "--no-cache", "-v"],
        ["nb.ipynb", "--seed", "7", "--sweep", "random:3"],
        ["nb.ipynb", "--seed=-3"],
        ["nb.ipynb", "--seed", "+4"],
        ["nb.ipynb", "--seed", " 5 "],
        ["nb.ipynb", "--seed", "x"],
        ["nb.ipynb", "--workers", "2", "--kernel", "python3", "--fresh-kernel", "--backend", "papermill"],
        ["nb.ipynb", "--force", "a", "--force", "b", "--only", "c", "--resume", "r1", "--ray-address", "auto"],
        ["nb.ipynb", "--objective", "metrics.auc:max", "--verbose"],
        ["nb.ipynb", "--only", "-x"],
        ["nb.ipynb", "-p", "-1=2"],
        ["nb.ipynb", "-pC=1"],
        ["nb.ipynb", "-p=C=1"],
        ["nb.ipynb", "-vp", "C=1"],
        ["nb.ipynb", "--no-c"],
        ["nb.ipynb", "--no-cache=1"],
        ["nb.ipynb", "--", "-p"],
        ["nb.ipynb", "-h"],
        ["nb.ipynb", "--help"],
        [],
        ["a.ipynb", "b.ipynb"],
        ["nb.ipynb", "-p"],
        ["nb.ipynb", "--unknown"],
        ["nb.ipynb", "-"],
        ["-1"],
        ["nb.ipynb", "--seed", "1_000"],
        ["nb.ipynb", "--seed", "²"],
    ],
    "compile": [
        ["nb.ipynb"],
        ["nb.ipynb", "-o", "out.json"],
        ["nb.ipynb", "--target", "papermill", "-o", "d", "--kernel", "k"],
        ["nb.ipynb", "--target=ray", "--output=m.py"],
        ["nb.ipynb", "--target", "yaml"],
        ["nb.ipynb", "--tar", "ray"],
    ],
    "show": [
        ["nb.ipynb"],
        ["nb.ipynb", "--format", "mermaid"],
        ["nb.ipynb", "--format=dot"],
        ["nb.ipynb", "--format", "svg"],
        ["nb.ipynb", "--format"],
    ],
}


def click_arguments(command: str, argv: list[str]) -> dict | None:
    """What click passes to the command for argv, or None where click reports an error or shows help."""
    try:
        with main.commands[command].make_context(command, list(argv)) as context:
            return dict(context.params)
    except (click.exceptions.ClickException, click.exceptions.Exit):
        return None


@pytest.mark.parametrize(
    ("command", "argv"),
    [(c, a) for c, argvs in ARGVS.items() for a in argvs],
    ids=[f"{c}:{' '.join(a)}" for c, argvs in ARGVS.items() for a in argvs],
)
def test_fast_parse_takes_only_what_click_takes_with_the_same_values(command, argv, tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    fast = parse_simply(COMMANDS[command][0], argv)
    if fast is not None:
        assert fast == click_arguments(command, argv)


def test_fast_parse_handles_the_common_forms() -> None:
    options = COMMANDS["run"][0]
    assert parse_simply(options, ["nb.ipynb", "-p", "C=0.5", "--no-cache"])["params"] == ("C=0.5",)
    assert parse_simply(options, ["nb.ipynb", "--seed=3", "-v"]) is not None
    assert parse_simply(COMMANDS["show"][0], ["nb.ipynb", "--format", "dot"]) == {"target": "nb.ipynb", "fmt": "dot"}


def test_fast_parse_leaves_folders_to_clicks_error(tmp_path) -> None:
    assert parse_simply(COMMANDS["run"][0], [str(tmp_path)]) is None


def test_run_imports_no_click(tmp_path: Path, make_notebook) -> None:
    notebook = make_notebook([("x = 1", ["step:a"]), ("print(x)", ["step:b"])])
    probe = (
        "import sys, atexit\n"
        "atexit.register(lambda: print('click' in sys.modules, file=sys.__stdout__))\n"
        f"sys.argv = ['nbmlops', 'run', {str(notebook)!r}]\n"
        "from nbmlops.cli.fast import entry\nentry()"
    )
    env = {**os.environ, "NBMLOPS_HOME": str(tmp_path / "home")}
    done = subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "False"


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["run", "{nb}", "--seed", "x"], "Invalid value for '--seed': 'x' is not a valid integer"),
        (["run", "{nb}", "--no-c"], "No such option '--no-c'"),
        (["run", "{dir}"], "is a directory"),
        (["show", "{nb}", "--format", "svg"], "'svg' is not one of"),
    ],
)
def test_what_the_fast_path_refuses_gets_clicks_message(argv, expected, tmp_path: Path, make_notebook) -> None:
    notebook = make_notebook([("x = 1", ["step:a"])])
    args = [a.format(nb=notebook, dir=tmp_path) for a in argv]
    env = {**os.environ, "NBMLOPS_HOME": str(tmp_path / "home")}
    done = subprocess.run([NBMLOPS, *args], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 2 and expected in done.stderr and "Traceback" not in done.stderr


def test_help_still_comes_from_click(tmp_path: Path) -> None:
    done = subprocess.run([NBMLOPS, "run", "--help"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and "--no-cache" in done.stdout and "Run every step" in done.stdout


def test_output_into_a_closed_pipe_ends_quietly_as_with_click(make_notebook, tmp_path: Path) -> None:
    notebook = make_notebook([(f"x{i} = {i}", [f"step:s{i}"]) for i in range(400)])
    reader, writer = os.pipe()
    os.close(reader)  # nobody reads what `nbmlops compile` prints
    try:
        done = subprocess.run(
            [NBMLOPS, "compile", str(notebook)],
            stdout=writer,
            stderr=subprocess.PIPE,
            text=True,
            timeout=120,
            env={**os.environ, "NBMLOPS_HOME": str(tmp_path / "home")},
        )
    finally:
        os.close(writer)
    assert done.returncode == 1 and done.stderr == ""
