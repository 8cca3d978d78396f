"""`nbmlops monitor run|report|compare|history|configure|prepare`: drift monitoring from a terminal."""

from __future__ import annotations

import json
import math
import sys
import time
from typing import Any

import click

from nbmlops.cli.group import NbmlopsGroup
from nbmlops.errors import NbmlopsError

json_option = click.option(
    "--json",
    "as_json",
    is_flag=True,
    help="Print JSON for scripts (strict JSON: a non-finite number, such as the infinite "
    "chi-square statistic of a value unseen in the reference, is null).",
)


def _console() -> Any:
    from rich.console import Console

    return Console(highlight=False, width=None if sys.stdout.isatty() else 240)


def _store() -> Any:
    from nbmlops.tracking import get_store

    return get_store()


def _pairs(values: tuple[str, ...], what: str, convert: Any) -> Any:
    """('0.2',) -> 0.2 for every column; ('age=0.2', 'plan=psi') -> per column."""
    if not values:
        return None
    per_column: dict[str, Any] = {}
    for value in values:
        if "=" not in value:
            if len(values) > 1:
                raise NbmlopsError(f"--{what} '{value}': with several --{what} options each must be COLUMN=VALUE")
            return convert(value)
        column, _, item = value.partition("=")
        per_column[column.strip()] = convert(item.strip())
    return per_column


def _number(text: str) -> float:
    try:
        return float(text)
    except ValueError as exc:
        raise NbmlopsError(f"'{text}' is not a number") from exc


def _num(value: Any) -> str:
    if value is None or (isinstance(value, float) and value != value):
        return ""
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def _print_result(result: Any, title: str) -> None:
    from rich.table import Table

    table = Table(title=title, title_justify="left")
    for column in ("feature", "test", "score", "threshold", "p-value", "effect", "verdict", "missing", "unseen"):
        table.add_column(column, no_wrap=column == "feature")
    for r in result.table.to_dict("records"):
        if r["status"] != "ok":
            verdict = f"[dim]{r['status']}: {r['reason']}[/dim]"
        else:
            verdict = "[bold red]drift[/bold red]" if r["drifted"] else "[green]ok[/green]"
        name = r["feature"] if r["role"] == "feature" else f"{r['feature']} ({r['role']})"
        missing = (
            ""
            if r["missing_current"] != r["missing_current"] or r["missing_current"] is None
            else f"{r['missing_current']:.1%}"
        )
        unseen = (
            ""
            if r["unseen_current"] != r["unseen_current"] or r["unseen_current"] is None
            else f"{r['unseen_current']:.1%}"
        )
        table.add_row(
            str(name),
            r["test"] or "",
            _num(r["score"]),
            _num(r["threshold"]),
            _num(r["p_value"]),
            _num(r["effect_size"]),
            verdict,
            missing,
            unseen,
        )
    console = _console()
    console.print(table)
    console.print(
        ("[bold red]" if result.dataset_drift else "[green]")
        + result.summary().replace("[", r"\[")
        + ("[/bold red]" if result.dataset_drift else "[/green]")
    )


def _plain(value: Any) -> Any:
    """A value as strict JSON can hold it: numpy scalars as Python numbers at full precision, NaN/±inf/NA/NaT as
    None (JSON has no Infinity or NaN), containers walked; anything else is left to json.dumps(default=str)."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if hasattr(value, "tolist") and hasattr(value, "__len__"):  # a numpy array in a cell
        return _plain(value.tolist())
    if value is None or isinstance(value, str | bool):
        return value
    if hasattr(value, "item") and not hasattr(value, "__len__"):  # numpy scalar
        value = value.item()
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, int | str | bool):
        return value
    try:
        import pandas as pd

        if pd.isna(value):
            return None
    except (TypeError, ValueError):
        pass
    return value


def _dump(payload: Any) -> str:
    """Strict JSON (allow_nan=False: a non-finite number that slipped through is an error, not `Infinity`)."""
    return json.dumps(_plain(payload), default=str, allow_nan=False)


def _records(frame: Any) -> list[dict[str, Any]]:
    """A DataFrame's rows as plain dicts (not DataFrame.to_json: it rounds to 10 decimals, 3e-14 -> 0.0)."""
    return [_plain(r) for r in frame.to_dict("records")]


@click.group(cls=NbmlopsGroup)
def monitor() -> None:
    """Drift monitoring: compare live data with a model's reference data, store and report it."""


def _drift_options(fn: Any) -> Any:
    fn = click.option(
        "--test",
        "tests",
        multiple=True,
        metavar="[COLUMN=]TEST",
        help="Force a test (ks, chisquare, z, wasserstein, jensenshannon, psi), all columns or one.",
    )(fn)
    fn = click.option(
        "--threshold",
        "thresholds",
        multiple=True,
        metavar="[COLUMN=]VALUE",
        help="Force a threshold, for all columns or one.",
    )(fn)
    fn = click.option(
        "--min-effect",
        type=float,
        default=None,
        help="A p-value test drifts only if the effect size is at least this too.",
    )(fn)
    fn = click.option(
        "--drift-share",
        type=float,
        default=None,
        help="Dataset drift when at least this share of features drifted (default 0.5).",
    )(fn)
    return fn


