"""`nbmlops features ls|show|vectors|parity`: the feature catalog and the online/offline skew check.
Tables in a terminal (rich), `--json` for scripts. Attach with `main.add_command(features)`."""

from __future__ import annotations

import json
import sys
import time
from dataclasses import asdict
from typing import Any

import click

from nbmlops.cli.group import NbmlopsGroup


def _console() -> Any:
    from rich.console import Console

    console = Console(soft_wrap=True)
    if not console.is_terminal:  # pipes and CliRunner: don't squeeze tables into 80 columns
        console = Console(soft_wrap=True, width=200)
    return console


def _age(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if abs(seconds) >= size:
            return f"{seconds / size:.1f}{unit}"
    return f"{seconds:.0f}s"


def _num(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


@click.group("features", cls=NbmlopsGroup)
def features() -> None:
    """Feature sets, their statistics and freshness; vectors; online/offline parity."""


@features.command("ls")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
def ls_cmd(as_json: bool) -> None:
    """Every feature set: current version (the one last ingested) and all versions, features, rows, freshness
    and the vectors that use it."""
    from nbmlops.features import catalog

    sets = catalog(stats=False)
    if as_json:
        click.echo(json.dumps([asdict(s) for s in sets], indent=1, default=str))
        return
    if not sets:
        click.echo("no feature sets yet: define a FeatureSet and ingest or push data")
        return
    from rich.table import Table

    table = Table(
        "set", "current", "versions", "entities", "features", "rows", "online", "newest event", "vectors", "owner"
    )
    for s in sets:
        table.add_row(
            s.name,
            f"v{s.version}",
            ", ".join(f"v{v}" for v in s.versions),
            ", ".join(s.entities),
            str(len(s.features)),
            str(s.rows),
            str(s.online_entities),
            _age(s.freshness_s) + " ago" if s.freshness_s is not None else "-",
            ", ".join(s.vectors) or "-",
            s.owner or "-",
        )
    _console().print(table)


@features.command("show")
@click.argument("name")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of tables.")
def show_cmd(name: str, as_json: bool) -> None:
    """A feature set (NAME, or NAME@vN for a version other than the current one): definition, statistics of
    every feature, freshness, every version, vectors and models using it."""
    from nbmlops.features import describe

    info = describe(name)
    if as_json:
        click.echo(json.dumps(asdict(info), indent=1, default=str))
        return
    from rich.table import Table

    console = _console()
    state = "current" if info.version == info.current else f"current: v{info.current}"
    console.print(
        f"[bold]{info.name}[/] v{info.version} ({state})"
        f"  entities: {', '.join(info.entities)}  timestamp: {info.timestamp}"
        + (f"  ttl: {_age(info.ttl_s)}" if info.ttl_s else "")
    )
    if info.description or info.owner:
        console.print(f"{info.description}  [dim]owner: {info.owner or '-'}[/]")
    newest = (
        time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(info.newest_event_ns / 1e9)) if info.newest_event_ns else "-"
    )
    console.print(
        f"rows: {info.rows} in {info.ingests} ingests; newest event {newest} UTC "
        f"({_age(info.freshness_s)} ago); online entities: {info.online_entities}"
    )
    table = Table("feature", "kind", "type", "definition", "count", "nulls", "min", "max", "mean", "distinct")
    for f in info.features:
        st = f.stats or {}
        table.add_row(
            f.name,
            f.kind,
            f.dtype or "-",
            f.definition,
            _num(st.get("count")),
            _num(st.get("nulls")),
            _num(st.get("min")),
            _num(st.get("max")),
            _num(st.get("mean")),
            _num(st.get("distinct")),
        )
    console.print(table)
    versions = Table("version", "current", "schema", "features", "rows", "ingests", "online", "last ingest")
    for v in info.history:
        last = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(v.last_ingest_at)) if v.last_ingest_at else "-"
        versions.add_row(
            f"v{v.version}",
            "*" if v.current else "",
            v.schema,
            ", ".join(v.features) or "-",
            str(v.rows),
            str(v.ingests),
            str(v.online_entities),
            last,
        )
    console.print(versions)
    console.print(f"vectors: {', '.join(info.vectors) or '-'}   models: {', '.join(info.models) or '-'}")


@features.command("vectors")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
def vectors_cmd(as_json: bool) -> None:
    """Feature vectors used so far, with their features and label."""
    from nbmlops.features import default_store

    records = default_store().catalog.vectors()
    if as_json:
        click.echo(json.dumps(records, indent=1))
        return
    for record in records:
        label = f"  label: {record['label']}" if record.get("label") else ""
        click.echo(f"{record['name']}: {', '.join(record['features'])}{label}")


@features.command("parity")
@click.argument("vector")
@click.option("--sample", "-n", default=100, show_default=True, help="Entities to replay.")
@click.option("--seed", default=0, show_default=True, help="Sampling seed.")
@click.option("--as-of", default=None, help="Read time (default: the newest event of the vector's sets).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
def parity_cmd(vector: str, sample: int, seed: int, as_of: str | None, as_json: bool) -> None:
    """Replay sampled entities through the offline and the online path; per-feature skew. Exits 1 on skew."""
    from nbmlops.features import parity

    report = parity(vector, sample, seed=seed, as_of=as_of)
    if as_json:
        click.echo(json.dumps(asdict(report) | {"ok": report.ok}, indent=1, default=str))
    else:
        from rich.table import Table

        table = Table("feature", "compared", "mismatches", "max |diff|")
        for name, skew in report.features.items():
            style = "red" if skew.mismatches else "green"
            table.add_row(name, str(skew.compared), f"[{style}]{skew.mismatches}[/]", _num(skew.max_abs_diff))
        console = _console()
        console.print(f"[bold]{report.vector}[/]: {report.rows} entities as of {report.as_of}")
        console.print(table)
        console.print("[green]zero skew[/]" if report.ok else f"[red]skew in {report.skew} values[/]")
    if not report.ok:
        sys.exit(1)
