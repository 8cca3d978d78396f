"""What the widgets share: number formatting, HTML escaping, and plotly figures as Output-widget display data."""

from __future__ import annotations

import html
import json
import math
from typing import Any

PLOTLY_MIME = "application/vnd.plotly.v1+json"  # rendered by plotly's bundled JupyterLab extension: no CDN
PLOT_CONFIG = {"displaylogo": False, "responsive": True}


def age(seconds: float | None) -> str:
    """A duration as people read it: '3.2 d', '5.0 h', '12.0 min', '4.1 s'; '' when missing."""
    if missing(seconds):
        return ""
    seconds = float(seconds)
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if abs(seconds) >= size:
            return f"{seconds / size:.1f} {unit}"
    return f"{seconds:.1f} s"


def missing(value: Any) -> bool:
    if value is None:
        return True
    try:
        return math.isnan(float(value))
    except (TypeError, ValueError):
        return False


def fmt(value: Any, digits: int = 4) -> str:
    """A table cell: '' for missing, 4 significant digits for floats, escaped text otherwise."""
    if missing(value):
        return ""
    if isinstance(value, float) or (hasattr(value, "dtype") and getattr(value.dtype, "kind", "") == "f"):
        return f"{float(value):.{digits}g}"
    return html.escape(str(value))


def pct(value: Any) -> str:
    return "" if missing(value) else f"{float(value):.1%}"


def esc(value: Any) -> str:
    return html.escape("" if value is None else str(value), quote=True)


def display_data(data: dict[str, Any]) -> dict[str, Any]:
    """One output of an ipywidgets.Output, set through its `outputs` trait (works with and without a kernel)."""
    return {"output_type": "display_data", "data": data, "metadata": {}}


def html_output(markup: str) -> dict[str, Any]:
    return display_data({"text/html": markup, "text/plain": html.unescape(_strip_tags(markup))})


def figure_output(fig: Any, text: str) -> dict[str, Any]:
    """A plotly figure as display data: plotly's own mimetype (interactive, offline) with a text fallback."""
    spec = json.loads(fig.to_json())
    return display_data(
        {
            PLOTLY_MIME: {"data": spec.get("data", []), "layout": spec.get("layout", {}), "config": PLOT_CONFIG},
            "text/plain": text,
        }
    )


def _strip_tags(markup: str) -> str:
    import re

    return re.sub(r"<[^>]+>", "", markup).strip()
