"""The charts of drift results, shared by the HTML report (nbmlops.monitoring.report) and the notebook's
DriftDashboard (nbmlops.widgets): a column's reference-vs-current distribution, its score per stored window
against the threshold, and the share of drifted columns per window. Each function returns a plotly Figure (None
when there is nothing to draw); plotly is imported only when a chart is made.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import pandas as pd

if TYPE_CHECKING:
    from plotly.graph_objects import Figure

OK = "ok"
REFERENCE_COLOR, CURRENT_COLOR = "#7986cb", "#ff7043"
DRIFT_COLOR, NO_DRIFT_COLOR, THRESHOLD_COLOR = "#d32f2f", "#1e88e5", "#757575"


def fmt(value: Any, digits: int = 4) -> str:
    """A number for a title or hover text: '' for missing, 4 significant digits for floats."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    if isinstance(value, float) or getattr(getattr(value, "dtype", None), "kind", "") == "f":
        return "" if math.isnan(float(value)) else f"{float(value):.{digits}g}"
    return str(value)


def distribution_figure(feature: str, plot: dict[str, Any], row: dict[str, Any] | None) -> Figure:
    """Reference vs current shares of one column: a histogram on shared bins, or bars per category."""
    import plotly.graph_objects as go

    fig = go.Figure()
    if plot["type"] == "numeric":
        edges = [float(e) for e in plot["edges"]]
        centers = [(a + b) / 2 for a, b in zip(edges[:-1], edges[1:], strict=True)]
        widths = [b - a for a, b in zip(edges[:-1], edges[1:], strict=True)]
        ranges = [[a, b] for a, b in zip(edges[:-1], edges[1:], strict=True)]
        for side, color in (("reference", REFERENCE_COLOR), ("current", CURRENT_COLOR)):
            fig.add_trace(
                go.Bar(
                    x=centers,
                    y=plot[side],
                    width=widths,
                    name=side,
                    marker_color=color,
                    opacity=0.6,
                    customdata=ranges,
                    hovertemplate=f"{side}<br>[%{{customdata[0]:.4g}}, "
                    "%{customdata[1]:.4g}): %{y:.1%}<extra></extra>",
                )
            )
        fig.update_layout(barmode="overlay", bargap=0, xaxis_title=feature)
    else:
        for side, color in (("reference", REFERENCE_COLOR), ("current", CURRENT_COLOR)):
            fig.add_trace(
                go.Bar(
                    x=plot["categories"],
                    y=plot[side],
                    name=side,
                    marker_color=color,
                    hovertemplate=f"{side}<br>%{{x}}: %{{y:.1%}}<extra></extra>",
                )
            )
        fig.update_layout(barmode="group", xaxis_title=feature, xaxis_type="category")
    title = feature
    if row is not None and row["status"] == OK:
        verdict = "drift" if row["drifted"] else "no drift"
        title = f"{feature}: {verdict} ({row['test']} {fmt(row['score'])}, threshold {fmt(row['threshold'])})"
    fig.update_layout(
        title={"text": title, "font": {"size": 14}},
        height=330,
        width=560,
        margin={"l": 50, "r": 10, "t": 40, "b": 45},
        yaxis_title="share of rows",
        yaxis_tickformat=".0%",
        legend={"orientation": "h", "y": 1.02, "x": 1, "xanchor": "right", "yanchor": "bottom"},
        template="plotly_white",
    )
    return fig


