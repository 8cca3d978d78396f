"""The RunsBrowser's panes: one run's detail (facts, steps, params, metrics, artifacts), metric curves, a sweep's
parallel-coordinates plot, and the side-by-side comparison of several runs with differences marked."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nbmlops.runners.rundir import RunDir
from nbmlops.widgets._base import STYLE
from nbmlops.widgets._render import esc, fmt, missing

if TYPE_CHECKING:
    import pandas as pd
    from plotly.graph_objects import Figure

    from nbmlops.store import MetricPoint, RunInfo, StepInfo, Store

PALETTE = ["#1e88e5", "#e53935", "#43a047", "#fb8c00", "#8e24aa", "#00acc1", "#6d4c41", "#3949ab", "#c0ca33", "#d81b60"]
BEST_COLOR, OTHER_COLOR = "#d81b60", "#90a4ae"


def _when(seconds: float | None) -> str:
    return "" if missing(seconds) else time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(float(seconds)))


def _text(value: Any) -> str:
    if isinstance(value, float):
        return fmt(value)
    if isinstance(value, str) or value is None:
        return esc(value)
    return esc(json.dumps(value, default=str))


def _key(value: Any) -> str:
    return json.dumps(value, default=str, sort_keys=True)


def relative_link(path: Path, base: Path) -> str:
    """A link JupyterLab opens in a tab: relative to the notebook's folder (the kernel's working directory)."""
    try:
        return Path(os.path.relpath(path, base)).as_posix()
    except ValueError:  # another drive (Windows): no relative path
        return path.as_posix()


def _table(head: list[str], rows: list[list[str]], css: str = "") -> str:
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in r) + "</tr>" for r in rows)
    return (
        f'<table class="nbmlops-w-table {css}"><thead><tr>'
        + "".join(f"<th>{esc(h)}</th>" for h in head)
        + f"</tr></thead><tbody>{body}</tbody></table>"
    )


# -- one run ----------------------------------------------------------------------------------------------------
def step_rows(store: Store, run: RunInfo, steps: list[StepInfo], base: Path) -> list[dict[str, Any]]:
    """Per step: status, duration, cached (and from where), why it ran (the run folder's status.json) and the
    executed step notebook (papermill backend) as a link relative to `base`."""
    folder = RunDir(Path(store.settings.home) / "runs" / run.id)
    rows = []
    for step in steps:
        status = folder.read_status(step.name) if folder.root.is_dir() else None
        notebook = folder.step_dir(step.name) / f"{step.name}.ipynb"
        if step.cache_hit or step.reused_from_run:
            why = f"cached: from run {step.reused_from_run}" if step.reused_from_run else "cached"
        else:
            why = (status or {}).get("reason") or ""
        rows.append(
            {
                "name": step.name,
                "status": step.status,
                "duration": step.duration,
                "cached": bool(step.cache_hit or step.reused_from_run),
                "why": why,
                "error": step.error,
                "notebook": relative_link(notebook, base) if notebook.is_file() else None,
                "notebook_path": str(notebook) if notebook.is_file() else None,
            }
        )
    return rows


def notebook_outputs(path: str | Path, title: str) -> tuple[dict[str, Any], ...]:
    """An executed step notebook as Output-widget outputs: each code cell's source, then what it showed (so it
    reads in place even where JupyterLab won't open the hidden run folder)."""
    from nbmlops.widgets._render import html_output

    cells = json.loads(Path(path).read_text()).get("cells", [])
    shown: list[dict[str, Any]] = [html_output(f"<h4>{esc(title)}</h4>")]
    for number, cell in enumerate((c for c in cells if c.get("cell_type") == "code"), start=1):
        source = "".join(cell.get("source", "")) if isinstance(cell.get("source"), list) else cell.get("source", "")
        shown.append(
            html_output(
                f'<div class="nbmlops-w-muted">[{number}]</div><pre class="nbmlops-runs-source">{esc(source)}</pre>'
            )
        )
        for output in cell.get("outputs", []):
            kind = output.get("output_type")
            if kind in ("display_data", "execute_result"):
                shown.append(
                    {
                        "output_type": "display_data",
                        "data": output.get("data", {}),
                        "metadata": output.get("metadata", {}),
                    }
                )
            elif kind in ("stream", "error"):
                shown.append(output)
    return tuple(shown)


def children_of(store: Store, run: RunInfo) -> list[RunInfo]:
    """A sweep's child runs (oldest first), or [] for a run that has none."""
    return list(reversed(store.list_runs(parent_run_id=run.id, check_stale=False)))


def detail_html(detail: dict[str, Any]) -> str:
    run: RunInfo = detail["run"]
    facts = [
        ("run", run.id),
        ("name", run.name),
        ("pipeline", run.pipeline),
        ("status", run.status),
        ("started (UTC)", _when(run.started_at)),
        ("ended (UTC)", _when(run.ended_at)),
        ("seconds", fmt(run.duration)),
        ("backend", run.backend),
        ("notebook", run.notebook_path),
        ("notebook sha256", (run.notebook_sha256 or "")[:16]),
        ("git", (run.git_commit or "")[:12] + (" (dirty)" if run.git_dirty else "")),
        ("parent run", run.parent_run_id),
        ("resumed from", run.resumed_from),
        ("error", run.error),
    ]
    parts = [
        STYLE,
        '<div class="nbmlops-runs-facts nbmlops-w-muted">'
        + " · ".join(f"<b>{esc(k)}</b> {esc(v)}" for k, v in facts if v)
        + "</div>",
    ]
    steps = detail["steps"]
    if steps:
        rows = []
        for s in steps:
            link = (
                (
                    f'<a href="{esc(s["notebook"])}" data-path="{esc(s["notebook"])}" target="_blank">'
                    f"{esc(Path(s['notebook']).name)}</a>"
                )
                if s["notebook"]
                else ""
            )
            rows.append(
                [
                    esc(s["name"]),
                    f'<span class="{esc(s["status"])}">{esc(s["status"])}</span>',
                    fmt(s["duration"]),
                    "yes" if s["cached"] else "",
                    esc(s["why"]),
                    link,
                    esc((s["error"] or "")[:200]),
                ]
            )
        parts.append(
            "<h4>steps</h4>"
            + _table(
                ["step", "status", "seconds", "cached", "why it ran", "executed notebook", "error"],
                rows,
                "nbmlops-runs-steps",
            )
        )
    if run.params:
        parts.append(
            "<h4>params</h4>"
            + _table(
                ["param", "value", ""],
                [
                    [
                        esc(k),
                        _text(v),
                        '<span class="nbmlops-w-muted">reused</span>' if f"params.{k}" in run.reused else "",
                    ]
                    for k, v in sorted(run.params.items())
                ],
                "nbmlops-runs-params",
            )
        )
    curves: dict[str, list[MetricPoint]] = detail["curves"]
    if run.metrics:
        parts.append(
            "<h4>metrics</h4>"
            + _table(
                ["metric", "latest", "points", ""],
                [
                    [
                        esc(k),
                        fmt(v),
                        str(len(curves.get(k, []))),
                        '<span class="nbmlops-w-muted">reused</span>' if f"metrics.{k}" in run.reused else "",
                    ]
                    for k, v in sorted(run.metrics.items())
                ],
                "nbmlops-runs-metrics",
            )
        )
    artifacts = detail["artifacts"]
    if artifacts:
        parts.append(
            "<h4>artifacts</h4>"
            + _table(
                ["artifact", "step", "bytes", "sha256"],
                [[esc(a.name), esc(a.step_name), f"{a.size:,}", esc(a.sha256[:12])] for a in artifacts],
                "nbmlops-runs-artifacts",
            )
        )
    if run.tags:
        tags = [[esc(k), esc(v)] for k, v in sorted(run.tags.items())]
        parts.append("<h4>tags</h4>" + _table(["tag", "value"], tags))
    children = detail["children"]
    if children:
        best = run.tags.get("best_child")
        parts.append(
            f"<h4>sweep: {len(children)} child runs</h4>"
            + (
                f"<div>best child (<b>{esc(run.tags.get('objective', ''))}</b>): "
                f'<span class="nbmlops-runs-best">{esc(best)}</span></div>'
                if best
                else ""
            )
        )
    return "".join(parts)


def metric_figure(series: dict[str, list[MetricPoint]], *, title: str, markers: bool = False) -> Figure | None:
    """One line per series (a metric of one run, or one run of a metric) over its steps (the logging order
    where no step was given); None when no series has a point."""
    import plotly.graph_objects as go

    drawn = {name: points for name, points in series.items() if points}
    if not drawn:
        return None
    fig = go.Figure()
    for i, (name, points) in enumerate(drawn.items()):
        xs = [p.step if p.step is not None else n for n, p in enumerate(points)]
        ys = [None if missing(p.value) else float(p.value) for p in points]
        fig.add_trace(
            go.Scatter(
                x=xs,
                y=ys,
                name=name,
                mode="lines+markers" if markers or len(points) < 30 else "lines",
                line={"color": PALETTE[i % len(PALETTE)]},
            )
        )
    fig.update_layout(
        title={"text": title, "font": {"size": 14}},
        height=330,
        width=640,
        xaxis_title="step",
        margin={"l": 50, "r": 10, "t": 40, "b": 45},
        template="plotly_white",
    )
    return fig


def _objective(parent: RunInfo, children: list[RunInfo]) -> tuple[str | None, bool]:
    """(metric, maximise) the sweep was ranked by: the parent's `objective` tag, else a metric every child has."""
    text = parent.tags.get("objective") or ""
    if text.startswith("metrics."):
        name, _, way = text[len("metrics.") :].partition(":")
        return name, way != "min"
    shared = set.intersection(*(set(c.metrics) for c in children)) if children else set()
    return (sorted(shared)[0], True) if shared else (None, True)


def sweep_figure(parent: RunInfo, children: list[RunInfo]) -> tuple[Figure | None, str | None]:
    """Parallel coordinates: one axis per swept param (those the children differ in), then the objective; one
    line per child, the best one (the parent's best_child tag, else the best by the objective) in its own
    colour. Returns (figure or None when nothing varies, the best child's id)."""
    import plotly.graph_objects as go

    metric, maximise = _objective(parent, children)
    best = parent.tags.get("best_child")
    scored = [c for c in children if metric and not missing(c.metrics.get(metric))]
    if best is None and scored:
        best = (max if maximise else min)(scored, key=lambda c: c.metrics[metric]).id
    swept = [
        k for k in sorted({k for c in children for k in c.params}) if len({_key(c.params.get(k)) for c in children}) > 1
    ]
    if not swept:
        return None, best
    dimensions = []
    for key in swept:
        values = [c.params.get(key) for c in children]
        if all(isinstance(v, int | float) and not isinstance(v, bool) for v in values):
            dimensions.append({"label": key, "values": [float(v) for v in values]})
        else:
            labels = sorted({_key(v) for v in values})
            dimensions.append(
                {
                    "label": key,
                    "values": [labels.index(_key(v)) for v in values],
                    "tickvals": list(range(len(labels))),
                    "ticktext": labels,
                }
            )
    if metric:
        dimensions.append(
            {
                "label": f"{metric} ({'max' if maximise else 'min'})",
                "values": [c.metrics.get(metric, float("nan")) for c in children],
            }
        )
    marks = [1.0 if c.id == best else 0.0 for c in children]
    fig = go.Figure(
        go.Parcoords(
            dimensions=dimensions,
            line={"color": marks, "colorscale": [[0, OTHER_COLOR], [1, BEST_COLOR]], "cmin": 0, "cmax": 1},
        )
    )
    fig.update_layout(
        title={"text": f"sweep {parent.id}: best child {best}" if best else f"sweep {parent.id}", "font": {"size": 14}},
        height=360,
        width=720,
        margin={"l": 60, "r": 40, "t": 70, "b": 30},
    )
    return fig, best


# -- several runs -----------------------------------------------------------------------------------------------
def compare_table(runs: list[RunInfo]) -> pd.DataFrame:
    """One row per field (status, duration, params.*, metrics.*), one column per run, and `differs`."""
    import pandas as pd

    fields: dict[str, list[Any]] = {
        "status": [r.status for r in runs],
        "pipeline": [r.pipeline for r in runs],
        "duration": [r.duration for r in runs],
    }
    for key in sorted({k for r in runs for k in r.params}):
        fields[f"params.{key}"] = [r.params.get(key) for r in runs]
    for key in sorted({k for r in runs for k in r.metrics}):
        fields[f"metrics.{key}"] = [r.metrics.get(key) for r in runs]
    table = pd.DataFrame({"field": list(fields)})
    for i, run in enumerate(runs):
        table[run.id] = [values[i] for values in fields.values()]
    table["differs"] = [len({_key(v) for v in values}) > 1 for values in fields.values()]
    return table


def compare_html(table: pd.DataFrame, runs: list[RunInfo]) -> str:
    ids = [r.id for r in runs]
    rows = []
    for record in table.to_dict("records"):
        differs = record["differs"]
        css = ' class="differs"' if differs else ""
        rows.append(
            f'<tr data-field="{esc(record["field"])}" class="{"differs" if differs else ""}">'
            f"<td>{esc(record['field'])}</td>" + "".join(f"<td{css}>{_text(record[i])}</td>" for i in ids) + "</tr>"
        )
    n = int(table["differs"].sum())
    return (
        f"{STYLE}<h4>comparing {len(ids)} runs: {n} field{'s' if n != 1 else ''} differ (marked)</h4>"
        '<div class="nbmlops-w-scroll"><table class="nbmlops-w-table nbmlops-runs-compare"><thead><tr>'
        "<th>field</th>"
        + "".join(f"<th>{esc(i)}</th>" for i in ids)
        + "</tr></thead><tbody>"
        + "".join(rows)
        + "</tbody></table></div>"
    )
