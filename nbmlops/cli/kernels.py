"""`nbmlops kernels start|stop|status`: warm kernels kept between runs, which `nbmlops run --backend papermill`
claims (nbmlops.runners.kernel_pool). Attach with `main.add_command(kernels)`."""

from __future__ import annotations

import json

import click

from nbmlops.cli.group import NbmlopsGroup


@click.group("kernels", cls=NbmlopsGroup)
def kernels() -> None:
    """Keep warm kernels between runs: --backend papermill then starts none."""


@kernels.command("start")
@click.option(
    "--idle-timeout", type=float, default=3600.0, show_default=True, help="Seconds a warm kernel waits unclaimed."
)
@click.option("--max-kernels", type=int, default=None, help="Kernels held at most (default: CPUs, at least 2).")
def start(idle_timeout: float, max_kernels: int | None) -> None:
    """Start the kernel daemon (nothing happens when one runs)."""
    from nbmlops.runners.kernel_pool import start_daemon

    daemon, started = start_daemon(idle_timeout=idle_timeout, max_kernels=max_kernels)
    word = "started" if started else "already running"
    click.echo(
        f"kernel daemon {word} (pid {daemon.pid}, folder {daemon.folder}); the second --backend papermill run "
        "of a notebook finds its kernels warm; stop with: nbmlops kernels stop"
    )


@kernels.command("stop")
def stop() -> None:
    """Stop the kernel daemon and its spare kernels (kernels runs are using finish with their runs)."""
    from nbmlops.runners.kernel_pool import stop_daemon

    click.echo("kernel daemon stopped" if stop_daemon() else "kernel daemon was not running")


@kernels.command("status")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def status(as_json: bool) -> None:
    """Whether the kernel daemon runs, and its kernels (exit 1 when it doesn't)."""
    from nbmlops.runners.kernel_pool import daemon_status, pool_dir

    info = daemon_status()
    if as_json:
        click.echo(json.dumps(info or {"running": False, "folder": str(pool_dir())}))
    elif info is None:
        click.echo(f"kernel daemon not running (folder {pool_dir()})")
    else:
        click.echo(f"kernel daemon running (pid {info['pid']}, folder {info['folder']})")
        for kernel in info["kernels"]:
            click.echo(f"  kernel pid {kernel['pid']}: {kernel['state']} for {kernel['label'] or kernel['key']}")
    if info is None:
        raise SystemExit(1)
