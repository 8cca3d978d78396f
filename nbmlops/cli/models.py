"""`nbmlops models`: list, show, alias, tag and delete registered model versions.

Tables in a terminal, `--json` for scripts. Errors are NbmlopsErrors (the main group prints them as one line and
exits 2) or click usage errors. Imports stay lazy: `nbmlops models --help` loads no database library.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Sequence
from typing import Any

import click

from nbmlops.cli.group import NbmlopsGroup


def _echo_json(value: Any) -> None:
    click.echo(json.dumps(_jsonable(value), indent=2, sort_keys=False, default=str))


def _jsonable(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None  # NaN/inf are not JSON
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    return value


def _when(ts: float | None) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(ts)) if ts else "-"


def _table(rows: Sequence[Sequence[str]]) -> None:
    if len(rows) <= 1:
        return
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for i, row in enumerate(rows):
        line = "  ".join(cell.ljust(widths[j]) for j, cell in enumerate(row)).rstrip()
        click.echo(click.style(line, bold=True) if i == 0 else line)


def _size(n: int) -> str:
    value = float(n)
    for unit in ("B", "KB", "MB", "GB"):
        if value < 1024 or unit == "GB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{n} B"


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.6g}"
    return value if isinstance(value, str) else json.dumps(value, default=str)


@click.group("models", cls=NbmlopsGroup, context_settings={"help_option_names": ["-h", "--help"]})
def models() -> None:
    """The model registry: versions, aliases (churn@production), tags."""


@models.command("ls")
@click.argument("name", required=False)
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
def ls(name: str | None, as_json: bool) -> None:
    """List registered models, or the versions of model NAME."""
    from nbmlops.registry import list_model_versions, list_models

    if name is None:
        found = list_models()
        if as_json:
            _echo_json([m.to_dict() for m in found])
            return
        if not found:
            click.echo("no registered models (register one with nbmlops.register_model(model, 'name'))", err=True)
            return
        rows = [("name", "latest", "versions", "aliases", "updated")]
        rows += [
            (
                m.name,
                str(m.latest_version or "-"),
                str(m.versions),
                ", ".join(f"@{a}→{v}" for a, v in m.aliases.items()) or "-",
                _when(m.updated_at),
            )
            for m in found
        ]
        _table(rows)
        return
    versions = list_model_versions(name)
    if as_json:
        _echo_json([v.to_dict() for v in versions])
        return
    if not versions:
        click.echo(f"model '{name}' has no versions", err=True)
        return
    rows = [("version", "created", "aliases", "run", "type", "metrics")]
    for v in versions:
        metrics = ", ".join(f"{k}={_fmt(x)}" for k, x in sorted(v.metrics.items())[:4])
        rows.append(
            (
                str(v.version),
                _when(v.created_at),
                ", ".join(f"@{a}" for a in v.aliases) or "-",
                v.run_id or "-",
                (v.model_type or "-").rsplit(".", 1)[-1],
                metrics or "-",
            )
        )
    _table(rows)


@models.command("show")
@click.argument("uri")
@click.option("--json", "as_json", is_flag=True, help="Print JSON (with the full reference profile).")
def show(uri: str, as_json: bool) -> None:
    """Show one version: URI is NAME (latest), NAME:VERSION or NAME@ALIAS."""
    from nbmlops.registry import get_model_version, model_lineage

    version = get_model_version(uri)
    edges = model_lineage(version.uri)
    if as_json:
        _echo_json(
            {
                **version.to_dict(),
                "lineage": [
                    {"to_kind": e.to_kind, "to_id": e.to_id, "relation": e.relation, "name": e.name} for e in edges
                ],
            }
        )
        return
    click.echo(
        click.style(version.uri, bold=True)
        + (f"  ({', '.join('@' + a for a in version.aliases)})" if version.aliases else "")
    )
    fields = [
        ("created", _when(version.created_at)),
        ("type", version.model_type or "-"),
        ("format", version.format),
        ("artifact", f"{version.artifact_sha256}  {_size(version.artifact_size)}"),
        ("run", version.run_id or "-"),
        (
            "notebook",
            f"{version.notebook_path or '-'}  {version.notebook_sha256 or ''}".rstrip()
            if version.notebook_sha256 or version.notebook_path
            else "-",
        ),
        ("git commit", version.git_commit or "-"),
        ("data", version.data_sha256 or "-"),
    ]
    if version.description:
        fields.append(("description", version.description))
    width = max(len(k) for k, _ in fields)
    for key, value in fields:
        click.echo(f"  {key:<{width}}  {value}")
    for title, values in (("metrics", version.metrics), ("params", version.params), ("tags", version.tags)):
        if values:
            click.echo(click.style(title, bold=True))
            key_width = max(len(str(k)) for k in values)
            for key, value in sorted(values.items()):
                click.echo(f"  {key:<{key_width}}  {_fmt(value)}")
    signature = version.signature
    if signature:
        click.echo(click.style("signature", bold=True))
        if signature.get("type") == "ndarray":
            click.echo(f"  ndarray {signature['dtype']} shape {tuple(signature['shape'])}")
        else:
            name_width = max((len(c["name"]) for c in signature.get("columns", [])), default=0)
            for column in signature.get("columns", []):
                click.echo(f"  {column['name']:<{name_width}}  {column['dtype']}")
    profile = version.profile
    if profile:
        columns = profile.get("columns", {})
        click.echo(
            click.style("reference profile", bold=True) + f"  {profile.get('rows')} rows, {len(columns)} columns"
        )
        rows = [("  column", "kind", "nulls", "summary")]
        for name, column in columns.items():
            if column["kind"] == "numeric" and column.get("mean") is not None:
                summary = (
                    f"mean {column['mean']:.4g}  std {column['std']:.4g}  [{column['min']:.4g}, {column['max']:.4g}]"
                )
            elif column["kind"] == "categorical":
                top = ", ".join(f"{k} ({v})" for k, v in list(column["top"].items())[:3])
                summary = f"{column['distinct']} values: {top}" + (", …" if column["distinct"] > 3 else "")
            elif column["kind"] == "datetime":
                summary = f"[{column.get('min')}, {column.get('max')}]"
            else:
                summary = "-"
            rows.append((f"  {name}", column["kind"], str(column["nulls"]), summary))
        _table(rows)
    if edges:
        click.echo(click.style("lineage", bold=True))
        for edge in edges:
            label = f"  ({edge.name})" if edge.name else ""
            click.echo(f"  → {edge.to_kind} {edge.to_id}  [{edge.relation}]{label}")


@models.command("alias")
@click.argument("name")
@click.argument("alias")
@click.argument("version", required=False)
@click.option("--delete", "-d", "delete", is_flag=True, help="Remove the alias instead of setting it.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
def alias(name: str, alias: str, version: str | None, delete: bool, as_json: bool) -> None:
    """Point NAME@ALIAS at VERSION (set or move), or remove it with --delete.

    e.g. `nbmlops models alias churn production 3`, `nbmlops models alias churn staging --delete`."""
    from nbmlops.registry import delete_alias, set_alias

    if delete:
        if version is not None:
            raise click.UsageError("--delete takes no VERSION")
        was = delete_alias(name, alias)
        if as_json:
            _echo_json({"name": name, "alias": alias, "deleted": True, "version": was})
        else:
            click.echo(f"removed {name}@{alias} (was version {was})")
        return
    if version is None:
        raise click.UsageError("give the VERSION the alias should point at (or --delete to remove it)")
    before = set_alias(name, alias, version)
    now = int(version)
    if as_json:
        _echo_json({"name": name, "alias": alias, "version": now, "previous": before})
    elif before is None:
        click.echo(f"{name}@{alias} → version {now}")
    elif before == now:
        click.echo(f"{name}@{alias} already at version {now}")
    else:
        click.echo(f"{name}@{alias} moved: version {before} → {now}")


@models.command("tag")
@click.argument("uri")
@click.argument("key")
@click.argument("value", required=False)
@click.option("--delete", "-d", "delete", is_flag=True, help="Remove the tag instead of setting it.")
def tag(uri: str, key: str, value: str | None, delete: bool) -> None:
    """Set tag KEY=VALUE on the version URI names (NAME, NAME:VERSION, NAME@ALIAS), or remove it."""
    from nbmlops.registry import delete_model_tag, set_model_tag

    if delete:
        if value is not None:
            raise click.UsageError("--delete takes no VALUE")
        version = delete_model_tag(uri, key)
        click.echo(f"removed tag {key} from {version.uri}")
        return
    if value is None:
        raise click.UsageError("give the tag's VALUE (or --delete to remove it)")
    version = set_model_tag(uri, key, value)
    click.echo(f"{version.uri}: {key}={value}")


@models.command("rm")
@click.argument("target")
@click.option("--yes", "-y", is_flag=True, help="Don't ask for confirmation.")
@click.option("--json", "as_json", is_flag=True, help="Print what was deleted as JSON.")
def rm(target: str, yes: bool, as_json: bool) -> None:
    """Delete version NAME:VERSION, or model NAME with all its versions and aliases (and their drift history)."""
    from nbmlops.registry import (
        RegistryError,
        delete_model,
        delete_model_version,
        get_model_version,
        list_model_versions,
        parse_uri,
    )

    ref = parse_uri(target)
    if ref.alias is not None:
        raise RegistryError(f"'{target}': rm takes NAME:VERSION or NAME, not an alias (aliases move; versions don't)")
    if ref.version is not None:
        version = get_model_version(target)
        what = f"version {version.uri} with its drift history" + (
            f" (aliases {', '.join('@' + a for a in version.aliases)} go too)" if version.aliases else ""
        )
    else:
        count = len(list_model_versions(ref.name))
        what = f"model {ref.name} with its {count} version{'s' if count != 1 else ''}, aliases, tags and drift history"
    if not yes:
        click.confirm(f"delete {what}?", abort=True, err=True)
    numbers = delete_model_version(target) if ref.version is not None else delete_model(ref.name)
    numbers = [numbers] if isinstance(numbers, int) else numbers
    if as_json:
        _echo_json({"name": ref.name, "deleted_versions": numbers, "model_deleted": ref.version is None})
    else:
        click.echo(f"deleted {what}")
