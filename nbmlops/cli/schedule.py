"""`nbmlops schedule add|ls|show|pause|resume|rm|run-now|export` and `nbmlops scheduler`.

Bad input (cron, time zone, parameter, glob, notebook) prints one line naming the field and exits 2 with
nothing stored; `run-now` exits 1 when the run failed.
"""

from __future__ import annotations

import json
import signal
import sys
import threading
from typing import Any

import click

from nbmlops.cli.group import NbmlopsGroup
from nbmlops.status import StepStatus

json_option = click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")


def _store() -> Any:
    from nbmlops.store import open_store

    return open_store()


def _when(at: float | None, timezone: str = "UTC") -> str:
    from nbmlops.scheduling import iso

    return (iso(at, timezone) or "")[:19].replace("T", " ") if at else ""


@click.group(cls=NbmlopsGroup)
def schedule() -> None:
    """Cron schedules and data/drift/upstream triggers, run by `nbmlops scheduler`."""


@schedule.command("add")
@click.argument("target", metavar="NOTEBOOK_OR_SPEC")
@click.option("--cron", help='When it runs, e.g. "0 3 * * *" (minute hour day month weekday) or @daily.')
@click.option("--timezone", default="UTC", show_default=True, help="Time zone of the cron times, e.g. Europe/Berlin.")
@click.option("--name", help="Schedule name (default: the pipeline's name).")
@click.option("-p", "--param", "params", multiple=True, metavar="NAME=VALUE", help="A parameter value (repeatable).")
@click.option("--backend", default="local", show_default=True, help="local, papermill or ray.")
@click.option("--catchup", default="once", show_default=True, help="Missed occurrences: skip, once or all.")
@click.option("--retries", default="0", show_default=True, help="Retries of a failed run, with exponential back-off.")
@click.option(
    "--retry-delay",
    default="60",
    show_default=True,
    metavar="SECONDS",
    help="Back-off before the first retry (doubles each time).",
)
@click.option("--start", metavar="ISO_TIME", help="Count occurrences from this time (default: now).")
@click.option("--on-new-files", metavar="GLOB", help='Run when files matching it appear, e.g. "data/*.parquet".')
@click.option(
    "--files-param",
    default="new_files",
    show_default=True,
    help="The parameter that receives the new files (a list of paths).",
)
@click.option("--on-drift", metavar="MODEL_URI", help="Run when a stored drift result of the model is over threshold.")
@click.option("--after", metavar="NAME", help="Run after each successful run of this schedule or pipeline.")
@json_option
def add(
    target: str,
    cron: str | None,
    timezone: str,
    name: str | None,
    params: tuple[str, ...],
    backend: str,
    catchup: str,
    retries: str,
    retry_delay: str,
    start: str | None,
    on_new_files: str | None,
    files_param: str,
    on_drift: str | None,
    after: str | None,
    as_json: bool,
) -> None:
    """Schedule a notebook (or pipeline.json)."""
    from nbmlops.scheduling import add_schedule, build_schedule

    retries_n = _number(retries, int, "--retries")
    delay = _number(retry_delay, float, "--retry-delay")
    store = _store()
    made = build_schedule(
        target,
        home=store.settings.home,
        cron=cron,
        timezone=timezone,
        name=name,
        params=list(params),
        backend=backend,
        catchup=catchup,
        retries=retries_n,
        retry_delay=delay,
        start=start,
        on_new_files=on_new_files,
        files_param=files_param,
        on_drift=on_drift,
        after=after,
    )
    add_schedule(store.db, made)
    _print_one(store, made.name, as_json, verb="added")


def _number(text: str, kind: type, flag: str) -> Any:
    from nbmlops.scheduling import ScheduleError

    try:
        return kind(text)
    except ValueError:
        raise ScheduleError(f"{flag} '{text}': not a {'whole number' if kind is int else 'number'}") from None