@monitor.command("run")
@click.argument("model")
@click.option("--current", type=click.Path(exists=True), help="Current data: Parquet, CSV or JSON lines.")
@click.option(
    "--window", help="Only rows of the last 30m/12h/1d/2w (from the prediction log, or --current's 'timestamp' column)."
)
@_drift_options
@click.option("--on-drift", metavar='"run NOTEBOOK -p ..."', help="Retrain when the alert fires.")
@click.option("--html", "html_path", type=click.Path(dir_okay=False), help="Also write the HTML report here.")
@click.option("--fail-on-drift", is_flag=True, help="Exit 1 when the alert fires (for CI and cron).")
@json_option
def run_(
    model: str,
    current: str | None,
    window: str | None,
    tests: tuple[str, ...],
    thresholds: tuple[str, ...],
    min_effect: float | None,
    drift_share: float | None,
    on_drift: str | None,
    html_path: str | None,
    fail_on_drift: bool,
    as_json: bool,
) -> None:
    """Compare MODEL's reference (e.g. churn@production) with current data; store and print the result."""
    from nbmlops.monitoring import monitor_model

    if current is None and window is None:
        raise NbmlopsError("nbmlops monitor run needs --current FILE or --window DURATION (e.g. 1d)")
    store = _store()
    outcome = monitor_model(
        model,
        current,
        window=window,
        tests=_pairs(tests, "test", str),
        thresholds=_pairs(thresholds, "threshold", _number),
        min_effect=min_effect,
        drift_share=drift_share,
        on_drift=on_drift,
        store=store,
        progress=None if not as_json else False,
    )
    if html_path:
        _report(store, outcome.result_id, html_path)
    if as_json:
        click.echo(
            _dump(
                {
                    "result_id": outcome.result_id,
                    "model": outcome.model,
                    "dataset_drift": outcome.drift.dataset_drift,
                    "drift_share": outcome.drift.drift_share,
                    "prediction_drift": outcome.drift.prediction_drift,
                    "alert": outcome.alert,
                    "metrics": outcome.metrics,
                    "features": _records(outcome.drift.table),
                    "retraining": outcome.retraining.__dict__ if outcome.retraining else None,
                }
            )
        )
    else:
        _print_result(outcome.drift, f"drift of {outcome.model} · result {outcome.result_id}")
        if outcome.metrics:
            click.echo("performance: " + ", ".join(f"{k}={_num(v)}" for k, v in outcome.metrics.items()))
        if outcome.alert:
            click.echo(f"ALERT: drift alert for {outcome.model} (result {outcome.result_id})")
        if outcome.retraining:
            r = outcome.retraining
            if r.returncode:
                click.echo(f"retraining `{r.command}` failed (exit {r.returncode})", err=True)
            else:
                what = ", ".join(r.versions) if r.versions else "no new model version"
                click.echo(f"retrained in {r.seconds:.1f}s: {what}" + (" → @staging" if r.versions else ""))
        if html_path:
            click.echo(f"wrote {html_path}")
    if fail_on_drift and outcome.alert:
        sys.exit(1)


def _report(store: Any, result_id: str, path: str) -> None:
    from nbmlops.monitoring import feature_history, load_result, write_report

    summary, result = load_result(store, result_id)
    name = summary["model_name"]
    history = feature_history(store, name) if name else None
    model = f"{name}:{summary['model_version']}" if name else None
    write_report(
        result, path, title=f"Drift report — {model or result_id}", history=history, summary={**summary, "model": model}
    )


@monitor.command("report")
@click.argument("model")
@click.option("--result", "result_id", help="A stored result id (default: the model's latest).")
@click.option("--html", "html_path", type=click.Path(dir_okay=False), required=True, help="Write the report here.")
def report(model: str, result_id: str | None, html_path: str) -> None:
    """Write a standalone HTML report (works offline) of MODEL's latest stored result and its drift over time."""
    from nbmlops.monitoring import list_results

    store = _store()
    if result_id is None:
        name = model.split("@")[0].split(":")[0]
        latest = list_results(store, name, limit=1)
        if latest.empty:
            raise NbmlopsError(
                f"no drift results stored for model '{name}': run `nbmlops monitor run {model} --current FILE` first"
            )
        result_id = str(latest["id"].iloc[0])
    _report(store, result_id, html_path)
    click.echo(f"wrote {html_path}")


