"""PipelineView: the notebook's step DAG with each step's status, duration and cache state in its last run.

    PipelineView()                        # the notebook this kernel runs (JupyterLab tells the kernel its path)
    PipelineView("churn.ipynb")

Laid out as the lab panel lays it out: top to bottom, one row per layer (nbmlops.pipeline.layers), an edge per
upstream step labelled with the values it hands on. While the last run goes on, the view reads the store again
every second (a background thread, stopped when the run ends or by stop()); refresh() reads it once.
"""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import ipywidgets as widgets

from nbmlops.errors import NbmlopsError
from nbmlops.widgets._base import STYLE, StoreWidget
from nbmlops.widgets._render import esc, fmt, missing

if TYPE_CHECKING:
    from nbmlops.pipeline import PipelineSpec
    from nbmlops.store import RunInfo, Store

NODE_W, NODE_H, GAP_X, GAP_Y, PAD = 150, 46, 30, 56, 16
STATUS_COLORS = {
    "succeeded": "#c8e6c9",
    "failed": "#ffcdd2",
    "running": "#bbdefb",
    "skipped": "#eeeeee",
    "interrupted": "#ffe0b2",
    "cached": "#e1bee7",
    None: "#fafafa",
}
POLL_S = 1.0


def current_notebook(cwd: Path | None = None) -> Path:
    """The notebook of this kernel: JupyterLab's JPY_SESSION_NAME, else the only .ipynb in the working folder."""
    session = os.environ.get("JPY_SESSION_NAME")
    if session and session.endswith(".ipynb"):
        path = Path(session)
        if not path.is_absolute():
            path = (cwd or Path.cwd()) / path.name if not path.is_file() else path
        if path.is_file():
            return path
    here = cwd or Path.cwd()
    found = sorted(p for p in here.glob("*.ipynb") if not p.name.startswith("."))
    if len(found) == 1:
        return found[0]
    raise NbmlopsError(
        f"which notebook? {len(found)} notebooks in {here} and the kernel does not say: PipelineView('NAME.ipynb')"
    )


def dag_svg(spec: PipelineSpec, states: dict[str, dict[str, Any]]) -> str:
    """The DAG as SVG: a row per layer, nodes coloured by status, edges labelled with the values they carry."""
    from nbmlops.pipeline import layers

    rows = layers(spec)
    width = max(len(r) for r in rows) * (NODE_W + GAP_X) - GAP_X + 2 * PAD if rows else 2 * PAD
    height = len(rows) * (NODE_H + GAP_Y) - GAP_Y + 2 * PAD if rows else 2 * PAD
    where: dict[str, tuple[float, float]] = {}
    for i, row in enumerate(rows):
        offset = (width - (len(row) * (NODE_W + GAP_X) - GAP_X)) / 2
        for j, name in enumerate(row):
            where[name] = (offset + j * (NODE_W + GAP_X), PAD + i * (NODE_H + GAP_Y))
    parts = [
        f'<svg class="nbmlops-pipeline-dag" xmlns="http://www.w3.org/2000/svg" width="{width}" '
        f'height="{height}" viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="12">',
        '<defs><marker id="nbmlops-arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="6" '
        'markerHeight="6" orient="auto"><path d="M0,0 L10,5 L0,10 z" fill="#90a4ae"/></marker></defs>',
    ]
    for step in spec.steps:
        for up in step.upstream:
            (x0, y0), (x1, y1) = where[up], where[step.name]
            carried = sorted(n for n, producer in step.inputs.items() if producer == up)
            parts.append(
                f'<line x1="{x0 + NODE_W / 2}" y1="{y0 + NODE_H}" x2="{x1 + NODE_W / 2}" y2="{y1}" '
                'stroke="#90a4ae" stroke-width="1.5" marker-end="url(#nbmlops-arrow)"/>'
            )
            if carried:
                label = ", ".join(carried)
                parts.append(
                    f'<text x="{(x0 + x1) / 2 + NODE_W / 2 + 4}" y="{(y0 + NODE_H + y1) / 2}" '
                    f'fill="#607d8b" font-size="10">{esc(label[:28])}</text>'
                )
    for step in spec.steps:
        x, y = where[step.name]
        state = states.get(step.name, {})
        status = state.get("status")
        shown = "cached" if state.get("cached") and status == "succeeded" else status
        detail = " · ".join(
            p
            for p in (shown or "not run", f"{fmt(state['duration'])} s" if not missing(state.get("duration")) else "")
            if p
        )
        parts.append(
            f'<g class="nbmlops-pipeline-step" data-step="{esc(step.name)}" data-status="{esc(shown or "")}">'
            f'<rect x="{x}" y="{y}" width="{NODE_W}" height="{NODE_H}" rx="8" '
            f'fill="{STATUS_COLORS.get(shown, STATUS_COLORS[None])}" stroke="#546e7a"/>'
            f'<text x="{x + NODE_W / 2}" y="{y + 19}" text-anchor="middle" font-weight="600">'
            f"{esc(step.name)}</text>"
            f'<text x="{x + NODE_W / 2}" y="{y + 36}" text-anchor="middle" fill="#455a64" font-size="11">'
            f"{esc(detail)}</text></g>"
        )
    parts.append("</svg>")
    return "".join(parts)