@schedule.command("ls")
@json_option
def list_(as_json: bool) -> None:
    """Every schedule with its next and last occurrence."""
    from nbmlops.scheduling import schedule_views

    store = _store()
    views = schedule_views(store)
    if as_json:
        click.echo(json.dumps(views, indent=1, default=str))
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"{len(views)} schedules", title_justify="left")
    for column in ("name", "when", "next", "last", "status", "notebook"):
        table.add_column(column)
    for view in views:
        last = view["last"] or {}
        state = "paused" if view["paused"] else ("error" if view["last_error"] else "active")
        table.add_row(
            view["name"],
            "; ".join(view["triggers"]),
            (view["next_at"] or "")[:19].replace("T", " "),
            f"{(last.get('at') or '')[:19].replace('T', ' ')} {last.get('status') or ''}".strip(),
            state,
            view["notebook"],
        )
    Console(highlight=False, width=None if sys.stdout.isatty() else 240).print(table)


@schedule.command("show")
@click.argument("name")
@json_option
def show(name: str, as_json: bool) -> None:
    """A schedule, its recent occurrences and its last error."""
    _print_one(_store(), name, as_json)


def _print_one(store: Any, name: str, as_json: bool, verb: str | None = None) -> None:
    from nbmlops.scheduling import occurrences_of, schedule_view

    view = schedule_view(store, name)
    history = [
        {
            "key": o.key,
            "kind": o.kind,
            "status": o.status,
            "attempts": o.attempts,
            "max_attempts": o.max_attempts,
            "run_id": o.run_id,
            "error": o.error,
            "occurrence_at": o.occurrence_at,
            "next_attempt_at": o.next_attempt_at,
            "owner": o.owner,
        }
        for o in occurrences_of(store.db, name)
    ]
    if as_json:
        click.echo(json.dumps({**view, "occurrences": history}, indent=1, default=str))
        return
    if verb:
        click.echo(f"{verb} schedule {name}")
    click.echo(f"schedule {view['name']}{'  (paused)' if view['paused'] else ''}")
    click.echo(f"  notebook  {view['target']}")
    for line in view["triggers"]:
        click.echo(f"  when      {line}")
    click.echo(f"  next      {view['next_at'] or '-'}")
    click.echo(
        f"  params    {json.dumps(view['params'])}  backend {view['backend']}  catch-up {view['catchup']}  "
        f"retries {view['retries']} (first after {view['retry_delay']:g} s)"
    )
    if view["last_error"]:
        click.echo(f"  last error  {view['last_error']}")
    for o in history:
        retry = f" next attempt {_when(o['next_attempt_at'])}" if o["status"] == StepStatus.RETRYING else ""
        error = f"  {o['error']}" if o["error"] and o["status"] != StepStatus.SUCCEEDED else ""
        click.echo(
            f"  {o['key']:<42} {o['status']:<10} attempt {o['attempts']}/{o['max_attempts']} "
            f"run {o['run_id'] or '-'}{retry}{error}"
        )


@schedule.command("pause")
@click.argument("name")
def pause(name: str) -> None:
    """Stop starting new occurrences (running ones finish)."""
    from nbmlops.scheduling import set_paused

    set_paused(_store().db, name, True)
    click.echo(f"paused {name}")


@schedule.command("resume")
@click.argument("name")
def resume(name: str) -> None:
    """Start again from now (occurrences missed while paused are not caught up)."""
    from nbmlops.scheduling import set_paused

    set_paused(_store().db, name, False)
    click.echo(f"resumed {name}")


@schedule.command("rm")
@click.argument("name")
def remove(name: str) -> None:
    """Delete a schedule and its history (the runs it started stay)."""
    from nbmlops.scheduling import remove_schedule

    remove_schedule(_store().db, name)
    click.echo(f"removed {name}")


