"""ModelRegistry: the model registry in the notebook, and moving an alias with a confirmation step.

    ModelRegistry()                           # every model; pick one
    ModelRegistry("churn")                    # its versions, aliases, metrics per version, lineage, alias history
    ModelRegistry("churn").promote(3, "production")        # scripts and tests: move the alias at once
    ModelRegistry("churn").promote("staging", "production")  # the version staging points at

In the widget, "move alias…" asks first ("move churn@production from v1 to v3?"); confirm moves it (recorded in the
registry's alias history with who and when), cancel leaves everything as it was. request_promote / confirm /
cancel are the same three steps for code.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import ipywidgets as widgets

from nbmlops.errors import NbmlopsError
from nbmlops.widgets._base import STYLE, StoreWidget
from nbmlops.widgets._render import esc, figure_output, fmt, html_output, missing

if TYPE_CHECKING:
    from plotly.graph_objects import Figure

    from nbmlops.registry import AliasMove, ModelVersion, RegisteredModel
    from nbmlops.store import Store
    from nbmlops.widgets.lineage import Lineage

SUGGESTED_ALIASES = ("staging", "production", "champion", "challenger")
PALETTE = ["#1e88e5", "#e53935", "#43a047", "#fb8c00", "#8e24aa", "#00acc1"]


def _when(seconds: float | None) -> str:
    return "" if missing(seconds) else time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(float(seconds)))


def metrics_figure(name: str, versions: list[ModelVersion]) -> Figure | None:
    """Each metric over the versions (oldest left), a line per metric; None when no version has one."""
    import plotly.graph_objects as go

    ordered = sorted(versions, key=lambda v: v.version)
    keys = sorted({k for v in ordered for k in v.metrics})
    if not keys:
        return None
    fig = go.Figure()
    for i, key in enumerate(keys):
        points = [(v.version, v.metrics[key]) for v in ordered if key in v.metrics and not missing(v.metrics[key])]
        fig.add_trace(
            go.Scatter(
                x=[f"v{p[0]}" for p in points],
                y=[float(p[1]) for p in points],
                name=key,
                mode="lines+markers",
                line={"color": PALETTE[i % len(PALETTE)]},
            )
        )
    fig.update_layout(
        title={"text": f"{name}: metrics per version", "font": {"size": 14}},
        height=320,
        width=620,
        xaxis_title="version",
        xaxis_type="category",
        template="plotly_white",
        margin={"l": 50, "r": 10, "t": 40, "b": 45},
    )
    return fig


class ModelRegistry(StoreWidget):
    """See the module doc. `name`: the model shown first (unknown: a message listing the models there are)."""

    css_name = "model-registry"

    def __init__(self, name: str | None = None, *, store: Store | None = None, home: str | Path | None = None) -> None:
        self.models: list[RegisteredModel] = []
        self.versions: list[ModelVersion] = []
        self.history: list[AliasMove] = []
        self.lineage: Lineage | None = None
        self.metrics_figure: Figure | None = None
        self.lineage_figure: Figure | None = None
        self.pending: tuple[int, str, int | None] | None = None  # (version, alias, version it points at now)
        self._wanted = name
        self._quiet = False
        self.model_picker = widgets.Dropdown(description="model", options=[], layout=widgets.Layout(width="320px"))
        self.summary_html = widgets.HTML()
        self.versions_html = widgets.HTML()
        self.version_picker = widgets.Dropdown(description="version", options=[], layout=widgets.Layout(width="220px"))
        self.alias_text = widgets.Combobox(
            description="alias",
            placeholder="production",
            options=SUGGESTED_ALIASES,
            ensure_option=False,
            layout=widgets.Layout(width="240px"),
        )
        self.promote_button = widgets.Button(
            description="move alias…", button_style="warning", icon="arrow-up", layout=widgets.Layout(width="130px")
        )
        self.confirm_html = widgets.HTML()
        self.confirm_button = widgets.Button(
            description="confirm", button_style="danger", layout=widgets.Layout(width="100px")
        )
        self.cancel_button = widgets.Button(description="cancel", layout=widgets.Layout(width="100px"))
        self.confirm_box = widgets.HBox(
            [self.confirm_html, self.confirm_button, self.cancel_button], layout=widgets.Layout(display="none")
        )
        self.result_html = widgets.HTML()
        self.metrics_output = widgets.Output()
        self.lineage_output = widgets.Output()
        self.lineage_html = widgets.HTML()
        self.history_html = widgets.HTML()
        for control, css in (
            (self.model_picker, "model"),
            (self.version_picker, "version"),
            (self.alias_text, "alias"),
            (self.promote_button, "promote"),
            (self.confirm_button, "confirm"),
            (self.cancel_button, "cancel"),
            (self.confirm_box, "confirmation"),
            (self.versions_html, "versions"),
            (self.history_html, "history"),
            (self.result_html, "result"),
            (self.metrics_output, "metrics"),
            (self.lineage_output, "lineage"),
        ):
            control.add_class(f"nbmlops-models-{css}")
        super().__init__(
            "Model registry",
            [
                self.model_picker,
                self.summary_html,
                self.versions_html,
                self.metrics_output,
                widgets.HBox([self.version_picker, self.alias_text, self.promote_button]),
                self.confirm_box,
                self.result_html,
                self.lineage_output,
                self.lineage_html,
                self.history_html,
            ],
            store=store,
            home=home,
        )
        self.model_picker.observe(self._on_model, names="value")
        self.version_picker.observe(self._on_version, names="value")
        self.promote_button.on_click(
            lambda _b: self.guard(
                lambda: self.request_promote(self.version_picker.value, self.alias_text.value), hide=False
            )
        )
        self.confirm_button.on_click(lambda _b: self.guard(self.confirm, hide=False))
        self.cancel_button.on_click(lambda _b: self.cancel())
        self.refresh()

    # -- what scripts and tests call --------------------------------------------------------------------------
    @property
    def name(self) -> str | None:
        return self.model_picker.value

    @property
    def version(self) -> ModelVersion | None:
        return next((v for v in self.versions if v.version == self.version_picker.value), None)

    @property
    def aliases(self) -> dict[str, int]:
        found = next((m for m in self.models if m.name == self.name), None)
        return dict(found.aliases) if found else {}

    def show(self, name: str, version: int | None = None) -> None:
        """Show model `name` (and `version`, default the newest)."""
        if name not in [m.name for m in self.models]:
            from nbmlops.registry import get_model_version

            get_model_version(name, store=self.store)  # the registry's error names the models there are
        self.model_picker.value = name
        if version is not None:
            self.version_picker.value = int(version)

    def promote(self, version: int | str, alias: str) -> int | None:
        """Move `alias` to `version` (a number, or an alias whose version to take) now, as confirming does;
        returns the version the alias pointed at before (None: new)."""
        self.request_promote(version, alias)
        return self.confirm()

    def request_promote(self, version: int | str | None, alias: str | None) -> str:
        """The first step of the button: what would move, asked in the confirmation line; nothing changes yet."""
        if self.name is None:
            raise NbmlopsError("no model is shown: pick one first")
        alias = (alias or "").strip()
        if not alias:
            raise NbmlopsError("say which alias to move (e.g. production)")
        number = self._version_number(version)
        before = self.aliases.get(alias)
        self.pending = (number, alias, before)
        question = (
            f"move {self.name}@{alias} from v{before} to v{number}?"
            if before is not None
            else f"create {self.name}@{alias} at v{number}?"
        )
        if before == number:
            question = f"{self.name}@{alias} already points at v{number}; record it again?"
        self.confirm_html.value = f'{STYLE}<div class="nbmlops-w-message empty">{esc(question)}</div>'
        self.confirm_box.layout.display = None
        self.result_html.value = ""
        return question

    def confirm(self) -> int | None:
        """Move the alias asked for (recorded with who and when) and read the registry again."""
        if self.pending is None:
            raise NbmlopsError("nothing to confirm: press 'move alias…' first")
        from nbmlops.registry import set_alias

        number, alias, _shown = self.pending
        name = self.name
        before = set_alias(name, alias, number, store=self.store)
        self._close_confirmation()
        self._load(keep=(name, number))
        moved = f"{name}@{alias}: v{before} → v{number}" if before is not None else f"{name}@{alias} → v{number}"
        self.result_html.value = f'{STYLE}<div class="nbmlops-w-message empty">moved {esc(moved)}</div>'
        return before

    def cancel(self) -> None:
        """Drop the pending move: nothing changes."""
        self._close_confirmation()
        self.result_html.value = f'{STYLE}<div class="nbmlops-w-muted">cancelled: nothing changed</div>'

    def _close_confirmation(self) -> None:
        self.pending = None
        self.confirm_box.layout.display = "none"
        self.confirm_html.value = ""

    def _version_number(self, version: int | str | None) -> int:
        if version is None:
            raise NbmlopsError("say which version to promote")
        if isinstance(version, str) and not version.strip().lstrip("v").isdigit():
            from nbmlops.registry import get_model_version

            return get_model_version(f"{self.name}@{version.strip()}", store=self.store).version
        number = int(str(version).strip().lstrip("v"))
        if number not in [v.version for v in self.versions]:
            raise NbmlopsError(
                f"model '{self.name}' has no version {number} (versions: "
                f"{', '.join(str(v.version) for v in sorted(self.versions, key=lambda v: v.version))})"
            )
        return number

    # -- loading ------------------------------------------------------------------------------------------------
    def _load(self, keep: tuple[str, int] | None = None) -> None:
        from nbmlops.registry import list_models

        self.models = list_models(store=self.store)
        if not self.models:
            self.versions, self.history = [], []
            self.show_message(
                "no models registered in this project yet: nbmlops.register_model(model, 'name') "
                "inside a run or pipeline step registers one",
                "empty",
            )
            return
        wanted = keep[0] if keep else (self.name or self._wanted)
        names = [m.name for m in self.models]
        self._quiet = True
        try:
            self.model_picker.options = names
            self.model_picker.value = wanted if wanted in names else names[0]
        finally:
            self._quiet = False
        if wanted is not None and wanted not in names:
            self._wanted = None
            from nbmlops.registry import get_model_version

            get_model_version(wanted, store=self.store)  # raises: "no model 'x' ... (models: ...)"
        self._show_model(keep[1] if keep else None)

    def _on_model(self, change: dict[str, Any]) -> None:
        if not self._quiet and change["new"]:
            self._close_confirmation()
            self.result_html.value = ""
            self.guard(lambda: self._show_model(None), hide=False)

    def _on_version(self, change: dict[str, Any]) -> None:
        if not self._quiet and change["new"] is not None:
            self.guard(self._show_version, hide=False)

    def _show_model(self, version: int | None) -> None:
        from nbmlops.registry import alias_history, list_model_versions

        name = self.name
        self.versions = list_model_versions(name, store=self.store)
        self.history = alias_history(name, limit=20, store=self.store)
        model = next(m for m in self.models if m.name == name)
        aliases = ", ".join(f"@{a} → v{v}" for a, v in sorted(model.aliases.items())) or "no aliases"
        self.summary_html.value = (
            f'{STYLE}<div class="nbmlops-w-muted"><b>{esc(name)}</b> · {model.versions} '
            f"version{'s' if model.versions != 1 else ''} · {esc(aliases)}</div>"
        )
        self.versions_html.value = self._versions_table()
        self.metrics_figure = metrics_figure(name, self.versions)
        self.metrics_output.outputs = (
            () if self.metrics_figure is None else (figure_output(self.metrics_figure, f"{name}: metrics per version"),)
        )
        numbers = [v.version for v in self.versions]
        self._quiet = True
        try:
            self.version_picker.options = [
                (f"v{v.version}" + (f" @{', @'.join(v.aliases)}" if v.aliases else ""), v.version)
                for v in self.versions
            ]
            self.version_picker.value = version if version in numbers else (numbers[0] if numbers else None)
            self.alias_text.options = tuple(dict.fromkeys([*sorted(model.aliases), *SUGGESTED_ALIASES]))
        finally:
            self._quiet = False
        self.history_html.value = self._history_table()
        self._show_version()

    def _show_version(self) -> None:
        from nbmlops.widgets.lineage import lineage_figure, lineage_html, version_lineage

        version = self.version
        if version is None:
            self.lineage, self.lineage_figure = None, None
            self.lineage_output.outputs = (html_output('<p class="nbmlops-w-muted">No versions.</p>'),)
            self.lineage_html.value = ""
            return
        self.lineage = version_lineage(self.store, version)
        self.lineage_figure = lineage_figure(self.lineage, f"lineage of {version.uri}")
        self.lineage_output.outputs = (figure_output(self.lineage_figure, f"lineage of {version.uri}"),)
        self.lineage_html.value = STYLE + lineage_html(self.lineage)

    def _versions_table(self) -> str:
        keys = sorted({k for v in self.versions for k in v.metrics})[:6]
        head = ["version", "aliases", "created (UTC)", "type", "run", "data sha256", *keys]
        rows = []
        for v in self.versions:
            cells = [
                f"v{v.version}",
                esc(", ".join(f"@{a}" for a in v.aliases)),
                _when(v.created_at),
                esc(v.model_type or ""),
                esc(v.run_id or ""),
                esc((v.data_sha256 or "")[:12]),
                *[fmt(v.metrics.get(k)) for k in keys],
            ]
            rows.append(f'<tr data-version="{v.version}">' + "".join(f"<td>{c}</td>" for c in cells) + "</tr>")
        return (
            f'{STYLE}<div class="nbmlops-w-scroll"><table class="nbmlops-w-table"><thead><tr>'
            + "".join(f"<th>{esc(h)}</th>" for h in head)
            + "</tr></thead><tbody>"
            + "".join(rows)
            + "</tbody></table></div>"
        )

    def _history_table(self) -> str:
        if not self.history:
            return f'{STYLE}<div class="nbmlops-w-muted">no alias moves recorded yet</div>'
        rows = []
        for move in self.history:
            before = "new" if move.previous_version is None else f"v{move.previous_version}"
            after = "removed" if move.version is None else f"v{move.version}"
            rows.append(
                f"<tr><td>@{esc(move.alias)}</td><td>{before} → {after}</td><td>{esc(move.moved_by or '')}"
                f"</td><td>{_when(move.moved_at)}</td></tr>"
            )
        return (
            f'{STYLE}<h4>alias history</h4><table class="nbmlops-w-table nbmlops-models-history-table"><thead>'
            "<tr><th>alias</th><th>move</th><th>by</th><th>when (UTC)</th></tr></thead><tbody>"
            + "".join(rows)
            + "</tbody></table>"
        )

    def _static_html(self) -> str:
        return self.summary_html.value + self.versions_html.value + self.history_html.value

    def __repr__(self) -> str:
        return f"ModelRegistry({self.name!r}, {len(self.versions)} versions)" if self.name else "ModelRegistry()"
