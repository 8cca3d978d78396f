"""A serving graph as an SVG picture for the notebook (Graph._repr_svg_): boxes left to right, a router's model
versions stacked in one column with the share or role on each edge."""

from __future__ import annotations

from html import escape
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from nbmlops.serving.graph import Graph

_W, _H, _GAP, _PAD = 150, 34, 40, 12
_COLORS = {
    "io": "#eeeeee",
    "enrich": "#d9ecff",
    "transform": "#e8f5e9",
    "model": "#fff3cd",
    "router": "#f3e5f5",
    "post": "#e8f5e9",
}


def _box(x: float, y: float, text: str, kind: str) -> str:
    shown = text if len(text) <= 22 else text[:21] + "…"
    return (
        f'<g><title>{escape(text)}</title><rect x="{x}" y="{y}" width="{_W}" height="{_H}" rx="6" '
        f'fill="{_COLORS[kind]}" stroke="#555"/><text x="{x + _W / 2}" y="{y + _H / 2 + 4}" '
        f'text-anchor="middle" font-family="sans-serif" font-size="12">{escape(shown)}</text></g>'
    )


def _edge(x1: float, y1: float, x2: float, y2: float, label: str = "") -> str:
    line = f'<line x1="{x1}" y1="{y1}" x2="{x2}" y2="{y2}" stroke="#555" marker-end="url(#arrow)"/>'
    if label:
        line += (
            f'<text x="{(x1 + x2) / 2}" y="{(y1 + y2) / 2 - 4}" text-anchor="middle" font-family="sans-serif" '
            f'font-size="10" fill="#333">{escape(label)}</text>'
        )
    return line


def to_svg(graph: Graph) -> str:
    """The picture: request → enrich/transform steps → model (or router with its versions) → post → response."""
    columns: list[list[tuple[str, str, str]]] = [[("request", "io", "")]]  # (text, kind, edge label) per box
    columns += [[(s.label(), "enrich" if type(s).__name__ == "Enrich" else "transform", "")] for s in graph.before]
    predictor = graph.predictor
    if predictor is not None:
        branches = getattr(predictor, "branches", None)
        if branches is not None:
            columns.append([(predictor.label(), "router", "")])
            columns.append([(m.label(), "model", tag) for tag, m in branches()])
        else:
            columns.append([(predictor.label(), "model", "")])
    columns += [[(s.label(), "post", "")] for s in graph.after]
    columns.append([("response", "io", "")])
    tallest = max(len(c) for c in columns)
    height = tallest * (_H + _PAD) + _PAD
    width = len(columns) * (_W + _GAP) - _GAP + 2 * _PAD
    parts = [
        '<defs><marker id="arrow" markerWidth="8" markerHeight="8" refX="8" refY="4" orient="auto">'
        '<path d="M0,0 L8,4 L0,8 z" fill="#555"/></marker></defs>'
    ]
    previous: list[tuple[float, float]] = []
    for i, column in enumerate(columns):
        x = _PAD + i * (_W + _GAP)
        top = (height - len(column) * (_H + _PAD) + _PAD) / 2
        here = []
        for j, (text, kind, tag) in enumerate(column):
            y = top + j * (_H + _PAD)
            parts.append(_box(x, y, text, kind))
            here.append((x, y + _H / 2))
            for px, py in previous:
                parts.append(_edge(px + _W, py, x, y + _H / 2, tag if len(previous) == 1 else ""))
        previous = here
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}">{"".join(parts)}</svg>'
    )
