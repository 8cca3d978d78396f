"""`nbmlops runs ls|show|compare|lineage|rm`: tables in a terminal, `--json` for scripts."""

from __future__ import annotations

import json
import time
from dataclasses import asdict
from typing import Any

import click

from nbmlops.cli.group import NbmlopsGroup
from nbmlops.errors import NbmlopsError
from nbmlops.status import RUN_STATUSES

json_option = click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")


def _store() -> Any:
    from nbmlops.store import open_store

    return open_store()


def _console() -> Any:
    import sys

    from rich.console import Console

    # piped output (less, grep, a file) gets full rows instead of rows folded to 80 columns
    return Console(highlight=False, width=None if sys.stdout.isatty() else 240)


def _table(title: str, columns: list[str], rows: list[list[str]]) -> Any:
    from rich.table import Table

    table = Table(title=title, title_justify="left")
    for column in columns:
        table.add_column(column, no_wrap=column in ("run", "started"))
    for row in rows:
        table.add_row(*row)
    return table


def _when(timestamp: float | None) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(timestamp)) if timestamp else ""


def _seconds(value: float | None) -> str:
    return f"{value:.2f}" if value is not None else ""


def _short(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value) if value is not None else ""


def split_filter(text: str | None) -> list[str]:
    """`metrics.auc > 0.8 and params.C = 0.5` -> one clause per comparison (the store's grammar: no `or`, at most
    nbmlops.store.query.MAX_TERMS terms)."""
    from nbmlops.store.query import split_filter as split

    return split(text)


@click.group(cls=NbmlopsGroup)
def runs() -> None:
    """Runs recorded in this project's store."""


@runs.command("ls")
@click.option("--pipeline", help="Only runs of this pipeline.")
@click.option("--status", type=click.Choice([status.value for status in RUN_STATUSES]))
@click.option("--filter", "filter_", metavar="EXPR", help='e.g. "metrics.auc > 0.8 and params.C = 0.5"')
@click.option("--order-by", "order_by", multiple=True, metavar="FIELD", help="e.g. -metrics.auc (repeatable).")
@click.option("--limit", type=int, default=50, show_default=True)
@json_option
def list_runs(
    pipeline: str | None, status: str | None, filter_: str | None, order_by: tuple[str, ...], limit: int, as_json: bool
) -> None:
    """List runs, newest first."""
    found = _store().list_runs(
        pipeline=pipeline, status=status, where=split_filter(filter_), order_by=order_by, limit=limit
    )
    if as_json:
        click.echo(json.dumps([_run_summary(r) for r in found], indent=1, default=str))
        return
    metric_keys = sorted({k for r in found for k in r.metrics})[:6]
    # the params that tell these runs apart; the ones all share would only crowd the table
    param_keys = sorted(
        {k for r in found for k in r.params if len({json.dumps(x.params.get(k), default=str) for x in found}) > 1}
    )[:4]
    triggered = any(r.trigger for r in found)  # the column only where a schedule started some of them
    rows = [
        [
            r.id,
            r.pipeline or r.name or "",
            r.status,
            _when(r.started_at),
            _seconds(r.duration),
            *([trigger_text(r.trigger)] if triggered else []),
            *[_short(r.params.get(k)) for k in param_keys],
            *[_short(r.metrics.get(k)) for k in metric_keys],
        ]
        for r in found
    ]
    columns = [
        "run",
        "pipeline",
        "status",
        "started",
        "seconds",
        *(["trigger"] if triggered else []),
        *[f"params.{k}" for k in param_keys],
        *[f"metrics.{k}" for k in metric_keys],
    ]
    _console().print(_table(f"{len(found)} runs", columns, rows))


def trigger_text(trigger: dict[str, Any] | None) -> str:
    """What started a scheduled run, in a few words: `nightly cron 2027-01-01T03:00:00+01:00`."""
    if not trigger:
        return ""
    kind = trigger.get("kind", "")
    detail = {
        "cron": lambda: str(trigger.get("occurrence_at", "")),
        "files": lambda: f"{len(trigger.get('files', []))} new file(s) {trigger.get('glob', '')}",
        "drift": lambda: f"{trigger.get('model', '')} result {trigger.get('drift_result', '')}",
        "after": lambda: f"{trigger.get('upstream', '')} run {trigger.get('upstream_run', '')}",
        "manual": lambda: str(trigger.get("requested_at", "")),
    }.get(kind, lambda: "")()
    attempt = f" (attempt {trigger['attempt']})" if trigger.get("attempt", 1) > 1 else ""
    return f"{trigger.get('schedule', '')} {kind} {detail}{attempt}".strip()


def _run_summary(run: Any) -> dict[str, Any]:
    data = asdict(run)
    data.pop("packages", None)
    return data


