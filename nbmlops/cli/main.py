"""The `nbmlops` click group: every command, its help and its error messages. Imports stay lazy: `nbmlops run`
must start far faster than a kernel (the console script runs the core commands without click: nbmlops.cli.fast)."""

from __future__ import annotations

from typing import Any

import click

from nbmlops._version import __version__
from nbmlops.cli.commands import (
    COMPILE_OPTIONS,
    RUN_OPTIONS,
    SHOW_OPTIONS,
    Option,
    compile_command,
    run_command,
    show_command,
)
from nbmlops.cli.group import NbmlopsGroup

SUBGROUPS = {name: f"nbmlops.cli.{name}:{name}" for name in ("runs", "models", "features", "monitor", "schedule")}
SUBGROUPS["scheduler"] = "nbmlops.cli.schedule:scheduler"
SUBGROUPS["check"] = "nbmlops.cli.check:check"
SUBGROUPS.update(serve="nbmlops.cli.serve:serve", predict="nbmlops.cli.serve:predict")
SUBGROUPS.update(ray="nbmlops.cli.ray:ray", doctor="nbmlops.cli.doctor:doctor")
SUBGROUPS["kernels"] = "nbmlops.cli.kernels:kernels"
SUBGROUPS["gc"] = "nbmlops.cli.gc:gc"


@click.group(cls=NbmlopsGroup, lazy=SUBGROUPS, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__)  # not package_name=: reading package metadata costs ~50 ms
def main() -> None:
    """nbmlops: tagged Jupyter notebooks as tracked, parameterized ML pipelines."""


def click_params(options: tuple[Option, ...]) -> list[click.Parameter]:
    """click's parameters for one of nbmlops.cli.commands' option tables."""
    params: list[click.Parameter] = []
    for option in options:
        if option.kind == "file":
            params.append(click.Argument([option.dest], type=click.Path(dir_okay=False)))
            continue
        settings: dict[str, Any] = {"help": option.help, "metavar": option.metavar}
        if option.kind == "flag":
            settings.update(is_flag=True, default=option.default)
        elif option.kind == "multiple":
            settings["multiple"] = True
        else:
            types = {"int": int, "choice": click.Choice(option.choices), "text": None}
            settings.update(type=types[option.kind], default=option.default, show_default=option.default is not None)
        params.append(click.Option([*option.flags, option.dest], **settings))
    return params


@main.command("run", params=click_params(RUN_OPTIONS))
def run(**arguments: Any) -> None:
    """Run a notebook (or a compiled pipeline.json) as a pipeline."""
    run_command(**arguments)


@main.command("compile", params=click_params(COMPILE_OPTIONS))
def compile_(**arguments: Any) -> None:
    """Compile a tagged notebook into a PipelineSpec, papermill notebooks or a Ray module."""
    compile_command(**arguments)


@main.command("show", params=click_params(SHOW_OPTIONS))
def show(**arguments: Any) -> None:
    """Show a pipeline's steps, their inputs and outputs, and the DAG."""
    show_command(**arguments)


if __name__ == "__main__":
    main()