def history_figure(feature: str, history: pd.DataFrame, shown: str | None) -> Figure | None:
    """One column's score per stored window against its threshold; drifted windows in red; the shown one ringed."""
    rows = history[(history["feature"] == feature) & (history["status"] == OK)].copy()
    rows["score"] = pd.to_numeric(rows["score"], errors="coerce")
    rows = rows[rows["score"].notna()]
    if rows.empty:
        return None
    when = pd.to_datetime(rows["window_end"].astype(float), unit="s").tolist()  # lists: plain JSON for every renderer
    scores = rows["score"].tolist()
    drifted = rows["drifted"].fillna(False).astype(bool).tolist()
    custom = list(
        zip(
            rows["result_id"],
            rows["test"].fillna(""),
            [fmt(v) for v in pd.to_numeric(rows["p_value"], errors="coerce")],
            [fmt(v) for v in pd.to_numeric(rows["effect_size"], errors="coerce")],
            strict=True,
        )
    )
    fig = _over_time(
        when,
        scores,
        drifted,
        pd.to_numeric(rows["threshold"], errors="coerce").tolist(),
        [r == shown for r in rows["result_id"]],
        "score",
        custom,
        "%{x}<br>%{customdata[1]}: %{y:.4g}<br>p-value %{customdata[2]} · effect %{customdata[3]}<br>"
        "%{customdata[0]}<extra></extra>",
    )
    tests = set(rows["test"].dropna())
    from nbmlops.monitoring.choice import TESTS

    if tests and all(TESTS[t].has_p_value for t in tests if t in TESTS):
        axis = "p-value (drift below the threshold)"
    elif tests and not any(TESTS[t].has_p_value for t in tests if t in TESTS):
        axis = "distance (drift above the threshold)"
    else:
        axis = "score (p-value or distance)"
    if axis.startswith("p-value") and min(scores) > 0:
        fig.update_yaxes(type="log", exponentformat="e")  # p-values span decades: 1e-40 and 0.2 both readable
    fig.update_layout(
        title={"text": f"{feature} over time", "font": {"size": 14}},
        height=330,
        width=560,
        margin={"l": 50, "r": 10, "t": 40, "b": 45},
        yaxis_title=axis,
        template="plotly_white",
        legend={"orientation": "h", "y": 1.02, "x": 1, "xanchor": "right", "yanchor": "bottom"},
    )
    return fig


def share_figure(results: pd.DataFrame, shown: str | None) -> Figure | None:
    """The share of drifted features per stored window against the dataset-drift threshold."""
    rows = results.sort_values(["window_end", "created_at"], kind="stable")
    if rows.empty:
        return None
    when = pd.to_datetime(rows["window_end"].astype(float), unit="s").tolist()
    shares = rows["drift_share"].astype(float).tolist()
    flags = rows["dataset_drift"].fillna(False).astype(bool).tolist()
    custom = list(zip(rows["id"], rows["n_drifted"], rows["n_features"], strict=True))
    fig = _over_time(
        when,
        shares,
        flags,
        rows["share_threshold"].astype(float).tolist(),
        [r == shown for r in rows["id"]],
        "drifted share",
        custom,
        "%{x}<br>%{customdata[1]} of %{customdata[2]} drifted (%{y:.0%})<br>%{customdata[0]}<extra></extra>",
    )
    fig.update_layout(
        title={"text": "share of drifted features", "font": {"size": 14}},
        height=300,
        width=560,
        margin={"l": 50, "r": 10, "t": 40, "b": 45},
        yaxis_tickformat=".0%",
        yaxis_range=[0, 1.05],
        template="plotly_white",
        legend={"orientation": "h", "y": 1.02, "x": 1, "xanchor": "right", "yanchor": "bottom"},
    )
    return fig


def _over_time(
    when: list[Any],
    values: list[float],
    drifted: list[bool],
    thresholds: list[float],
    shown: list[bool],
    name: str,
    custom: list[Any],
    hover: str,
) -> Figure:
    """A series per stored window against its threshold: drifted points red, the result on screen ringed."""
    import plotly.graph_objects as go

    fig = go.Figure()
    fig.add_trace(
        go.Scatter(
            x=when,
            y=values,
            mode="lines+markers",
            name=name,
            line={"color": NO_DRIFT_COLOR},
            customdata=custom,
            hovertemplate=hover,
            marker={"size": 8, "color": [DRIFT_COLOR if d else NO_DRIFT_COLOR for d in drifted]},
        )
    )
    fig.add_trace(
        go.Scatter(
            x=when,
            y=thresholds,
            mode="lines",
            name="threshold",
            hoverinfo="skip",
            line={"color": THRESHOLD_COLOR, "dash": "dash", "shape": "hv"},
        )
    )
    here = [i for i, flag in enumerate(shown) if flag]
    if here:
        fig.add_trace(
            go.Scatter(
                x=[when[i] for i in here],
                y=[values[i] for i in here],
                mode="markers",
                name="shown",
                hoverinfo="skip",
                marker={"size": 16, "symbol": "circle-open", "color": "#212121", "line": {"width": 2}},
            )
        )
    return fig
