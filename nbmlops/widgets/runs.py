"""RunsBrowser: the project's runs in the notebook, paged and sorted in the database, filtered with the grammar of
`nbmlops runs ls --filter`.

    RunsBrowser()                                           # newest first, 50 a page
    RunsBrowser(pipeline="churn", filter="metrics.auc > 0.8 and params.C = 0.5", order_by="-metrics.auc")

Top to bottom: the filter, the sort and the pager; a table of the page's runs (the params that tell them apart and
their latest metrics); a list to select runs from. One run selected: its facts, steps (status, duration, cached
or why it ran, a link that opens the executed step notebook in JupyterLab), params, metrics with their curves
over steps, artifacts, and for a sweep's parent a parallel-coordinates plot of its children's swept params against
the objective with the best child marked. Several selected: params and metrics side by side, cells that differ
marked, and one metric's curves overlaid. Tests and scripts drive the same model: set_filter, sort, next_page,
select, and read page, rows, detail, comparison and the figures.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import ipywidgets as widgets

from nbmlops.tracking.queries import RunPage, filter_clauses, metric_histories, search_runs
from nbmlops.widgets._base import STYLE, StoreWidget
from nbmlops.widgets._render import esc, figure_output, fmt, html_output, missing

if TYPE_CHECKING:
    import pandas as pd
    from plotly.graph_objects import Figure

    from nbmlops.store import RunInfo, StepInfo, Store

PAGE_SIZE = 50
SHOWN_PARAMS, SHOWN_METRICS = 6, 6  # columns of the table; the rest are in the detail and comparison
RUN_SORTS = [
    ("started", "started_at"),
    ("duration", "duration"),
    ("status", "status"),
    ("name", "name"),
    ("pipeline", "pipeline"),
    ("run id", "id"),
]


def _when(seconds: float | None) -> str:
    return "" if missing(seconds) else time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(float(seconds)))


def _seconds(value: float | None) -> str:
    return "" if missing(value) else f"{float(value):.2f}"


def _value(value: Any) -> str:
    if isinstance(value, float):
        return fmt(value)
    if isinstance(value, str) or value is None:
        return esc(value)
    return esc(json.dumps(value, default=str))


def _same(values: list[Any]) -> bool:
    return len({json.dumps(v, default=str, sort_keys=True) for v in values}) <= 1


def _order_terms(order_by: str | list[str] | tuple[str, ...] | None) -> list[str]:
    if order_by is None:
        return []
    return [order_by] if isinstance(order_by, str) else list(order_by)


def _split_order(term: str) -> tuple[str, bool]:
    """'-metrics.auc' / 'metrics.auc desc' -> ('metrics.auc', True)."""
    text = term.strip()
    words = text.lstrip("-+").split()
    if len(words) == 2 and words[1].lower() in ("asc", "desc"):
        return words[0], words[1].lower() == "desc"
    return words[0] if words else "started_at", text.startswith("-")


class RunsBrowser(StoreWidget):
    """See the module doc. `pipeline` limits the runs to one pipeline; `filter` and `order_by` start the search
    as `runs ls --filter/--order-by` would; `store`/`home` pick the project (default: the current one)."""

    css_name = "runs-browser"

    def __init__(
        self,
        pipeline: str | None = None,
        filter: str | None = None,
        *,  # noqa: A002
        order_by: str | list[str] | None = None,
        page_size: int = PAGE_SIZE,
        store: Store | None = None,
        home: str | Path | None = None,
    ) -> None:
        self.pipeline = pipeline
        self.page_size = page_size
        self.page: RunPage | None = None
        self.selected: list[str] = []
        self.detail: dict[str, Any] | None = None  # the selected run: run, steps, artifacts, curves, children
        self.comparison: pd.DataFrame | None = None  # field x run, with a 'differs' column
        self.curves_figure: Figure | None = None
        self.compare_figure: Figure | None = None
        self.sweep_figure: Figure | None = None
        self._offset = 0
        self._quiet = False
        self._columns_of: tuple[Any, tuple[list[str], list[str]]] = (None, ([], []))
        terms = _order_terms(order_by)
        field, descending = _split_order(terms[0]) if terms else ("started_at", True)
        self.filter_text = widgets.Text(
            value=filter or "",
            placeholder="metrics.auc > 0.8 and params.C = 0.5",
            description="filter",
            continuous_update=False,
            layout=widgets.Layout(width="420px"),
        )
        self.sort_by = widgets.Dropdown(
            description="sort",
            options=self._sort_options([], [], field),
            value=field,
            layout=widgets.Layout(width="260px"),
        )
        self.descending = widgets.ToggleButton(
            value=descending, description="descending", icon="sort-amount-desc", layout=widgets.Layout(width="120px")
        )
        self.prev_button = widgets.Button(description="◀ newer", layout=widgets.Layout(width="90px"))
        self.next_button = widgets.Button(description="older ▶", layout=widgets.Layout(width="90px"))
        self.page_label = widgets.HTML()
        self.filter_message = widgets.HTML()
        self.table_html = widgets.HTML()
        self.run_picker = widgets.SelectMultiple(
            description="select", options=[], rows=8, layout=widgets.Layout(width="640px")
        )
        self.detail_html = widgets.HTML()
        self.curves_output = widgets.Output()
        self.sweep_output = widgets.Output()
        self.notebook_picker = widgets.Dropdown(
            description="step notebook",
            options=[],
            style={"description_width": "initial"},
            layout=widgets.Layout(width="360px", display="none"),
        )
        self.notebook_output = widgets.Output()
        self.metric_picker = widgets.Dropdown(
            description="metric", options=[], layout=widgets.Layout(width="320px", display="none")
        )
        for control, name in (
            (self.filter_text, "filter"),
            (self.sort_by, "sort"),
            (self.descending, "descending"),
            (self.prev_button, "prev"),
            (self.next_button, "next"),
            (self.table_html, "table"),
            (self.run_picker, "picker"),
            (self.detail_html, "detail"),
            (self.curves_output, "curves"),
            (self.sweep_output, "sweep"),
            (self.metric_picker, "metric"),
            (self.page_label, "page"),
            (self.notebook_picker, "notebook"),
            (self.notebook_output, "notebook-view"),
        ):
            control.add_class(f"nbmlops-runs-{name}")  # stable hooks for styling and browser tests
        super().__init__(
            "Runs" + (f" of {pipeline}" if pipeline else ""),
            [
                widgets.HBox([self.filter_text, self.sort_by, self.descending]),
                self.filter_message,
                widgets.HBox([self.prev_button, self.page_label, self.next_button]),
                self.table_html,
                self.run_picker,
                self.detail_html,
                self.metric_picker,
                self.curves_output,
                self.sweep_output,
                self.notebook_picker,
                self.notebook_output,
            ],
            store=store,
            home=home,
        )
        self.filter_text.observe(lambda _c: self._research(), names="value")
        self.sort_by.observe(lambda _c: self._research(), names="value")
        self.descending.observe(lambda _c: self._research(), names="value")
        self.prev_button.on_click(lambda _b: self.prev_page())
        self.next_button.on_click(lambda _b: self.next_page())
        self.run_picker.observe(self._on_pick, names="value")
        self.metric_picker.observe(self._on_metric, names="value")
        self.notebook_picker.observe(self._on_notebook, names="value")
        self._extra_order = terms[1:]
        self.refresh()

    # -- what scripts and tests call ----------------------------------------------------------------------------
    def set_filter(self, text: str) -> None:
        """Search again with this filter (the `runs ls --filter` grammar), from the first page."""
        self.filter_text.value = text

    def sort(self, field: str, descending: bool = True) -> None:
        """Order by a run field, `params.NAME` or `metrics.NAME` (runs without it last), then newest first."""
        self._quiet = True
        try:
            options = self.sort_by.options
            if field not in [value for _label, value in options]:
                self.sort_by.options = [*options, (field, field)]
            self.sort_by.value = field
            self.descending.value = descending
        finally:
            self._quiet = False
        self._research()

    def next_page(self) -> None:
        if self.page is not None and self._offset + self.page_size < self.page.total:
            self._offset += self.page_size
            self._reload()

    def prev_page(self) -> None:
        if self._offset > 0:
            self._offset = max(0, self._offset - self.page_size)
            self._reload()

    def go_to_page(self, number: int) -> None:
        """Show page `number` (0-based), clamped to the pages there are."""
        pages = self.page.pages if self.page is not None else 1
        self._offset = max(0, min(int(number), pages - 1)) * self.page_size
        self._reload()

    def select(self, *run_ids: str) -> None:
        """Show one run's detail, or compare several; runs not on this page are read from the store."""
        missing_ids = [r for r in run_ids if r not in self._on_page]
        if missing_ids:
            found = self.guard(lambda: [self.store.get_run(r) for r in missing_ids], hide=False)
            if found is None:
                return
            self._extra_runs.update({run.id: run for run in found})
            self._quiet = True
            try:
                self.run_picker.options = [*self.run_picker.options, *[(self._label(r), r.id) for r in found]]
            finally:
                self._quiet = False
        self.run_picker.value = tuple(run_ids)

    @property
    def rows(self) -> pd.DataFrame:
        """The page as a table: id, name, pipeline, status, started_at, duration, params.*, metrics.*."""
        import pandas as pd

        runs = self.page.runs if self.page is not None else []
        return pd.DataFrame([self._row(run) for run in runs])

    @property
    def order_by(self) -> list[str]:
        return [("-" if self.descending.value else "") + self.sort_by.value, *self._extra_order]

    # -- loading ------------------------------------------------------------------------------------------------
    def _load(self) -> None:
        self._extra_runs: dict[str, RunInfo] = {}
        self._fetch()

    def _research(self) -> None:
        if not self._quiet:
            self._offset = 0
            self._reload()

    def _reload(self) -> None:
        self.filter_message.value = ""
        self.guard(self._fetch, hide=self.page is None)

    def _fetch(self) -> None:
        try:
            filters = filter_clauses(self.filter_text.value)
            page = search_runs(
                self.store,
                pipeline=self.pipeline,
                filter=filters,
                order_by=self.order_by,
                offset=self._offset,
                limit=self.page_size,
            )
        except Exception as exc:
            from nbmlops.store import QueryError

            if isinstance(exc, QueryError) and self.page is not None:  # keep the last page; say what to fix
                self.filter_message.value = f'{STYLE}<div class="nbmlops-w-message error">{esc(exc)}</div>'
                return
            raise
        self.page = page
        self.show_message(None)
        if page.total == 0:
            where = f" of pipeline '{self.pipeline}'" if self.pipeline else ""
            if self.filter_text.value.strip():
                self.show_message(f"no run{where} matches the filter '{self.filter_text.value.strip()}'", "empty")
            else:
                self.show_message(
                    f"no runs{where} in this project yet: run a pipeline (nbmlops run NOTEBOOK, or "
                    "%pipeline run) or log one with nbmlops.start_run()",
                    "empty",
                )
        self._update_sorts(page)
        self._render_page()
        keep = tuple(r for r in self.selected if r in self._on_page or r in self._extra_runs)
        self._quiet = True
        try:
            self.run_picker.options = [(self._label(run), run.id) for run in page.runs] + [
                (self._label(run), run.id) for rid, run in self._extra_runs.items() if rid not in self._on_page
            ]
            self.run_picker.value = keep
        finally:
            self._quiet = False
        self._show_selection(list(keep))

    @property
    def _on_page(self) -> dict[str, RunInfo]:
        return {run.id: run for run in (self.page.runs if self.page is not None else [])}

    def _sort_options(self, params: list[str], metrics: list[str], keep: str) -> list[tuple[str, str]]:
        options = [
            *RUN_SORTS,
            *[(f"metrics.{k}", f"metrics.{k}") for k in metrics],
            *[(f"params.{k}", f"params.{k}") for k in params],
        ]
        if keep not in [value for _label, value in options]:
            options.append((keep, keep))
        return options

    def _update_sorts(self, page: RunPage) -> None:
        options = self._sort_options(page.param_keys, page.metric_keys, self.sort_by.value)
        if list(options) != list(self.sort_by.options):
            self._quiet = True
            try:
                value = self.sort_by.value
                self.sort_by.options = options
                self.sort_by.value = value
            finally:
                self._quiet = False

    # -- the page -------------------------------------------------------------------------------------------
    def _columns(self) -> tuple[list[str], list[str]]:
        """The page's table columns: the params that tell its runs apart, and its metrics (sorted-by first)."""
        key = (id(self.page), self.sort_by.value)
        if self._columns_of[0] != key:
            self._columns_of = (key, self._find_columns())
        return self._columns_of[1]

    def _find_columns(self) -> tuple[list[str], list[str]]:
        runs = self.page.runs if self.page is not None else []
        params = [k for k in sorted({k for r in runs for k in r.params}) if not _same([r.params.get(k) for r in runs])]
        sort_key = self.sort_by.value
        metrics = sorted({k for r in runs for k in r.metrics})
        if sort_key.startswith("metrics.") and sort_key[8:] in metrics:  # the sorted-by metric first
            metrics.remove(sort_key[8:])
            metrics.insert(0, sort_key[8:])
        if sort_key.startswith("params.") and sort_key[7:] in {k for r in runs for k in r.params}:
            params = [sort_key[7:], *[p for p in params if p != sort_key[7:]]]
        return params[:SHOWN_PARAMS], metrics[:SHOWN_METRICS]

    def _row(self, run: RunInfo) -> dict[str, Any]:
        row = {
            "id": run.id,
            "name": run.name,
            "pipeline": run.pipeline,
            "status": run.status,
            "started_at": run.started_at,
            "duration": run.duration,
            "parent_run_id": run.parent_run_id,
        }
        row.update({f"params.{k}": v for k, v in run.params.items()})
        row.update({f"metrics.{k}": v for k, v in run.metrics.items()})
        return row

    def _label(self, run: RunInfo) -> str:
        params, metrics = self._columns()
        parts = [run.id, run.pipeline or run.name or "", run.status]
        parts += [
            f"{k}={fmt(run.metrics[k]) if isinstance(run.metrics.get(k), float) else run.metrics.get(k)}"
            for k in metrics[:2]
            if k in run.metrics
        ]
        return " · ".join(p for p in parts if p)

    def _render_page(self) -> None:
        page = self.page
        assert page is not None
        first = page.offset + 1 if page.total else 0
        last = page.offset + len(page.runs)
        self.page_label.value = (
            f'<span class="nbmlops-w-muted">&nbsp;runs {first}–{last} of {page.total:,} · '
            f"page {page.page + 1} of {page.pages}&nbsp;</span>"
        )
        self.prev_button.disabled = page.offset == 0
        self.next_button.disabled = last >= page.total
        self.table_html.value = self._static_table()

    def _static_table(self) -> str:
        if self.page is None or not self.page.runs:
            return ""
        params, metrics = self._columns()
        head = [
            "run",
            "pipeline",
            "status",
            "started (UTC)",
            "seconds",
            *[f"params.{k}" for k in params],
            *[f"metrics.{k}" for k in metrics],
        ]
        body = []
        for run in self.page.runs:
            cells = [
                esc(run.id),
                esc(run.pipeline or run.name or ""),
                f'<span class="{esc(run.status)}">{esc(run.status)}</span>',
                _when(run.started_at),
                _seconds(run.duration),
                *[_value(run.params.get(k)) if k in run.params else "" for k in params],
                *[fmt(run.metrics.get(k)) for k in metrics],
            ]
            css = "selected" if run.id in self.selected else ""
            body.append(
                f'<tr data-run="{esc(run.id)}" class="{css}">' + "".join(f"<td>{c}</td>" for c in cells) + "</tr>"
            )
        return (
            f'{STYLE}<div class="nbmlops-w-scroll"><table class="nbmlops-w-table"><thead><tr>'
            + "".join(f"<th>{esc(h)}</th>" for h in head)
            + "</tr></thead><tbody>"
            + "".join(body)
            + "</tbody></table></div>"
        )

    def _static_html(self) -> str:
        label = self.page_label.value if self.page is not None else ""
        return self.table_html.value + label + self.detail_html.value

    def __repr__(self) -> str:
        if self.page is None:
            return "RunsBrowser()"
        return f"RunsBrowser({self.page.total} runs, page {self.page.page + 1} of {self.page.pages})"

    # -- selection ------------------------------------------------------------------------------------------------
    def _on_pick(self, change: dict[str, Any]) -> None:
        if not self._quiet:
            self._show_selection(list(change["new"]))

    def _on_metric(self, change: dict[str, Any]) -> None:
        if not self._quiet and self.comparison is not None and change["new"]:
            self._draw_compare_curves(change["new"])

    def show_step_notebook(self, step: str) -> None:
        """Show the selected run's executed notebook of `step` (the one its run folder keeps) in place."""
        from nbmlops.errors import NbmlopsError

        paths = {s["name"]: s["notebook_path"] for s in (self.detail or {}).get("steps", []) if s["notebook_path"]}
        if step not in paths:
            raise NbmlopsError(
                f"no executed notebook of step '{step}' in the selected run (steps with one: "
                f"{', '.join(paths) or 'none'})"
            )
        self.notebook_picker.value = paths[step]

    def _on_notebook(self, change: dict[str, Any]) -> None:
        if self._quiet:
            return
        from nbmlops.widgets.runs_detail import notebook_outputs

        path = change["new"]
        name = next((label for label, value in self.notebook_picker.options if value == path), "")
        self.notebook_output.outputs = (
            ()
            if not path
            else self.guard(lambda: notebook_outputs(path, f"step {name}: the executed notebook"), hide=False) or ()
        )

    def _run(self, run_id: str) -> RunInfo:
        return self._on_page.get(run_id) or self._extra_runs[run_id]

    def _show_selection(self, run_ids: list[str]) -> None:
        self.selected = run_ids
        self.detail = self.comparison = None
        self.curves_figure = self.compare_figure = self.sweep_figure = None
        self.curves_output.outputs = self.sweep_output.outputs = self.notebook_output.outputs = ()
        self.notebook_picker.layout.display = "none"
        self.detail_html.value = ""
        self.metric_picker.layout.display = "none"
        if self.page is not None:
            self.table_html.value = self._static_table()
        if len(run_ids) == 1:
            self.guard(lambda: self._show_detail(run_ids[0]), hide=False)
        elif len(run_ids) > 1:
            self.guard(lambda: self._show_compare(run_ids), hide=False)

    def _show_detail(self, run_id: str) -> None:
        from nbmlops.widgets.runs_detail import children_of, detail_html, metric_figure, step_rows, sweep_figure

        run = self.store.get_run(run_id)  # with its `reused` marks
        steps: list[StepInfo] = self.store.steps(run_id)
        curves = metric_histories(self.store, [run_id])[run_id]
        children = children_of(self.store, run)
        self.detail = {
            "run": run,
            "steps": step_rows(self.store, run, steps, Path.cwd()),
            "artifacts": self.store.artifacts_of(run_id),
            "curves": curves,
            "children": children,
        }
        self.detail_html.value = detail_html(self.detail)
        self.curves_figure = metric_figure({k: v for k, v in curves.items()}, title=f"metrics of {run_id}")
        if self.curves_figure is not None:
            self.curves_output.outputs = (figure_output(self.curves_figure, f"metric curves of {run_id}"),)
        executed = [(s["name"], s["notebook_path"]) for s in self.detail["steps"] if s["notebook_path"]]
        if executed:
            self._quiet = True
            try:
                self.notebook_picker.options = [("(choose a step)", ""), *[(n, p) for n, p in executed]]
                self.notebook_picker.value = ""
            finally:
                self._quiet = False
            self.notebook_picker.layout.display = None
        if children:
            self.sweep_figure, best = sweep_figure(run, children)
            self.detail["best_child"] = best
            if self.sweep_figure is not None:
                self.sweep_output.outputs = (figure_output(self.sweep_figure, f"sweep of {run_id}"),)
            else:
                self.sweep_output.outputs = (
                    html_output('<p class="nbmlops-w-muted">The children share every param: nothing to plot.</p>'),
                )

    def _show_compare(self, run_ids: list[str]) -> None:
        from nbmlops.widgets.runs_detail import compare_html, compare_table

        runs = [self._run(r) for r in run_ids]
        self.comparison = compare_table(runs)
        self.detail_html.value = compare_html(self.comparison, runs)
        self._curves = metric_histories(self.store, run_ids)
        keys = sorted({k for per_run in self._curves.values() for k, points in per_run.items()})
        self._quiet = True
        try:
            self.metric_picker.options = keys
            longest = max(keys, key=lambda k: max(len(self._curves[r].get(k, [])) for r in run_ids), default=None)
            self.metric_picker.value = longest
        finally:
            self._quiet = False
        self.metric_picker.layout.display = None if keys else "none"
        if keys:
            self._draw_compare_curves(self.metric_picker.value)

    def _draw_compare_curves(self, key: str) -> None:
        from nbmlops.widgets.runs_detail import metric_figure

        series = {run_id: self._curves[run_id].get(key, []) for run_id in self.selected}
        self.compare_figure = metric_figure(series, title=f"{key}, {len(series)} runs", markers=True)
        self.curves_output.outputs = (
            () if self.compare_figure is None else (figure_output(self.compare_figure, f"{key} of {len(series)} runs"),)
        )
