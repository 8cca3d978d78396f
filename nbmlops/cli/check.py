"""`nbmlops check [PATHS...]`: the static checks of every tagged notebook found, for CI and pre-commit.

One line per problem, `FILE:cell N: KIND: message` (cells numbered as JupyterLab numbers them), then a summary.
Exit status: 0 when nothing was found, 1 when a notebook has problems (as linters do), 2 for bad input (a path
that doesn't exist). Folders are searched recursively for *.ipynb, leaving out hidden folders and checkpoints;
notebooks without step tags are exploration, not pipelines, and are left out unless `--all` is given.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import click

from nbmlops.errors import NbmlopsError


def _notebooks(paths: tuple[str, ...]) -> Iterator[Path]:
    for raw in paths or (".",):
        path = Path(raw)
        if not path.exists():
            raise NbmlopsError(f"{raw}: no such file or folder")
        if path.is_file():
            yield path
            continue
        for found in sorted(path.rglob("*.ipynb")):
            parts = found.relative_to(path).parts
            if not any(p.startswith(".") or p == "__pycache__" for p in parts[:-1]):
                yield found


@click.command("check")
@click.argument("paths", nargs=-1, type=click.Path())
@click.option("--all", "check_all", is_flag=True, help="Also check notebooks without step tags (one-step pipelines).")
@click.option("--quiet", "-q", is_flag=True, help="Print the problems only, no summary.")
def check(paths: tuple[str, ...], check_all: bool, quiet: bool) -> None:
    """Compile every tagged notebook under PATHS (default: here) and report what would break its pipeline:
    compile errors, values changed in place across steps, absolute paths, package installs, %pipeline in steps."""
    from nbmlops.notebook import read_notebook
    from nbmlops.pipeline.checks import PROBLEM, Finding, check_static, is_tagged

    checked = skipped = problems = 0
    with_problems = 0
    for path in _notebooks(paths):
        try:
            notebook = read_notebook(path)
        except NbmlopsError as exc:  # not a notebook at all: a problem of this file, the others still get checked
            findings = [Finding("notebook", str(exc))]
        else:
            if not check_all and not is_tagged(notebook):
                skipped += 1
                continue
            findings = [f for f in check_static(notebook).findings if f.severity == PROBLEM]
        checked += 1
        for finding in findings:
            where = f"{finding.where()}: " if finding.cell is not None else ""
            click.echo(f"{path}:{where}{finding.kind}: {finding.message}")
        problems += len(findings)
        with_problems += bool(findings)
    if not quiet:
        left_out = f", {skipped} without step tags left out (--all checks them)" if skipped else ""
        notebooks = f"{checked} notebook{'s' if checked != 1 else ''} checked"
        verdict = (
            f"{problems} problem{'s' if problems != 1 else ''} in {with_problems} of {notebooks}"
            if problems
            else f"no problems in {notebooks}"
        )
        click.echo(verdict + left_out, err=True)
    sys.exit(1 if problems else 0)
