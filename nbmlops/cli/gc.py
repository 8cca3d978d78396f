"""`nbmlops gc [--dry-run]`: remove the artifact store's unreferenced blobs and interrupted writes' temporary files.

The references come from each package that keeps blobs (runs' artifacts, model versions, monitor references,
cached training sets); nbmlops.store.gc reads them and deletes in one transaction of the metadata database, and
keeps anything younger than --older-than (default an hour), so it is safe while other processes write.
"""

from __future__ import annotations

import json

import click

from nbmlops.store.gc import GRACE_S


def _size(count: int) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if count < 1000 or unit == "GB":
            return f"{count:,.0f} {unit}" if unit == "B" else f"{count:,.1f} {unit}"
        count /= 1000
    return f"{count} B"


@click.command("gc")
@click.option("--dry-run", is_flag=True, help="Only report what would be removed.")
@click.option(
    "--older-than",
    "older_than",
    type=click.FloatRange(min=0),
    default=GRACE_S,
    show_default=True,
    metavar="SECONDS",
    help="Keep blobs and temporary files younger than this (writes in progress).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
def gc(dry_run: bool, older_than: float, as_json: bool) -> None:
    """Remove blobs no run, model version, monitor reference or cached training set uses, and leftover .tmp files."""
    from nbmlops.features.references import feature_references
    from nbmlops.monitoring.references import monitoring_references
    from nbmlops.registry.references import registry_references
    from nbmlops.store import open_store
    from nbmlops.store.gc import collect_garbage, run_artifact_references

    store = open_store()
    report = collect_garbage(
        store,
        [run_artifact_references, registry_references, monitoring_references, feature_references],
        dry_run=dry_run,
        grace_s=older_than,
    )
    if as_json:
        click.echo(json.dumps({**report.to_dict(), "removed": report.blobs, "temp": report.temp_files}, indent=1))
        return
    verb = "would remove" if dry_run else "removed"
    click.echo(
        f"{verb} {len(report.blobs)} unreferenced blob(s) ({_size(report.blob_bytes)}) and "
        f"{len(report.temp_files)} temporary file(s) ({_size(report.temp_bytes)}): {_size(report.total_bytes)}"
        f" in all; {report.referenced} blob(s) in use, {report.kept_young} kept as younger than "
        f"{older_than:g}s"
    )
