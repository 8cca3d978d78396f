"""A standalone HTML drift report: summary, a row per feature (test, score, verdict), reference-vs-current
distributions and each column's drift over time, drawn by nbmlops.monitoring.figures as the notebook's
DriftDashboard draws them. plotly.js is inlined once, so the file works offline (no CDN)."""

from __future__ import annotations

import html
import math
import time
from pathlib import Path
from typing import Any

import pandas as pd

from nbmlops.monitoring import figures as figures_
from nbmlops.monitoring.drift import OK, DriftResult

_STYLE = """
body{font-family:system-ui,-apple-system,Segoe UI,sans-serif;margin:24px;color:#222}
h1{font-size:22px}h2{font-size:18px;margin-top:28px}
table{border-collapse:collapse;font-size:13px}td,th{padding:4px 8px;border-bottom:1px solid #ddd;text-align:left}
th{background:#f4f4f4}.drift{color:#b00020;font-weight:600}.ok{color:#1b5e20}.muted{color:#777}
.verdict{font-size:18px;padding:8px 12px;display:inline-block;border-radius:6px}
.verdict.drift{background:#fde7ea}.verdict.ok{background:#e8f5e9}
.grid{display:flex;flex-wrap:wrap;gap:8px}.grid>div{width:570px}
"""


def _fmt(value: Any, digits: int = 4) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    if isinstance(value, float):
        return f"{value:.{digits}g}"
    return html.escape(str(value))


def _table(result: DriftResult) -> str:
    head = [
        "feature",
        "role",
        "kind",
        "test",
        "score",
        "threshold",
        "p-value",
        "effect size",
        "verdict",
        "missing (cur)",
        "unseen (cur)",
        "note",
    ]
    rows = []
    for r in result.table.to_dict("records"):
        if r["status"] != OK:
            verdict = f'<span class="muted">{html.escape(r["status"])}</span>'
        else:
            verdict = '<span class="drift">drift</span>' if r["drifted"] else '<span class="ok">no drift</span>'
        effect = (
            f'{_fmt(r["effect_size"])} <span class="muted">{_fmt(r["effect_metric"])}</span>'
            if r["effect_metric"]
            else ""
        )
        cells = [
            _fmt(r["feature"]),
            _fmt(r["role"]),
            _fmt(r["kind"]),
            _fmt(r["test"]),
            _fmt(r["score"]),
            _fmt(r["threshold"]),
            _fmt(r["p_value"]),
            effect,
            verdict,
            _pct(r["missing_current"]),
            _pct(r["unseen_current"]),
            _fmt(r["reason"]),
        ]
        rows.append("<tr>" + "".join(f"<td>{c}</td>" for c in cells) + "</tr>")
    return "<table><tr>" + "".join(f"<th>{h}</th>" for h in head) + "</tr>" + "".join(rows) + "</table>"


def _pct(value: Any) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    return f"{float(value):.1%}"


def _over_time(history: pd.DataFrame, shown: str | None) -> str:
    ok = history[history["status"] == OK]
    if ok.empty or ok["window_end"].nunique() < 2:
        return '<p class="muted">Drift over time appears once two or more windows are stored.</p>'
    figures = (figures_.history_figure(str(feature), history, shown) for feature in ok["feature"].unique())
    return '<div class="grid">' + "".join(f"<div>{_html(fig)}</div>" for fig in figures if fig is not None) + "</div>"


def _html(fig: Any) -> str:
    return fig.to_html(full_html=False, include_plotlyjs=False)


def render_html(
    result: DriftResult,
    *,
    title: str = "Drift report",
    history: pd.DataFrame | None = None,
    summary: dict[str, Any] | None = None,
) -> str:
    from plotly.offline import get_plotlyjs

    summary = summary or {}
    verdict_class = "drift" if result.dataset_drift else "ok"
    facts = [f"reference rows: {result.n_reference}", f"current rows: {result.n_current}"]
    for key in ("model", "window", "source"):
        if summary.get(key):
            facts.append(f"{key}: {html.escape(str(summary[key]))}")
    if summary.get("window_end"):
        facts.append("window end: " + time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(summary["window_end"])))
    if result.prediction_drift is not None:
        facts.append(f"prediction drift: {'yes' if result.prediction_drift else 'no'}")
    metrics = summary.get("metrics") or {}
    metric_html = ""
    if metrics:
        metric_html = (
            "<h2>Performance</h2><table><tr>"
            + "".join(f"<th>{html.escape(k)}</th>" for k in metrics)
            + "</tr><tr>"
            + "".join(f"<td>{_fmt(v)}</td>" for v in metrics.values())
            + "</tr></table>"
        )
    rows = {r["feature"]: r for r in result.table.to_dict("records")}
    plots = "".join(
        f"<div>{_html(figures_.distribution_figure(name, plot, rows.get(name)))}</div>"
        for name, plot in result.plots.items()
    )
    over_time = "" if history is None else "<h2>Drift over time</h2>" + _over_time(history, summary.get("id"))
    return f"""<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>{html.escape(title)}</title><style>{_STYLE}</style>
<script type="text/javascript">{get_plotlyjs()}</script></head>
<body><h1>{html.escape(title)}</h1>
<div class="verdict {verdict_class}">{html.escape(result.summary())}</div>
<p class="muted">{" · ".join(facts)}</p>
{metric_html}
<h2>Features</h2>{_table(result)}
<h2>Distributions: reference vs current</h2><div class="grid">{plots}</div>
{over_time}
<p class="muted">Generated by nbmlops {time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime())}.</p>
</body></html>"""


def write_report(result: DriftResult, path: str | Path, **kwargs: Any) -> Path:
    """Write the standalone HTML report of `result` to `path` (see render_html for the options)."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(render_html(result, **kwargs), encoding="utf-8")
    return target
