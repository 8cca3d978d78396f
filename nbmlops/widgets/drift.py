"""DriftDashboard: a drift result in the notebook, as Evidently shows one, plus the model's drift over time.

    DriftDashboard(detect_drift(reference_df, current_df))        # or a MonitorRun from monitor_model
    DriftDashboard.for_model("churn@production", current=df)      # monitor_model (stored, like `nbmlops monitor run`)
    DriftDashboard.history("churn")                               # the stored results of a model, latest first

Top to bottom: the verdict (dataset drift, share of drifted features against the threshold), a picker of stored
results (history only), a table of columns (filter, drifted-only, sort; drifted first by default), the chosen
column's reference-vs-current distribution (histogram for numbers, bars for categories) and, with stored
results, its score against the threshold over time and the share of drifted features over time.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import ipywidgets as widgets
import pandas as pd

from nbmlops.errors import NbmlopsError
from nbmlops.monitoring import (
    DriftResult,
    MonitorRun,
    distribution_figure,
    feature_history,
    history_figure,
    list_results,
    load_result,
    share_figure,
)
from nbmlops.widgets._render import esc, figure_output, fmt, html_output, missing, pct

if TYPE_CHECKING:
    from plotly.graph_objects import Figure

    from nbmlops.store import Store

OK = "ok"
NUMBERS = ["statistic", "p_value", "score", "threshold", "effect_size", "missing_current", "unseen_current"]
SORTS = ["drift first", "feature", "p-value", "effect size", "statistic", "missing (current)"]
HISTORY_LIMIT = 200  # stored results listed by DriftDashboard.history (newest)

_STYLE = """<style>
.nbmlops-drift-verdict{font-size:15px;padding:6px 10px;border-radius:6px;display:inline-block;margin:2px 0}
.nbmlops-drift-verdict.drift{background:rgba(211,47,47,.12);color:#b71c1c}
.nbmlops-drift-verdict.ok{background:rgba(46,125,50,.12);color:#1b5e20}
.nbmlops-drift-muted{color:var(--jp-ui-font-color2,#777);font-size:12px}
.nbmlops-drift-scroll{max-height:340px;overflow:auto;border:1px solid var(--jp-border-color2,#ddd)}
table.nbmlops-drift-table{border-collapse:collapse;font-size:12px;width:100%}
table.nbmlops-drift-table th{position:sticky;top:0;background:var(--jp-layout-color2,#f4f4f4);text-align:left}
table.nbmlops-drift-table td,table.nbmlops-drift-table th{padding:3px 8px;border-bottom:1px solid
 var(--jp-border-color2,#e0e0e0);white-space:nowrap}
table.nbmlops-drift-table td.note{white-space:normal;min-width:160px}
table.nbmlops-drift-table tr.selected td{background:rgba(33,150,243,.16)}
table.nbmlops-drift-table .drift{color:#c62828;font-weight:600}
table.nbmlops-drift-table .ok{color:#2e7d32}
</style>"""


@dataclass
class _Stored:
    """The stored side of a dashboard: results of one model (newest first) and their per-column time series."""

    store: Store
    model: str
    results: pd.DataFrame  # list_results
    history: pd.DataFrame  # feature_history, oldest first

    @classmethod
    def load(cls, store: Store, model: str, limit: int | None) -> _Stored:
        results = list_results(store, model, limit=limit)
        history = feature_history(store, model)
        if limit is not None:
            history = history[history["result_id"].isin(set(results["id"]))]
        return cls(store, model, results, history.reset_index(drop=True))


def _store(store: Store | None, home: str | Path | None) -> Store:
    if store is not None:
        return store
    from nbmlops.tracking import get_store

    return get_store(home)


def _model_name(model: str) -> str:
    from nbmlops.registry import parse_uri

    if not isinstance(model, str):
        raise NbmlopsError(
            f"a model is named by a string such as 'churn' or 'churn@production', not {type(model).__qualname__}"
        )
    return parse_uri(model).name


def _when(seconds: Any) -> str:
    return "" if missing(seconds) else time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(float(seconds)))


def _prepared(table: pd.DataFrame) -> pd.DataFrame:
    """The result's table with numbers as floats (a stored one holds None) and drifted as bool."""
    out = table.copy()
    for column in NUMBERS:
        out[column] = pd.to_numeric(out[column], errors="coerce").astype(float)
    out["drifted"] = out["drifted"].fillna(False).astype(bool)
    return out.reset_index(drop=True)


def _sorted(table: pd.DataFrame, key: str) -> pd.DataFrame:
    """drift first: drifted, then tested, then untested columns; the bigger effect first within each."""
    keys = pd.DataFrame({"feature": table["feature"].astype(str)}, index=table.index)
    if key == "feature":
        order = ["feature"]
    elif key == "drift first":
        keys["a"] = ~table["drifted"]
        keys["b"] = table["status"] != OK
        keys["c"] = -table["effect_size"].fillna(-float("inf"))
        order = ["a", "b", "c", "feature"]
    else:
        column, ascending = {
            "p-value": ("p_value", True),
            "effect size": ("effect_size", False),
            "statistic": ("statistic", False),
            "missing (current)": ("missing_current", False),
        }[key]
        values = table[column]
        keys["a"] = values.isna()  # missing values last either way
        keys["b"] = values if ascending else -values
        order = ["a", "b", "feature"]
    return table.loc[keys.sort_values(order, kind="stable").index]


def _verdict(row: dict[str, Any]) -> str:
    if row["status"] != OK:
        return f'<span class="nbmlops-drift-muted">{esc(row["status"])}</span>'
    return '<span class="drift">drift</span>' if row["drifted"] else '<span class="ok">no drift</span>'


def _table_html(rows: pd.DataFrame, total: int, selected: str | None) -> str:
    head = [
        "feature",
        "kind",
        "test",
        "statistic",
        "p-value",
        "effect size",
        "threshold",
        "verdict",
        "missing",
        "unseen",
        "note",
    ]
    body = []
    for r in rows.to_dict("records"):
        name = esc(r["feature"]) + (
            "" if r["role"] == "feature" else f' <span class="nbmlops-drift-muted">({esc(r["role"])})</span>'
        )
        effect = (
            ""
            if missing(r["effect_size"])
            else f'{fmt(r["effect_size"])} <span class="nbmlops-drift-muted">{esc(r["effect_metric"] or "")}</span>'
        )
        cells = [
            name,
            esc(r["kind"]),
            esc(r["test"] or ""),
            fmt(r["statistic"]),
            fmt(r["p_value"]),
            effect,
            fmt(r["threshold"]),
            _verdict(r),
            pct(r["missing_current"]),
            pct(r["unseen_current"]),
        ]
        classes = " ".join(
            c for c in ("drifted" if r["drifted"] else "", "selected" if r["feature"] == selected else "") if c
        )
        body.append(
            f'<tr data-feature="{esc(r["feature"])}" class="{classes}">'
            + "".join(f"<td>{c}</td>" for c in cells)
            + f'<td class="note">{esc(r["reason"] or "")}</td></tr>'
        )
    shown = f"{len(rows)} of {total} columns shown" if len(rows) != total else f"{total} columns"
    return (
        f'{_STYLE}<div class="nbmlops-drift-scroll"><table class="nbmlops-drift-table"><thead><tr>'
        + "".join(f"<th>{h}</th>" for h in head)
        + "</tr></thead><tbody>"
        + "".join(body)
        + f'</tbody></table></div><div class="nbmlops-drift-muted">{shown}</div>'
    )


def _summary_html(result: DriftResult, info: dict[str, Any]) -> str:
    table = result.table
    features = table[table["role"] == "feature"]
    tested = features[features["status"] == OK]
    drifted = int(tested["drifted"].astype(bool).sum())
    css = "drift" if result.dataset_drift else "ok"
    verdict = (
        f'<div class="nbmlops-drift-verdict {css}"><b>Dataset drift: {"yes" if result.dataset_drift else "no"}'
        f"</b> — {drifted} of {len(tested)} tested features drifted ({result.drift_share:.0%}; dataset drift "
        f"at ≥ {result.share_threshold:.0%})</div>"
    )
    facts = [f"reference rows {result.n_reference:,}", f"current rows {result.n_current:,}"]
    untested = len(features) - len(tested)
    if untested:
        facts.append(f"{untested} column{'s' if untested != 1 else ''} not tested (see the note column)")
    if result.prediction_drift is not None:
        facts.append(f"prediction drift: {'yes' if result.prediction_drift else 'no'}")
    for key in ("model", "window", "source"):
        if info.get(key):
            facts.append(f"{key} {esc(info[key])}")
    if not missing(info.get("window_end")):
        facts.append(f"window end {_when(info['window_end'])} UTC")
    if info.get("result_id"):
        facts.append(f"result {esc(info['result_id'])}")
    if info.get("alert"):
        facts.append('<span class="drift" style="color:#c62828;font-weight:600">alert fired</span>')
    metrics = info.get("metrics") or {}
    if metrics:
        facts.append("performance " + ", ".join(f"{esc(k)}={fmt(v)}" for k, v in metrics.items()))
    return f'{_STYLE}{verdict}<div class="nbmlops-drift-muted">{" · ".join(facts)}</div>'


def _info(summary: dict[str, Any] | pd.Series) -> dict[str, Any]:
    """What a stored result's summary row adds to the verdict line."""
    name, version = summary.get("model_name"), summary.get("model_version")
    model = f"{name}:{int(version)}" if name and not missing(version) else name
    return {
        "model": model,
        "window": summary.get("window"),
        "source": summary.get("source"),
        "window_end": summary.get("window_end"),
        "result_id": summary.get("id"),
        "alert": bool(summary.get("alert")) if not missing(summary.get("alert")) else False,
        "metrics": summary.get("metrics") or {},
    }


# -- the widget -----------------------------------------------------------------------------------------------------
class DriftDashboard(widgets.VBox):
    """A drift result to browse: verdict, a filterable and sortable table of columns, the chosen column's
    reference-vs-current distribution and, for stored results, drift over time. Display it (last expression of a
    cell, or `display(dash)`); `select("tenure")` picks a column from code, as the feature dropdown does."""

    def __init__(
        self,
        result: DriftResult | MonitorRun,
        *,
        title: str | None = None,
        feature: str | None = None,
        _stored: _Stored | None = None,
        _info: dict[str, Any] | None = None,
    ) -> None:
        info = dict(_info or {})
        if isinstance(result, MonitorRun):
            info = {
                "model": result.model,
                "window": result.window,
                "window_end": result.window_end,
                "result_id": result.result_id,
                "alert": result.alert,
                "metrics": result.metrics,
                **info,
            }
            result = result.drift
        if not isinstance(result, DriftResult):
            raise NbmlopsError(
                f"DriftDashboard shows a drift result: the DriftResult of "
                f"nbmlops.monitoring.detect_drift(reference_df, current_df) or the MonitorRun of "
                f"monitor_model(...), not {type(result).__qualname__} "
                "(for a stored model use DriftDashboard.history('NAME'))"
            )
        self._stored = _stored
        self._quiet = False
        self.result = result
        self.info = info
        self._table = _prepared(result.table)
        self.distribution_figure: Figure | None = None
        self.history_figure: Figure | None = None
        self.share_figure: Figure | None = None

        name = (_stored.model if _stored else None) or info.get("model")
        heading = title or (f"Drift of {name}" if name else "Drift")
        self.title_html = widgets.HTML(f"<h3 style='margin:4px 0'>{esc(heading)}</h3>")
        self.result_picker = widgets.Dropdown(
            description="result",
            options=self._result_options(),
            value=info.get("result_id") if _stored else None,
            layout=widgets.Layout(width="560px", display=None if _stored else "none"),
        )
        self.summary_html = widgets.HTML()
        self.filter_text = widgets.Text(
            placeholder="filter features", continuous_update=True, layout=widgets.Layout(width="260px")
        )
        self.drifted_only = widgets.Checkbox(
            description="drifted only", indent=False, layout=widgets.Layout(width="120px")
        )
        self.sort_by = widgets.Dropdown(
            description="sort",
            options=SORTS,
            value=SORTS[0],
            style={"description_width": "initial"},
            layout=widgets.Layout(width="200px"),
        )
        self.table_html = widgets.HTML()
        self.feature_picker = widgets.Dropdown(description="feature", options=[], layout=widgets.Layout(width="360px"))
        self.distribution_output = widgets.Output(layout=widgets.Layout(min_width="560px"))
        self.history_output = widgets.Output(layout=widgets.Layout(min_width="560px"))
        history_box = widgets.VBox([self.history_output], layout=widgets.Layout(display=None if _stored else "none"))
        super().__init__(
            children=[
                self.title_html,
                self.result_picker,
                self.summary_html,
                widgets.HBox([self.filter_text, self.drifted_only, self.sort_by]),
                self.table_html,
                self.feature_picker,
                widgets.HBox([self.distribution_output, history_box], layout=widgets.Layout(flex_flow="row wrap")),
            ]
        )
        self.add_class("nbmlops-drift-dashboard")
        for control, name in (
            (self.result_picker, "result"),
            (self.filter_text, "filter"),
            (self.sort_by, "sort"),
            (self.drifted_only, "drifted-only"),
            (self.feature_picker, "feature"),
            (self.distribution_output, "distribution"),
            (self.history_output, "history"),
        ):
            control.add_class(f"nbmlops-drift-{name}")  # stable hooks for styling and browser tests
        for control in (self.filter_text, self.drifted_only, self.sort_by):
            control.observe(self._on_rows, names="value")
        self.feature_picker.observe(self._on_feature, names="value")
        self.result_picker.observe(self._on_result, names="value")
        self._show_result(feature)

    # -- constructors from the store -------------------------------------------------------------------------------
    @classmethod
    def for_model(
        cls,
        model: str,
        current: Any = None,
        *,
        window: str | None = None,
        feature: str | None = None,
        store: Store | None = None,
        home: str | Path | None = None,
        **options: Any,
    ) -> DriftDashboard:
        """Monitor `model` (e.g. 'churn@production') on `current` (a DataFrame or a Parquet/CSV/JSON-lines file) or
        on the predictions logged in `window` ('1d'), exactly as `nbmlops monitor run` does: the result is stored
        (and the model's alert evaluated), then shown with the model's stored history. `options` go to
        nbmlops.monitoring.monitor_model (tests, thresholds, min_effect, drift_share, ...)."""
        from nbmlops.monitoring import monitor_model

        _model_name(model)
        store = _store(store, home)
        run = monitor_model(model, current, window=window, store=store, home=home, **options)
        stored = _Stored.load(store, _model_name(run.model), HISTORY_LIMIT)
        row = stored.results[stored.results["id"] == run.result_id]
        info = _info(row.iloc[0]) if len(row) else {}
        return cls(run, feature=feature, _stored=stored, _info=info)

    @classmethod
    def history(
        cls,
        model: str,
        *,
        result: str | None = None,
        feature: str | None = None,
        store: Store | None = None,
        home: str | Path | None = None,
        limit: int | None = HISTORY_LIMIT,
    ) -> DriftDashboard:
        """Browse the drift results stored for `model` (a name; an alias or version only names the model): the
        latest first, or the result with id `result`; the `limit` newest are listed and charted over time."""
        name = _model_name(model)
        store = _store(store, home)
        stored = _Stored.load(store, name, limit)
        if stored.results.empty:
            from nbmlops.registry import get_model_version

            get_model_version(name, store=store)  # an unknown model: the registry's error names the known ones
            raise NbmlopsError(
                f"no drift results stored for model '{name}': run DriftDashboard.for_model"
                f"('{model}', current=DATA) or `nbmlops monitor run {model} --current FILE` first"
            )
        ids = stored.results["id"].tolist()
        if result is None:
            result = ids[0]
        elif result not in ids:
            raise NbmlopsError(
                f"no drift result '{result}' among the {len(ids)} newest stored for model '{name}' "
                f"(latest: {', '.join(ids[:5])})"
            )
        summary, drift = load_result(store, result)
        return cls(drift, feature=feature, _stored=stored, _info=_info(summary))

    # -- what tests and code read ------------------------------------------------------------------------------------
    @property
    def rows(self) -> pd.DataFrame:
        """The table as shown: filtered and sorted."""
        table = self._table
        text = self.filter_text.value.strip().lower()
        if text:
            table = table[table["feature"].astype(str).str.lower().str.contains(text, regex=False)]
        if self.drifted_only.value:
            table = table[table["drifted"]]
        return _sorted(table, self.sort_by.value).reset_index(drop=True)

    @property
    def selected(self) -> str | None:
        return self.feature_picker.value

    @property
    def result_id(self) -> str | None:
        return self.info.get("result_id")

    def select(self, feature: str) -> None:
        """Show `feature`'s distribution (and history); clears a filter that hides it."""
        names = self._table["feature"].astype(str).tolist()
        if feature not in names:
            raise NbmlopsError(
                f"no column '{feature}' in this drift result (columns: {', '.join(names[:20])}"
                f"{', ...' if len(names) > 20 else ''})"
            )
        if feature not in set(self.rows["feature"]):
            self._quiet = True
            try:
                self.filter_text.value, self.drifted_only.value = "", False
            finally:
                self._quiet = False
            self._refresh_rows(keep=feature)
        self.feature_picker.value = feature

    def show_result(self, result_id: str) -> None:
        """Show another stored result of the model (as the result dropdown does)."""
        if self._stored is None:
            raise NbmlopsError("this dashboard shows one result: DriftDashboard.history(MODEL) browses stored ones")
        if result_id not in set(self._stored.results["id"]):
            raise NbmlopsError(f"no drift result '{result_id}' among those listed for model '{self._stored.model}'")
        self.result_picker.value = result_id

    def __repr__(self) -> str:
        return f"DriftDashboard({self.result.summary()})"

    def _repr_mimebundle_(self, **kwargs: Any) -> dict[str, Any] | None:
        bundle = super()._repr_mimebundle_(**kwargs)
        if bundle is not None:  # where widgets don't render (a saved notebook, nbconvert): the verdict and table
            bundle["text/html"] = self.summary_html.value + self.table_html.value
        return bundle

    # -- updates -------------------------------------------------------------------------------------------------
    def _result_options(self) -> list[tuple[str, str]]:
        if self._stored is None:
            return []
        options, seen = [], set()
        for r in self._stored.results.to_dict("records"):
            parts = [
                _when(r["window_end"]),
                f"{r['model_name']}:{r['model_version']}",
                f"{r['n_drifted']}/{r['n_features']} drifted",
                "DRIFT" if r["dataset_drift"] else "no drift",
            ]
            if r["alert"]:
                parts.append("ALERT")
            if r["window"] or r["source"]:
                parts.append(str(r["window"] or r["source"]))
            label = " · ".join(parts)
            if label in seen:
                label = f"{label} · {r['id']}"
            seen.add(label)
            options.append((label, r["id"]))
        return options

    def _show_result(self, feature: str | None) -> None:
        self.summary_html.value = _summary_html(self.result, self.info)
        if self._stored is not None:
            self.share_figure = share_figure(self._stored.results, self.result_id)
        self._refresh_rows(keep=feature if feature is not None else self.selected)
        if feature is not None and self.selected != feature:
            self.select(feature)

    def _refresh_rows(self, keep: str | None = None) -> None:
        rows = self.rows
        names = rows["feature"].astype(str).tolist()
        labels = [f"{n}  ·  drift" if d else n for n, d in zip(names, rows["drifted"], strict=True)]
        target = keep if keep in names else (names[0] if names else None)
        self._quiet = True
        try:
            self.feature_picker.options = list(zip(labels, names, strict=True))
            self.feature_picker.value = target
        finally:
            self._quiet = False
        self._render(rows)

    def _render(self, rows: pd.DataFrame | None = None) -> None:
        rows = self.rows if rows is None else rows
        feature = self.selected
        self.table_html.value = _table_html(rows, len(self._table), feature)
        if feature is None:
            self.distribution_figure = self.history_figure = None
            self.distribution_output.outputs = (
                html_output('<p class="nbmlops-drift-muted">No column matches the filter.</p>'),
            )
            self.history_output.outputs = ()
            return
        match = self._table[self._table["feature"] == feature]
        row = match.iloc[0].to_dict() if len(match) else None
        plot = self.result.plots.get(feature)
        self.distribution_figure = distribution_figure(feature, plot, row) if plot else None
        if self.distribution_figure is not None:
            self.distribution_output.outputs = (
                figure_output(self.distribution_figure, f"{feature}: reference vs current distribution"),
            )
        else:
            why = (
                f"{row['status']}: {row['reason']}"
                if row is not None and row["status"] != OK and row["reason"]
                else "the result holds no distribution (detect_drift(..., plots=False))"
            )
            self.distribution_output.outputs = (
                html_output(f'<p class="nbmlops-drift-muted">No distribution for {esc(feature)}: {esc(why)}.</p>'),
            )
        if self._stored is None:
            return
        self.history_figure = history_figure(feature, self._stored.history, self.result_id)
        outputs = []
        if self.history_figure is not None:
            outputs.append(figure_output(self.history_figure, f"{feature}: drift score over time"))
        else:
            outputs.append(
                html_output(f'<p class="nbmlops-drift-muted">No tested window of {esc(feature)} is stored.</p>')
            )
        if self.share_figure is not None:
            outputs.append(figure_output(self.share_figure, "share of drifted features over time"))
        self.history_output.outputs = tuple(outputs)

    def _on_rows(self, change: dict[str, Any]) -> None:
        if not self._quiet:
            self._refresh_rows(keep=self.selected)

    def _on_feature(self, change: dict[str, Any]) -> None:
        if not self._quiet:
            self._render()

    def _on_result(self, change: dict[str, Any]) -> None:
        if self._quiet or self._stored is None or change["new"] is None or change["new"] == self.result_id:
            return
        summary, result = load_result(self._stored.store, change["new"])
        self.result, self.info = result, _info(summary)
        self._table = _prepared(result.table)
        self._show_result(None)
