"""The core commands (`run`, `compile`, `show`): their options as data and their bodies, without click.

click builds the documented commands from these tables (nbmlops.cli.main); the console script reads a plain, valid
invocation of one of them without click (nbmlops.cli.fast) because `import click` alone costs a good part of a
10-step `nbmlops run`. One table, so both readers give the bodies the same arguments.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, NamedTuple

from nbmlops.errors import NbmlopsError, StepFailed
from nbmlops.pipeline.targets import TARGETS

if TYPE_CHECKING:
    from nbmlops.pipeline.spec import PipelineSpec


class Option(NamedTuple):
    """One command-line parameter. kind: "file" (the positional argument: an existing path, not a folder),
    "text", "int", "choice", "flag" or "multiple" (repeatable, a tuple of texts)."""

    flags: tuple[str, ...]
    dest: str
    kind: str = "text"
    default: Any = None
    help: str | None = None
    metavar: str | None = None
    choices: tuple[str, ...] = ()


RUN_OPTIONS = (
    Option((), "target", "file"),
    Option(
        ("-p", "--param"),
        "params",
        "multiple",
        metavar="NAME=VALUE",
        help="Set a parameter of the parameters cell (repeatable); NAME=a,b,c sweeps it.",
    ),
    Option(("--backend",), "backend", default="local", help="Where the steps run: local, papermill, ray."),
    Option(
        ("--resume",), "resume", metavar="RUN_ID", help="Continue a failed run: unchanged finished steps are reused."
    ),
    Option(("--no-cache",), "no_cache", "flag", False, "Run every step, even those whose inputs are unchanged."),
    Option(("--force",), "force", "multiple", metavar="STEP", help="Run this step even on a cache hit (repeatable)."),
    Option(("--only",), "only", metavar="STEP", help="Run this one step; its upstream comes from the cache."),
    Option(("--sweep",), "sweep", metavar="grid|random:N", help="How to sweep parameters given several values."),
    Option(("--objective",), "objective", metavar="metrics.NAME:max|min", help="Rank a sweep's child runs."),
    Option(("--seed",), "seed", "int", 0, "Seed of --sweep random:N."),
    Option(("--workers",), "workers", "int", help="papermill: steps run at once (default: cores)."),
    Option(("--kernel",), "kernel", help="papermill: the Jupyter kernel to run steps in."),
    Option(("--fresh-kernel",), "fresh_kernel", "flag", help="papermill: a new kernel for every step."),
    Option(("--ray-address",), "ray_address", help="ray: the cluster to run on (default: a local Ray)."),
    Option(("-v", "--verbose"), "verbose", "flag", False, "Show the steps' own output as they run."),
)

COMPILE_OPTIONS = (
    Option((), "notebook", "file"),
    Option(("-o", "--output"), "output", help="Write here (a folder for papermill) instead of stdout."),
    Option(
        ("--target",),
        "target",
        "choice",
        "json",
        choices=tuple(TARGETS),
        help="; ".join(f"{t.name}: {t.help}" for t in TARGETS.values()) + ".",
    ),
    Option(("--kernel",), "kernel", help="papermill: the kernel the step notebooks name."),
    Option(("--force",), "force", "flag", False, "Replace an existing output nbmlops did not write."),
)

SHOW_OPTIONS = (
    Option((), "target", "file"),
    Option(("--format",), "fmt", "choice", "text", choices=("text", "mermaid", "dot", "json")),
)


def run_command(
    target: str,
    params: tuple[str, ...],
    backend: str,
    resume: str | None,
    no_cache: bool,
    force: tuple[str, ...],
    only: str | None,
    sweep: str | None,
    objective: str | None,
    seed: int,
    workers: int | None,
    kernel: str | None,
    fresh_kernel: bool | None,
    ray_address: str | None,
    verbose: bool,
) -> None:
    from nbmlops.cli.output import TerminalReporter, echo, print_run_summary, print_sweep_summary
    from nbmlops.pipeline import load_pipeline
    from nbmlops.pipeline.params import check_unique
    from nbmlops.runners import run_pipeline, sweep_pipeline

    check_unique(params)  # before a sweep splits them: `-p n=1 -p n=2` is an error either way
    freeze_imported_objects()
    spec = load_pipeline(target)
    for warning in spec.warnings:
        echo(f"warning: {warning}", err=True)
    backend_options = {
        k: v
        for k, v in {"workers": workers, "kernel": kernel, "fresh_kernel": fresh_kernel, "address": ray_address}.items()
        if v is not None
    }
    options = {
        "backend": backend,
        "use_cache": not no_cache,
        "force": force,
        "echo": verbose,
        "backend_options": backend_options,
    }
    if sweep or (any("," in item for item in params) and is_sweep(spec, params)):
        if resume or only:
            raise NbmlopsError("--resume and --only run one pipeline; they can't be combined with a sweep")
        result = sweep_pipeline(
            spec,
            list(params),
            sweep=sweep or "grid",
            objective=objective,
            seed=seed,
            reporter_for=lambda values, extra: TerminalReporter(
                spec, verbose, {"shared steps": "once"} if "skip" in extra else values
            ),
            **options,
        )
        print_sweep_summary(result)
        return
    from nbmlops.pipeline.params import resolve_parameters

    resolve_parameters(spec, list(params))  # a bad -p is the one line said, before the run's header
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


def compile_command(notebook: str, output: str | None, target: str, kernel: str | None, force: bool = False) -> None:
    from nbmlops.cli.output import echo
    from nbmlops.pipeline import compile_notebook
    from nbmlops.pipeline.targets import target as find_target
    from nbmlops.pipeline.targets import write_target

    chosen = find_target(target)
    spec = compile_notebook(notebook)
    freeze_imported_objects()  # the spec too: nothing made here is garbage before the process ends
    if output is None:
        if target != "json":
            raise NbmlopsError(f"--target {target} needs -o: a {chosen.output} to write")
        echo(spec.to_json())
    else:
        written = write_target(spec, target, output, force=force, kernel_name=kernel)
        files = f", {len(written)} files" if len(written) > 1 else ""
        echo(
            f"wrote {output}: {chosen.help} ({len(spec.steps)} steps, {len(spec.parameters)} parameters{files})",
            err=True,
        )
    for warning in spec.warnings:
        echo(f"warning: {warning}", err=True)


def show_command(target: str, fmt: str) -> None:
    from nbmlops.cli.output import echo
    from nbmlops.pipeline import load_pipeline, to_dot, to_mermaid, to_text

    spec = load_pipeline(target)
    render = {"text": to_text, "mermaid": to_mermaid, "dot": to_dot, "json": lambda s: s.to_json() + "\n"}[fmt]
    echo(render(spec), nl=False)


def exit_code_of(error: NbmlopsError) -> int:
    """Print a user's error as one line (a failed step also with its traceback and how to resume); the exit code:
    1 for a failed step, 2 for bad input."""
    from nbmlops.cli.output import echo

    echo(f"error: {error}", err=True)
    if not isinstance(error, StepFailed):
        return 2
    if error.traceback_text:
        echo(error.traceback_text.rstrip(), err=True)
    if error.run_id:
        echo(f"run {error.run_id} failed; after fixing the cell: nbmlops run ... --resume {error.run_id}", err=True)
    return 1


def freeze_imported_objects() -> None:
    """In the `nbmlops` process (not when a test or a kernel invokes a command): move what the imports made
    (~100k objects of modules and classes, never garbage) out of the cyclic collector's sight, so the
    collections the steps trigger and the one at interpreter exit (~20 ms) skip them. The steps' own objects,
    made later, are collected as usual."""
    if whole_process:
        import gc

        gc.freeze()


whole_process = False  # set by the console script: the command owns this process and it ends with the command


def claim_process() -> None:
    global whole_process
    whole_process = True
