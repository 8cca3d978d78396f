"""TrainingSetInspector: the point-in-time lens on a training set from get_offline_features.

    train = get_offline_features(vec, entity_df, timestamp_column="ts")
    TrainingSetInspector(train)                       # the vector is found from the frame; or vector=vec

For sampled rows and each feature set: the row's time, the event the join picked, how stale it was, the set's TTL
and whether it had expired, and what a naive latest-value join would have taken (marked when that is from the
row's future). Above, the counts over every row: values a naive join would have leaked, rows with no value,
expired rows. "resample" draws other rows.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import ipywidgets as widgets

from nbmlops.widgets._base import STYLE, StoreWidget
from nbmlops.widgets._render import age, esc, fmt

if TYPE_CHECKING:
    import pandas as pd

    from nbmlops.features import FeatureStore, FeatureVector, PointInTimeReport


class TrainingSetInspector(StoreWidget):
    """See the module doc. `sample` rows are shown (the counts cover all rows); `seed` picks them."""

    css_name = "training-inspector"

    def __init__(
        self,
        training_df: pd.DataFrame,
        vector: FeatureVector | None = None,
        *,
        timestamp_column: str = "ts",
        sample: int = 20,
        seed: int = 0,
        store: FeatureStore | None = None,
        home: str | Path | None = None,
    ) -> None:
        self.training_df = training_df
        self.vector = vector
        self.timestamp_column = timestamp_column
        self.sample = sample
        self.seed = seed
        self._features_store, self._given_features, self._feature_home = store, store, home
        self.report: PointInTimeReport | None = None
        self.summary_html = widgets.HTML()
        self.rows_html = widgets.HTML()
        self.resample_button = widgets.Button(
            description="resample", icon="random", layout=widgets.Layout(width="110px")
        )
        self.resample_button.add_class("nbmlops-training-resample")
        self.rows_html.add_class("nbmlops-training-rows")
        self.resample_button.on_click(lambda _b: self.resample())
        super().__init__("Training set: point in time", [self.summary_html, self.resample_button, self.rows_html])
        self.refresh()

    @property
    def features(self) -> FeatureStore:
        if self._features_store is None:
            from nbmlops.features import FeatureStore, default_store

            self._features_store = FeatureStore(self._feature_home) if self._feature_home else default_store()
        return self._features_store

    def resample(self) -> None:
        """Show other sampled rows (the next seed)."""
        self.seed += 1
        self.refresh()

    def _load(self) -> None:
        from nbmlops.features import explain_training_set

        self.report = explain_training_set(
            self.training_df,
            self.vector,
            timestamp_column=self.timestamp_column,
            sample=self.sample,
            seed=self.seed,
            store=self.features,
        )
        self.summary_html.value = self._summary()
        self.rows_html.value = self._rows()

    def _summary(self) -> str:
        report = self.report
        leaked = report.leaked_values
        css = "error" if leaked else "empty"
        head = (
            f'<div class="nbmlops-w-message {css} nbmlops-training-verdict"><b>{leaked:,} value'
            f"{'s' if leaked != 1 else ''}</b> a naive latest-value join would have taken from the future "
            f"({report.total_rows:,} rows of vector {esc(report.vector)}); this training set is point-in-time "
            "correct</div>"
        )
        rows = "".join(
            f"<tr><td>{esc(r['set'])}</td><td>{r['rows']:,}</td><td>{r['with_value']:,}</td>"
            f"<td>{r['rows'] - r['with_value']:,}</td><td>{r['ttl_expired']:,}</td>"
            f"<td>{r['leaked_rows']:,}</td><td>{r['leaked_values']:,}</td></tr>"
            for r in report.summary.to_dict("records")
        )
        return (
            f'{STYLE}{head}<table class="nbmlops-w-table nbmlops-training-summary"><thead><tr><th>feature set'
            "</th><th>rows</th><th>with a value</th><th>no event yet</th><th>TTL expired</th>"
            "<th>naive join: future rows</th><th>leaked values</th></tr></thead><tbody>" + rows + "</tbody></table>"
        )

    def _rows(self) -> str:
        report = self.report
        if report.rows.empty:
            return f'{STYLE}<div class="nbmlops-w-muted">the training set has no rows</div>'
        body = []
        for r in report.rows.to_dict("records"):
            values = ", ".join(f"{esc(k)}={fmt(v) if isinstance(v, float) else esc(v)}" for k, v in r["values"].items())
            css = " ".join(c for c in ("leaked" if r["leaked"] else "", "expired" if r["ttl_expired"] else "") if c)
            cells = [
                str(r["row"]),
                esc(r["set"]),
                esc(r["entity"]),
                esc(r["query_ts"]),
                esc(r["picked_ts"] or "no event yet"),
                age(r["age_s"]),
                age(r["ttl_s"]) or "none",
                '<span class="failed">expired</span>' if r["ttl_expired"] else "",
                esc(r["naive_ts"] or "") + (' <span class="failed">future</span>' if r["leaked"] else ""),
                values,
            ]
            body.append(f'<tr data-row="{r["row"]}" class="{css}">' + "".join(f"<td>{c}</td>" for c in cells) + "</tr>")
        head = [
            "row",
            "set",
            "entity",
            "row time",
            "picked event",
            "staleness",
            "TTL",
            "",
            "naive join takes",
            "values",
        ]
        return (
            f'{STYLE}<div class="nbmlops-w-scroll"><table class="nbmlops-w-table"><thead><tr>'
            + "".join(f"<th>{h}</th>" for h in head)
            + "</tr></thead><tbody>"
            + "".join(body)
            + "</tbody></table></div>"
        )

    def _static_html(self) -> str:
        return self.summary_html.value + self.rows_html.value

    def __repr__(self) -> str:
        if self.report is None:
            return "TrainingSetInspector()"
        return f"TrainingSetInspector({self.report.total_rows} rows, {self.report.leaked_values} leaked values)"

    def refresh(self) -> None:
        if self.message is not None and self._given_features is None:
            self._features_store = None
        super().refresh()
