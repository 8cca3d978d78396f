"""FeatureBrowser: the feature catalog in the notebook.

    FeatureBrowser()                      # the project's feature store
    FeatureBrowser(store=FeatureStore(home)).lookup(customer_id=1)

Top to bottom: a feature set picker and its facts (entities, timestamp, TTL, versions, rows, freshness, online
entities, vectors, models); a table of its features (type, description, statistics); the chosen feature's
histogram and the model versions whose training sets used it; the catalog's feature vectors; and the latest
online values for an entity typed in, with their age.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import ipywidgets as widgets

from nbmlops.widgets._base import STYLE, StoreWidget
from nbmlops.widgets._render import age, esc, figure_output, fmt, html_output, missing

if TYPE_CHECKING:
    from plotly.graph_objects import Figure

    from nbmlops.features import FeatureInfo, FeatureStore, OnlineFeatures, SetInfo


def _when(seconds: float | None) -> str:
    return "" if missing(seconds) else time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(float(seconds)))


def uses(vector: dict[str, Any], set_name: str, feature: str) -> bool:
    """Whether a vector reads `feature` of the set (by name, 'set.*', or a pinned 'set@vN.')."""
    for ref in [*vector["features"], vector.get("label") or ""]:
        head, _, name = str(ref).rpartition(".")
        if head.split("@")[0] == set_name and name in (feature, "*"):
            return True
    return False


def histogram_figure(info: FeatureInfo) -> Figure | None:
    import plotly.graph_objects as go

    histogram = (info.stats or {}).get("histogram")
    if not histogram:
        return None
    fig = go.Figure()
    if "edges" in histogram:
        edges = [float(e) for e in histogram["edges"]]
        centers = [(a + b) / 2 for a, b in zip(edges[:-1], edges[1:], strict=True)]
        widths = [b - a for a, b in zip(edges[:-1], edges[1:], strict=True)]
        fig.add_trace(go.Bar(x=centers, y=histogram["counts"], width=widths, marker_color="#5c6bc0", name="rows"))
        fig.update_layout(bargap=0)
    else:
        fig.add_trace(
            go.Bar(x=[str(v) for v in histogram["values"]], y=histogram["counts"], marker_color="#5c6bc0", name="rows")
        )
        fig.update_layout(xaxis_type="category")
    fig.update_layout(
        title={"text": f"{info.set}.{info.name}", "font": {"size": 14}},
        height=300,
        width=560,
        yaxis_title="rows",
        template="plotly_white",
        margin={"l": 50, "r": 10, "t": 40, "b": 45},
    )
    return fig


class FeatureBrowser(StoreWidget):
    """See the module doc. `store`: a FeatureStore (default: the project's); `home`: another project."""

    css_name = "feature-browser"

    def __init__(
        self, name: str | None = None, *, store: FeatureStore | None = None, home: str | Path | None = None
    ) -> None:
        self._features_store = self._given_features = store
        self._feature_home = home
        self._wanted = name
        self._quiet = False
        self.sets: list[str] = []
        self.info: SetInfo | None = None
        self.vectors: list[dict[str, Any]] = []
        self.online: OnlineFeatures | None = None
        self.histogram_figure: Figure | None = None
        self.set_picker = widgets.Dropdown(
            description="feature set",
            options=[],
            layout=widgets.Layout(width="340px"),
            style={"description_width": "initial"},
        )
        self.summary_html = widgets.HTML()
        self.features_html = widgets.HTML()
        self.feature_picker = widgets.Dropdown(description="feature", options=[], layout=widgets.Layout(width="340px"))
        self.histogram_output = widgets.Output()
        self.feature_html = widgets.HTML()
        self.vectors_html = widgets.HTML()
        self.entity_box = widgets.HBox()
        self.lookup_button = widgets.Button(description="look up", icon="search", layout=widgets.Layout(width="110px"))
        self.online_html = widgets.HTML()
        for control, css in (
            (self.set_picker, "set"),
            (self.feature_picker, "feature"),
            (self.features_html, "table"),
            (self.histogram_output, "histogram"),
            (self.entity_box, "entity"),
            (self.lookup_button, "lookup"),
            (self.online_html, "online"),
            (self.vectors_html, "vectors"),
        ):
            control.add_class(f"nbmlops-features-{css}")
        super().__init__(
            "Feature store",
            [
                self.set_picker,
                self.summary_html,
                self.features_html,
                self.feature_picker,
                widgets.HBox([self.histogram_output, self.feature_html]),
                self.vectors_html,
                widgets.HTML(f"{STYLE}<h4>online values</h4>"),
                widgets.HBox([self.entity_box, self.lookup_button]),
                self.online_html,
            ],
        )
        self.set_picker.observe(self._on_set, names="value")
        self.feature_picker.observe(self._on_feature, names="value")
        self.lookup_button.on_click(lambda _b: self.guard(self._lookup_typed, hide=False))
        self.refresh()

    def refresh(self) -> None:
        if self.message is not None and self._given_features is None:
            self._features_store = None  # it could not be opened: open it afresh
        super().refresh()

    @property
    def features(self) -> FeatureStore:
        if self._features_store is None:
            from nbmlops.features import FeatureStore, default_store

            self._features_store = FeatureStore(self._feature_home) if self._feature_home else default_store()
        return self._features_store

    # -- what scripts and tests call --------------------------------------------------------------------------
    def show(self, name: str) -> None:
        """Show feature set `name` ('set' or 'set@v2')."""
        from nbmlops.features import describe

        describe(name, self.features, stats=False)  # unknown: the catalog's error names the sets there are
        base = name.split("@")[0]
        if self.set_picker.value == base and "@" in name:
            self.guard(lambda: self._show_set(name), hide=False)
        self.set_picker.value = base

    def select(self, feature: str) -> None:
        self.feature_picker.value = feature

    def lookup(self, **entity: Any) -> OnlineFeatures:
        """The latest online values of the shown set for one entity (e.g. customer_id=1), also shown."""
        from nbmlops.features import latest_values

        name = f"{self.info.name}@v{self.info.version}" if self.info.version != self.info.current else self.info.name
        self.online = latest_values(name, entity, self.features)
        self.online_html.value = self._online_table(entity)
        return self.online

    # -- loading ------------------------------------------------------------------------------------------------
    def _load(self) -> None:
        from nbmlops.features import catalog, vector_users

        self.sets = [s.name for s in catalog(self.features, stats=False)]
        self.vectors = vector_users(self.features)
        if not self.sets:
            self.show_message("no feature sets in this project yet: FeatureSet(...).ingest(df) registers one", "empty")
            return
        wanted = self._wanted or self.set_picker.value
        base = wanted.split("@")[0] if wanted else None
        self._quiet = True
        try:
            self.set_picker.options = self.sets
            self.set_picker.value = base if base in self.sets else self.sets[0]
        finally:
            self._quiet = False
        self._wanted = None
        self._show_set(wanted if base in self.sets else self.sets[0])
        if base is not None and base not in self.sets:
            from nbmlops.features import describe

            describe(wanted, self.features, stats=False)  # raises, naming the sets there are

    def _on_set(self, change: dict[str, Any]) -> None:
        if not self._quiet and change["new"]:
            self.guard(lambda: self._show_set(change["new"]), hide=False)

    def _on_feature(self, change: dict[str, Any]) -> None:
        if not self._quiet and change["new"]:
            self._show_feature(change["new"])

    def _show_set(self, name: str) -> None:
        from nbmlops.features import describe

        self.info = info = describe(name, self.features)
        facts = [
            ("entities", ", ".join(info.entities)),
            ("timestamp", info.timestamp),
            ("ttl", age(info.ttl_s) if info.ttl_s else "none"),
            ("version", f"v{info.version}" + (" (current)" if info.version == info.current else "")),
            ("versions", ", ".join(f"v{v}" for v in info.versions)),
            ("rows", f"{info.rows:,}"),
            ("ingests", str(info.ingests)),
            ("last ingest (UTC)", _when(info.last_ingest_at)),
            (
                "freshness",
                age(info.freshness_s) + " since the newest event" if info.freshness_s is not None else "no events",
            ),
            ("online entities", f"{info.online_entities:,}"),
            ("vectors", ", ".join(info.vectors) or "none"),
            ("models", ", ".join(info.models) or "none"),
        ]
        self.summary_html.value = (
            f'{STYLE}<div class="nbmlops-w-muted nbmlops-features-facts">'
            f"<b>{esc(info.name)}</b> {esc(info.description)} · "
            + " · ".join(f"<b>{esc(k)}</b> {esc(v)}" for k, v in facts)
            + "</div>"
        )
        self.features_html.value = self._features_table()
        names = [f.name for f in info.features]
        self._quiet = True
        try:
            self.feature_picker.options = names
            self.feature_picker.value = names[0] if names else None
        finally:
            self._quiet = False
        self.vectors_html.value = self._vectors_table()
        self.entity_box.children = [
            widgets.Text(description=e, placeholder="value", layout=widgets.Layout(width="220px"))
            for e in info.entities
        ]
        for text in self.entity_box.children:
            text.add_class("nbmlops-features-entity-value")
        self.online, self.online_html.value = None, ""
        if names:
            self._show_feature(names[0])

    def _show_feature(self, feature: str) -> None:
        info = next(f for f in self.info.features if f.name == feature)
        self.histogram_figure = histogram_figure(info)
        self.histogram_output.outputs = (
            (figure_output(self.histogram_figure, f"{info.set}.{feature} histogram"),)
            if self.histogram_figure is not None
            else (html_output(f'<p class="nbmlops-w-muted">No statistics for {esc(feature)} (no rows ingested).</p>'),)
        )
        vectors = [v for v in self.vectors if uses(v, self.info.name, feature)]
        models = sorted({m for v in vectors for m in v["models"]})
        self.feature_models = models
        self.feature_html.value = (
            f'{STYLE}<div class="nbmlops-features-feature"><b>{esc(info.set)}.{esc(feature)}</b> · {esc(info.kind)}'
            f" · {esc(info.dtype or '')}<br>{esc(info.description)}<br>definition: <code>{esc(info.definition)}</code>"
            f"<br>vectors: {esc(', '.join(v['name'] for v in vectors) or 'none')}"
            f'<br>trained on it: <span class="nbmlops-features-models">{esc(", ".join(models) or "no model yet")}'
            "</span></div>"
        )

    def _lookup_typed(self) -> None:
        entity = {text.description: text.value.strip() for text in self.entity_box.children}
        empty = [k for k, v in entity.items() if not v]
        if empty:
            self.online_html.value = (
                f'{STYLE}<div class="nbmlops-w-message error">type a value for {esc(", ".join(empty))}</div>'
            )
            return
        self.lookup(**entity)

    # -- tables -------------------------------------------------------------------------------------------------
    def _features_table(self) -> str:
        head = ["feature", "kind", "type", "description", "count", "nulls", "distinct", "min", "max", "mean"]
        rows = []
        for f in self.info.features:
            s = f.stats or {}
            cells = [
                esc(f.name),
                esc(f.kind),
                esc(f.dtype or ""),
                esc(f.description),
                fmt(s.get("count")),
                fmt(s.get("nulls")),
                fmt(s.get("distinct")),
                fmt(s.get("min")),
                fmt(s.get("max")),
                fmt(s.get("mean")),
            ]
            rows.append(f'<tr data-feature="{esc(f.name)}">' + "".join(f"<td>{c}</td>" for c in cells) + "</tr>")
        return (
            f'{STYLE}<div class="nbmlops-w-scroll"><table class="nbmlops-w-table"><thead><tr>'
            + "".join(f"<th>{h}</th>" for h in head)
            + "</tr></thead><tbody>"
            + "".join(rows)
            + "</tbody></table></div>"
        )

    def _vectors_table(self) -> str:
        if not self.vectors:
            return f'{STYLE}<div class="nbmlops-w-muted">no feature vectors yet</div>'
        rows = "".join(
            f"<tr><td>{esc(v['name'])}</td><td>{esc(', '.join(v['features']))}</td>"
            f"<td>{esc(v['label'] or '')}</td><td>{esc(', '.join(v['models']))}</td></tr>"
            for v in self.vectors
        )
        return (
            f'{STYLE}<h4>feature vectors</h4><table class="nbmlops-w-table"><thead><tr><th>vector</th>'
            f"<th>features</th><th>label</th><th>models</th></tr></thead><tbody>{rows}</tbody></table>"
        )

    def _online_table(self, entity: dict[str, Any]) -> str:
        row, ages = self.online.rows[0], self.online.freshness[0]
        who = ", ".join(f"{k}={v}" for k, v in entity.items())
        if all(v is None for k, v in row.items() if k not in entity):
            return f'{STYLE}<div class="nbmlops-w-message empty">no online values for {esc(who)}</div>'
        cells = "".join(
            f'<tr data-feature="{esc(k)}"><td>{esc(k)}</td><td>{fmt(v) if v is not None else ""}</td>'
            f"<td>{age(ages.get(k))}</td></tr>"
            for k, v in row.items()
            if k not in entity
        )
        return (
            f'{STYLE}<table class="nbmlops-w-table nbmlops-features-online-table"><thead><tr>'
            f"<th>feature ({esc(who)})</th><th>value</th><th>age</th></tr></thead><tbody>{cells}</tbody></table>"
        )

    def _static_html(self) -> str:
        return self.summary_html.value + self.features_html.value + self.vectors_html.value

    def __repr__(self) -> str:
        return f"FeatureBrowser({self.info.name!r})" if self.info else "FeatureBrowser()"