@schedule.command("run-now")
@click.argument("name")
@click.option(
    "--due",
    is_flag=True,
    help="Run the newest cron occurrence due now, unless already claimed (what exported crontab/systemd entries run).",
)
@click.option("--at", "at", metavar="ISO_TIME", help="Act as if it were this time (tests, replays).")
@json_option
def run_now(name: str, due: bool, at: str | None, as_json: bool) -> None:
    """Run one occurrence now, in the foreground, under the scheduler's claims and leases."""
    from nbmlops.scheduling import describe, parse_time
    from nbmlops.scheduling import run_now as run

    outcome = run(
        _store(),
        name,
        due=due,
        at=parse_time(at) if at else None,
        echo=not as_json,
        log=lambda line: click.echo(line, err=True),
    )
    if outcome is None:
        message = f"{name}: nothing to run (the occurrence due now was claimed already)"
        click.echo(json.dumps({"schedule": name, "status": None}) if as_json else message, err=not as_json)
        return
    if as_json:
        click.echo(json.dumps(describe(outcome), default=str))
    if outcome.status != StepStatus.SUCCEEDED:
        sys.exit(1)


@schedule.command("export")
@click.option("--crontab", "fmt", flag_value="crontab", help="Lines for `crontab -e`.")
@click.option("--systemd", "fmt", flag_value="systemd", help="A .service and a .timer unit per schedule.")
@click.argument("names", nargs=-1)
def export(fmt: str | None, names: tuple[str, ...]) -> None:
    """Print the schedules as crontab entries or systemd timers that run `nbmlops schedule run-now --due`."""
    from nbmlops.scheduling import ScheduleError, export_crontab, export_systemd, get_schedule, list_schedules

    if fmt is None:
        raise ScheduleError("export: choose --crontab or --systemd")
    store = _store()
    chosen = [get_schedule(store.db, n) for n in names] if names else list_schedules(store.db)
    text = (
        export_crontab(chosen, store.settings.home) if fmt == "crontab" else export_systemd(chosen, store.settings.home)
    )
    click.echo(text, nl=False)


@click.command("scheduler", context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--poll",
    default="30",
    show_default=True,
    metavar="SECONDS",
    help="Look at triggers (files, drift, upstream runs) this often; cron times are met on time.",
)
@click.option("--max-parallel", default="4", show_default=True, help="Runs at once.")
@click.option("--once", is_flag=True, help="Process what is due now (or --at) and exit.")
@click.option("--at", "at", metavar="ISO_TIME", help="With --once: the instant to process.")
@click.option(
    "--grace",
    default="60",
    show_default=True,
    metavar="SECONDS",
    help="On SIGTERM/SIGINT, how long running pipelines may take to finish before they are stopped.",
)
@click.option(
    "--lease",
    default="30",
    show_default=True,
    metavar="SECONDS",
    help="Lease of a running occurrence (renewed every third); another scheduler takes over after it.",
)
def scheduler(poll: str, max_parallel: str, once: bool, at: str | None, grace: str, lease: str) -> None:
    """Run due schedules until SIGTERM/SIGINT (several schedulers may share one database)."""
    from nbmlops.scheduling import ScheduleError, Scheduler, parse_time

    if at and not once:
        raise ScheduleError("--at: only with --once")
    runner = Scheduler(
        _store(),
        max_parallel=_number(max_parallel, int, "--max-parallel"),
        poll_s=_number(poll, float, "--poll"),
        grace_s=_number(grace, float, "--grace"),
        lease_s=_number(lease, float, "--lease"),
        at=parse_time(at) if at else None,
    )
    if once:
        outcomes = runner.run_once()
        click.echo(
            f"{len(outcomes)} run(s): "
            + ", ".join(f"{o.occurrence.schedule} {o.status or 'taken over'}" for o in outcomes)
            if outcomes
            else "nothing due"
        )
        return
    stop, hurry = threading.Event(), threading.Event()
    received: list[str] = []

    def on_signal(signum: int, _frame: Any) -> None:
        received.append(signal.Signals(signum).name)
        (hurry if stop.is_set() else stop).set()  # a second signal: don't wait for running pipelines

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    runner.run_forever(stop, hurry, signal_name=lambda: received[0] if received else "stop")
