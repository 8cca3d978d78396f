"""`nbmlops ray start|stop|status`: a local Ray cluster kept running between commands, which
`nbmlops run --backend ray` joins (nbmlops.runners.ray_cluster). Attach with `main.add_command(ray)`."""

from __future__ import annotations

import json

import click

from nbmlops.cli.group import NbmlopsGroup


@click.group("ray", cls=NbmlopsGroup)
def ray() -> None:
    """Keep a local Ray running between runs: --backend ray then starts nothing."""


@ray.command("start")
@click.option("--num-cpus", type=int, default=None, help="CPUs the head node offers (default: all).")
def start(num_cpus: int | None) -> None:
    """Start Ray's head node on this machine (nothing happens when one runs)."""
    from nbmlops.runners.ray_cluster import start_cluster

    cluster, started = start_cluster(num_cpus=num_cpus)
    word = "started" if started else "already running"
    click.echo(f"ray {word} at {cluster.address} (--backend ray joins it; stop with: nbmlops ray stop)")


@ray.command("stop")
def stop() -> None:
    """Stop the local Ray head node that `nbmlops ray start` started (no other Ray on the machine)."""
    from nbmlops.runners.ray_cluster import stop_cluster

    ended = stop_cluster()
    click.echo(f"ray stopped ({ended} processes)" if ended else "ray was not running")


@ray.command("status")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def status(as_json: bool) -> None:
    """Whether the local Ray runs, and where (exit 1 when it doesn't)."""
    from nbmlops.runners.ray_cluster import cluster_status

    info = cluster_status()
    if as_json:
        click.echo(json.dumps(info))
    elif info["running"]:
        click.echo(f"ray running at {info['address']} ({info['processes']} processes, folder {info['folder']})")
    else:
        click.echo(f"ray not running (folder {info['folder']})")
    if not info["running"]:
        raise SystemExit(1)