class PipelineView(StoreWidget):
    """See the module doc. `notebook`: a path (default: this kernel's notebook); `watch`: refresh while a run
    goes on."""

    css_name = "pipeline-view"

    def __init__(
        self,
        notebook: str | Path | None = None,
        *,
        watch: bool = True,
        store: Store | None = None,
        home: str | Path | None = None,
    ) -> None:
        self._notebook = notebook
        self.notebook: Path | None = None
        self.spec: PipelineSpec | None = None
        self.run: RunInfo | None = None
        self.states: dict[str, dict[str, Any]] = {}
        self.watch = watch
        self._watcher: threading.Thread | None = None
        self._stop = threading.Event()
        self.run_html = widgets.HTML()
        self.dag_html = widgets.HTML()
        self.steps_html = widgets.HTML()
        for control, css in ((self.run_html, "run"), (self.dag_html, "dag"), (self.steps_html, "steps")):
            control.add_class(f"nbmlops-pipeline-{css}")
        super().__init__("Pipeline", [self.run_html, self.dag_html, self.steps_html], store=store, home=home)
        self.refresh()

    @property
    def watching(self) -> bool:
        return self._watcher is not None and self._watcher.is_alive()

    def stop(self) -> None:
        """Stop refreshing in the background."""
        self._stop.set()
        if self._watcher is not None and self._watcher is not threading.current_thread():
            self._watcher.join(timeout=5)

    def refresh(self) -> None:
        super().refresh()
        if self.watch and self.run is not None and self.run.status == "running" and not self.watching:
            self._stop.clear()
            self._watcher = threading.Thread(target=self._follow, name="nbmlops-pipeline-view", daemon=True)
            self._watcher.start()

    def _follow(self) -> None:
        """Read the store every POLL_S while the run goes on (the comm messages go out from this thread)."""
        while not self._stop.wait(POLL_S):
            self.guard(self._read_run, hide=False)
            if self.message is not None or self.run is None or self.run.status != "running":
                return

    def _load(self) -> None:
        from nbmlops.pipeline import load_pipeline

        self.notebook = Path(self._notebook) if self._notebook is not None else current_notebook()
        if not self.notebook.is_file():
            raise NbmlopsError(f"no notebook {self.notebook}")
        self.spec = load_pipeline(str(self.notebook))
        self._read_run()

    def _read_run(self) -> None:
        runs = self.store.list_runs(pipeline=self.spec.name, kind="pipeline", limit=1)
        self.run = runs[0] if runs else None
        self.states = {}
        if self.run is not None:
            for step in self.store.steps(self.run.id):
                self.states[step.name] = {
                    "status": step.status,
                    "duration": step.duration,
                    "cached": bool(step.cache_hit or step.reused_from_run),
                }
        self._render()

    def _render(self) -> None:
        spec, run = self.spec, self.run
        if run is None:
            head = (
                f"<b>{esc(spec.name)}</b> · {len(spec.steps)} steps · not run yet "
                f"(%pipeline run, or nbmlops run {esc(self.notebook.name)})"
            )
        else:
            when = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(run.started_at))
            head = (
                f"<b>{esc(spec.name)}</b> · {len(spec.steps)} steps · last run <b>{esc(run.id)}</b> "
                f'<span class="{esc(run.status)}">{esc(run.status)}</span> · started {when} UTC'
                + (f" · {fmt(run.duration)} s" if not missing(run.duration) else "")
                + (" · refreshing every second" if run.status == "running" and self.watch else "")
            )
        self.run_html.value = f'{STYLE}<div class="nbmlops-w-muted">{head}</div>'
        self.dag_html.value = dag_svg(spec, self.states)
        rows = []
        for step in spec.steps:
            state = self.states.get(step.name, {})
            rows.append(
                f'<tr data-step="{esc(step.name)}"><td>{esc(step.name)}</td>'
                f'<td class="{esc(state.get("status") or "")}">{esc(state.get("status") or "not run")}</td>'
                f"<td>{fmt(state.get('duration'))}</td><td>{'yes' if state.get('cached') else ''}</td>"
                f"<td>{esc(', '.join(step.upstream))}</td><td>{esc(', '.join(sorted(step.inputs)))}</td></tr>"
            )
        self.steps_html.value = (
            f'{STYLE}<table class="nbmlops-w-table nbmlops-pipeline-table"><thead><tr>'
            "<th>step</th><th>status</th><th>seconds</th><th>cached</th><th>after</th>"
            "<th>reads</th></tr></thead><tbody>" + "".join(rows) + "</tbody></table>"
        )

    def _static_html(self) -> str:
        return self.run_html.value + self.dag_html.value + self.steps_html.value

    def __repr__(self) -> str:
        if self.spec is None:
            return "PipelineView()"
        return f"PipelineView({self.spec.name!r}, last run {self.run.status if self.run else 'none'})"
