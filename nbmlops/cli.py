"""The `nbmlops` command. Imports stay lazy: `nbmlops run` must start far faster than a kernel."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from nbmlops._version import __version__
from nbmlops.cli_group import NbmlopsGroup
from nbmlops.errors import NbmlopsError

if TYPE_CHECKING:
    from nbmlops.pipeline.spec import PipelineSpec

SUBGROUPS = {name: f"nbmlops.cli_{name}:{name}" for name in ("runs", "models", "features", "monitor")}


@click.group(cls=NbmlopsGroup, lazy=SUBGROUPS, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__)  # not package_name=: reading package metadata costs ~50 ms
def main() -> None:
    """nbmlops: tagged Jupyter notebooks as tracked, parameterized ML pipelines."""


@main.command()
@click.argument("target", type=click.Path(dir_okay=False))
@click.option("-p", "--param", "params", multiple=True, metavar="NAME=VALUE",
              help="Set a parameter of the parameters cell (repeatable); NAME=a,b,c sweeps it.")
@click.option("--backend", default="local", show_default=True, help="Where the steps run: local, papermill, ray.")
@click.option("--resume", metavar="RUN_ID", help="Continue a failed run: unchanged finished steps are reused.")
@click.option("--no-cache", is_flag=True, help="Run every step, even those whose inputs are unchanged.")
@click.option("--force", multiple=True, metavar="STEP", help="Run this step even on a cache hit (repeatable).")
@click.option("--only", metavar="STEP", help="Run this one step; its upstream comes from the cache.")
@click.option("--sweep", metavar="grid|random:N", help="How to sweep parameters given several values.")
@click.option("--objective", metavar="metrics.NAME:max|min", help="Rank a sweep's child runs.")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of --sweep random:N.")
@click.option("--workers", type=int, help="papermill: steps run at once (default: cores).")
@click.option("--kernel", help="papermill: the Jupyter kernel to run steps in.")
@click.option("--fresh-kernel", is_flag=True, default=None, help="papermill: a new kernel for every step.")
@click.option("--ray-address", help="ray: the cluster to run on (default: a local Ray).")
@click.option("-v", "--verbose", is_flag=True, help="Show the steps' own output as they run.")
def run(target: str, params: tuple[str, ...], backend: str, resume: str | None, no_cache: bool,
        force: tuple[str, ...], only: str | None, sweep: str | None, objective: str | None, seed: int,
        workers: int | None, kernel: str | None, fresh_kernel: bool | None, ray_address: str | None,
        verbose: bool) -> None:
    """Run a notebook (or a compiled pipeline.json) as a pipeline."""
    from nbmlops.cli_output import TerminalReporter, print_run_summary, print_sweep_summary
    from nbmlops.pipeline import load_pipeline
    from nbmlops.runners import run_pipeline, sweep_pipeline

    freeze_imported_objects()
    spec = load_pipeline(target)
    backend_options = {k: v for k, v in {"workers": workers, "kernel": kernel, "fresh_kernel": fresh_kernel,
                                         "address": ray_address}.items() if v is not None}
    options = {"backend": backend, "use_cache": not no_cache, "force": force, "echo": verbose,
               "backend_options": backend_options}
    if sweep or (any("," in item for item in params) and is_sweep(spec, params)):
        if resume or only:
            raise NbmlopsError("--resume and --only run one pipeline; they can't be combined with a sweep")
        result = sweep_pipeline(spec, list(params), sweep=sweep or "grid", objective=objective, seed=seed,
                                reporter_for=lambda values, extra: TerminalReporter(
                                    spec, verbose, {"shared steps": "once"} if "skip" in extra else values),
                                **options)
        print_sweep_summary(result)
        return
    reporter = TerminalReporter(spec, verbose)
    try:
        result = run_pipeline(spec, list(params), resume=resume, reporter=reporter, only=only, **options)
    finally:
        reporter.close()
    print_run_summary(result)


def is_sweep(spec: PipelineSpec, params: tuple[str, ...]) -> bool:
    """Whether a `-p NAME=a,b` sweeps a scalar parameter (a comma may also sit inside a string value)."""
    from nbmlops.runners.sweep import split_sweep_params

    return bool(split_sweep_params(spec, list(params))[1])


def freeze_imported_objects() -> None:
    """In the `nbmlops` process (not when a test or a kernel invokes a command): move what the imports made
    (~100k objects of modules and classes, never garbage) out of the cyclic collector's sight, so the
    collections the steps trigger and the one at interpreter exit (~20 ms) skip them. The steps' own objects,
    made later, are collected as usual."""
    if _whole_process:
        import gc

        gc.freeze()


_whole_process = False  # set by entry(): the command owns this process and it ends with the command


def entry() -> None:
    """The `nbmlops` console script."""
    global _whole_process
    _whole_process = True
    main()


@main.command("compile")
@click.argument("notebook", type=click.Path(dir_okay=False))
@click.option("-o", "--output", type=click.Path(), help="Write here (a folder for papermill) instead of stdout.")
@click.option("--target", type=click.Choice(["json", "papermill", "ray"]), default="json", show_default=True,
              help="json: pipeline.json; papermill: a notebook per step; ray: a standalone Ray module.")
@click.option("--kernel", help="papermill: the kernel the step notebooks name.")
def compile_(notebook: str, output: str | None, target: str, kernel: str | None) -> None:
    """Compile a tagged notebook into a PipelineSpec, papermill notebooks or a Ray module."""
    from nbmlops.pipeline import compile_notebook

    spec = compile_notebook(notebook)
    freeze_imported_objects()  # the spec too: nothing made here is garbage before the process ends
    if target != "json" and not output:
        raise NbmlopsError(f"--target {target} needs -o: a {'folder' if target == 'papermill' else 'file'} to write")
    if target == "papermill":
        from nbmlops.pipeline.targets.papermill import write_papermill_target

        written = write_papermill_target(spec, output, kernel_name=kernel)
        click.echo(f"wrote {len(written)} files to {output}: a notebook per step and pipeline.json", err=True)
    elif target == "ray":
        from nbmlops.pipeline.targets.ray import write_ray_module

        click.echo(f"wrote {write_ray_module(spec, output)}: run it with python (needs ray)", err=True)
    elif output:
        spec.save(output)
        click.echo(f"wrote {output}: {len(spec.steps)} steps, {len(spec.parameters)} parameters", err=True)
    else:
        click.echo(spec.to_json())
    for warning in spec.warnings:
        click.echo(f"warning: {warning}", err=True)


@main.command()
@click.argument("target", type=click.Path(dir_okay=False))
@click.option("--format", "fmt", type=click.Choice(["text", "mermaid", "dot", "json"]), default="text",
              show_default=True)
def show(target: str, fmt: str) -> None:
    """Show a pipeline's steps, their inputs and outputs, and the DAG."""
    from nbmlops.pipeline import load_pipeline, to_dot, to_mermaid, to_text

    spec = load_pipeline(target)
    render = {"text": to_text, "mermaid": to_mermaid, "dot": to_dot, "json": lambda s: s.to_json() + "\n"}[fmt]
    click.echo(render(spec), nl=False)


if __name__ == "__main__":
    entry()