@runs.command("show")
@click.argument("run_id")
@json_option
def show_run(run_id: str, as_json: bool) -> None:
    """A run's parameters, metrics, steps and provenance."""
    store = _store()
    run = store.get_run(run_id)
    steps = store.steps(run_id)
    if as_json:
        click.echo(json.dumps({**asdict(run), "steps": [asdict(s) for s in steps]}, indent=1, default=str))
        return
    console = _console()
    console.print(f"[bold]run {run.id}[/]  {run.pipeline or run.name or ''}  [bold]{run.status}[/]")
    console.print(f"started {_when(run.started_at)}  duration {_seconds(run.duration)} s  backend {run.backend}")
    if run.notebook_path:
        console.print(f"notebook {run.notebook_path}  sha256 {(run.notebook_sha256 or '')[:12]}")
    if run.git_commit:
        console.print(f"git {run.git_commit[:12]}{' (dirty)' if run.git_dirty else ''}")
    console.print(f"python {run.python_version}  nbmlops {run.nbmlops_version}")
    if run.trigger:
        console.print(f"trigger {trigger_text(run.trigger)}")
    if run.error:
        console.print(f"[red]error:[/] {run.error}")
    if run.params:
        console.print(
            _table(
                "params",
                ["name", "value", "from"],
                [[k, _short(v), _reused_from(run.reused.get(f"params.{k}"))] for k, v in run.params.items()],
            )
        )
    if run.metrics:
        console.print(
            _table(
                "metrics",
                ["name", "value", "from"],
                [[k, _short(v), _reused_from(run.reused.get(f"metrics.{k}"))] for k, v in run.metrics.items()],
            )
        )
    if steps:
        rows = [
            [
                s.name,
                s.status + (" (cached)" if s.cache_hit else ""),
                _seconds(s.duration),
                ", ".join(s.inputs),
                ", ".join(s.outputs),
            ]
            for s in steps
        ]
        console.print(_table("steps", ["step", "status", "seconds", "inputs", "outputs"], rows))


def _reused_from(origin: dict[str, str] | None) -> str:
    """Where a reused value was logged (a cache hit carries the producing step's records), or '' if fresh."""
    return f"reused: run {origin['run_id']} step {origin['step']}" if origin else ""


@runs.command("compare")
@click.argument("run_ids", nargs=-1, required=True)
@json_option
def compare_runs(run_ids: tuple[str, ...], as_json: bool) -> None:
    """Params and metrics of runs side by side; rows that differ are marked."""
    if len(run_ids) < 2:
        raise NbmlopsError("compare needs at least two run ids")
    store = _store()
    found = [store.get_run(run_id) for run_id in run_ids]
    rows = []
    for kind in ("params", "metrics"):
        keys = sorted({k for r in found for k in getattr(r, kind)})
        for key in keys:
            values = [getattr(r, kind).get(key) for r in found]
            differs = len({json.dumps(v, default=str) for v in values}) > 1
            rows.append({"field": f"{kind}.{key}", "values": values, "differs": differs})
    if as_json:
        click.echo(json.dumps({"runs": list(run_ids), "rows": rows}, indent=1, default=str))
        return
    table_rows = [
        [("≠ " if row["differs"] else "  ") + row["field"], *[_short(v) for v in row["values"]]] for row in rows
    ]
    _console().print(_table("compare (≠ marks differences)", ["field", *run_ids], table_rows))


@runs.command("lineage")
@click.argument("run_id")
@json_option
def lineage(run_id: str, as_json: bool) -> None:
    """What a run read and produced (value hashes), and what was made from it."""
    store = _store()
    store.get_run(run_id)
    edges = store.edges("run", run_id)
    if as_json:
        click.echo(json.dumps([asdict(e) for e in edges], indent=1, default=str))
        return
    rows = [
        [e.relation, e.step_name or "", e.name or "", f"{e.from_kind}:{e.from_id[:16]}", f"{e.to_kind}:{e.to_id[:16]}"]
        for e in edges
    ]
    _console().print(_table(f"lineage of run {run_id}", ["relation", "step", "name", "from", "to"], rows))


@runs.command("rm")
@click.argument("run_ids", nargs=-1, required=True)
@click.option("--yes", is_flag=True, help="Don't ask for confirmation.")
def remove_runs(run_ids: tuple[str, ...], yes: bool) -> None:
    """Delete runs, their records and artifacts no other run uses."""
    store = _store()
    for run_id in run_ids:
        store.get_run(run_id)  # every id must exist before anything is deleted
    if not yes and not click.confirm(f"delete {len(run_ids)} run(s) and what only they use?"):
        raise click.Abort()
    for run_id in run_ids:
        deleted = store.delete_run(run_id)
        _remove_run_folder(run_id)
        click.echo(f"deleted {', '.join(deleted)}")


def _remove_run_folder(run_id: str) -> None:
    import shutil

    from nbmlops.store import project_home

    folder = project_home() / "runs" / run_id
    if folder.is_dir():
        shutil.rmtree(folder)