@monitor.command("compare")
@click.argument("reference", type=click.Path(exists=True))
@click.argument("current", type=click.Path(exists=True))
@_drift_options
@click.option("--html", "html_path", type=click.Path(dir_okay=False), help="Write the HTML report here.")
@json_option
def compare(
    reference: str,
    current: str,
    tests: tuple[str, ...],
    thresholds: tuple[str, ...],
    min_effect: float | None,
    drift_share: float | None,
    html_path: str | None,
    as_json: bool,
) -> None:
    """Compare two data files (nothing stored)."""
    from nbmlops.monitoring import detect_drift, read_table, write_report

    result = detect_drift(
        read_table(reference),
        read_table(current),
        _pairs(tests, "test", str),
        _pairs(thresholds, "threshold", _number),
        min_effect=min_effect,
        drift_share=drift_share if drift_share is not None else 0.5,
        progress=None if not as_json else False,
    )
    if html_path:
        write_report(result, html_path, title=f"Drift report — {current} vs {reference}", summary={"source": current})
    if as_json:
        click.echo(
            _dump(
                {
                    "dataset_drift": result.dataset_drift,
                    "drift_share": result.drift_share,
                    "features": _records(result.table),
                }
            )
        )
    else:
        _print_result(result, f"drift of {current} against {reference}")
        if html_path:
            click.echo(f"wrote {html_path}")


@monitor.command("history")
@click.argument("model")
@click.option("--feature", help="One feature's time series.")
@click.option("--limit", type=int, default=20, show_default=True, help="Windows shown (newest).")
@json_option
def history(model: str, feature: str | None, limit: int, as_json: bool) -> None:
    """Stored drift results of MODEL, newest first (or one feature's time series)."""
    from nbmlops.monitoring import feature_history, list_results

    store = _store()
    name = model.split("@")[0].split(":")[0]
    if feature:
        frame = feature_history(store, name, feature).tail(limit)
        if as_json:
            click.echo(_dump(_records(frame)))
            return
        rows = [
            [
                time.strftime("%Y-%m-%d %H:%M", time.gmtime(r.window_end)),
                r.test or "",
                _num(r.score),
                _num(r.effect_size),
                "drift" if r.drifted else r.status,
            ]
            for r in frame.itertuples()
        ]
        _print_rows(f"{name} · {feature}", ["window end", "test", "score", "effect", "verdict"], rows)
        return
    frame = list_results(store, name, limit=limit)
    if as_json:
        click.echo(_dump(_records(frame)))
        return
    rows = [
        [
            r.id,
            f"{r.model_name}:{r.model_version}",
            time.strftime("%Y-%m-%d %H:%M", time.gmtime(r.window_end)),
            r.window or "",
            f"{r.n_drifted}/{r.n_features}",
            "DRIFT" if r.dataset_drift else "ok",
            "ALERT" if r.alert else "",
        ]
        for r in frame.itertuples()
    ]
    _print_rows(
        f"drift results of {name}", ["result", "model", "window end", "window", "drifted", "dataset", "alert"], rows
    )


def _print_rows(title: str, columns: list[str], rows: list[list[str]]) -> None:
    from rich.table import Table

    table = Table(title=title, title_justify="left")
    for column in columns:
        table.add_column(column)
    for row in rows:
        table.add_row(*row)
    _console().print(table)


@monitor.command("configure")
@click.argument("model")
@_drift_options
@click.option("--k", type=int, help="Alert when drift shows in K ...")
@click.option("--n", type=int, help="... of the last N windows.")
@click.option("--on", "on", type=click.Choice(["dataset", "prediction", "any"]), help="Which drift alerts.")
@click.option("--on-drift", metavar='"run NOTEBOOK -p ..."', help="Retraining command when the alert fires.")
@json_option
def configure(
    model: str,
    tests: tuple[str, ...],
    thresholds: tuple[str, ...],
    min_effect: float | None,
    drift_share: float | None,
    k: int | None,
    n: int | None,
    on: str | None,
    on_drift: str | None,
    as_json: bool,
) -> None:
    """Set MODEL's monitoring defaults and alert (k of n windows, retraining command); no options: show them."""
    from nbmlops.monitoring import AlertRule, get_settings, set_settings

    store = _store()
    name = model.split("@")[0].split(":")[0]
    config = get_settings(store, name)
    changes = {
        "tests": _pairs(tests, "test", str),
        "thresholds": _pairs(thresholds, "threshold", _number),
        "min_effect": min_effect,
        "drift_share": drift_share,
    }
    config.update({key: value for key, value in changes.items() if value is not None})
    alert = dict(config.get("alert", {}))
    alert.update(
        {key: value for key, value in (("k", k), ("n", n), ("on", on), ("on_drift", on_drift)) if value is not None}
    )
    if alert:
        config["alert"] = AlertRule.from_dict(alert).to_dict()  # validates k <= n etc. before storing
    if any(v is not None for v in (*changes.values(), k, n, on, on_drift)):
        set_settings(store, name, config)
    click.echo(_dump(config) if as_json else json.dumps(_plain(config), indent=2))


@monitor.command("prepare")
@click.argument("model")
@click.option("--rebuild", is_flag=True, help="Recompute even if a profile is stored.")
def prepare(model: str, rebuild: bool) -> None:
    """Precompute and store MODEL's reference profile (sorted samples, category counts), once per version."""
    from nbmlops.monitoring import reference_profile

    started = time.perf_counter()
    profile, prediction, version = reference_profile(model, store=_store(), rebuild=rebuild)
    click.echo(
        f"reference profile of {version.uri}: {profile.rows} rows, {len(profile.columns)} columns"
        f"{' (with predictions)' if prediction else ''} in {time.perf_counter() - started:.2f}s"
    )
