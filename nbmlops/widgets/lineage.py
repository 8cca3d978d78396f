"""The lineage of a model version as a small graph: version → run → notebook (sha and the cells of the step that
registered it) and commit → training set → feature vector and feature set versions; the version's data hash and
artifact; and the drift results stored for it. Read from the registry's and the store's public lineage calls and
monitoring's stored results; drawn as a layered plotly graph."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nbmlops.widgets._render import esc

if TYPE_CHECKING:
    from plotly.graph_objects import Figure

    from nbmlops.registry import ModelVersion
    from nbmlops.store import Store

KIND_COLORS = {
    "model_version": "#d81b60",
    "run": "#1e88e5",
    "notebook": "#43a047",
    "commit": "#6d4c41",
    "value": "#fb8c00",
    "artifact": "#8e24aa",
    "training_set": "#00acc1",
    "feature_vector": "#3949ab",
    "feature_set": "#5e35b1",
    "drift_result": "#e53935",
}


@dataclass
class Lineage:
    """Nodes (id -> {kind, label, detail, layer}) and edges (from id, to id, relation)."""

    nodes: dict[str, dict[str, Any]] = field(default_factory=dict)
    edges: list[tuple[str, str, str]] = field(default_factory=list)

    def add(self, node: str, kind: str, label: str, layer: int, detail: str = "") -> str:
        self.nodes.setdefault(node, {"kind": kind, "label": label, "layer": layer, "detail": detail})
        return node

    def link(self, a: str, b: str, relation: str) -> None:
        if (a, b, relation) not in self.edges:
            self.edges.append((a, b, relation))

    def of_kind(self, kind: str) -> list[dict[str, Any]]:
        return [dict(n, id=i) for i, n in self.nodes.items() if n["kind"] == kind]


def _step_cells(store: Store, run_id: str, step: str | None) -> list[int]:
    """The notebook cells of the step that logged the version (from the run's pipeline.json), or []."""
    if not step:
        return []
    from nbmlops.pipeline import PipelineSpec

    path = Path(store.settings.home) / "runs" / run_id / "pipeline.json"
    if not path.is_file():
        return []
    spec = PipelineSpec.load(str(path))
    found = [s for s in spec.steps if s.name == step]
    return [c.index for c in found[0].cells] if found else []


def version_lineage(store: Store, version: ModelVersion) -> Lineage:
    from nbmlops.monitoring import list_results
    from nbmlops.registry import model_lineage

    graph = Lineage()
    root = graph.add(
        f"model_version:{version.uri}",
        "model_version",
        version.uri,
        0,
        f"{version.model_type or ''} · {version.format}",
    )
    for edge in model_lineage(version.uri, store=store):
        node = f"{edge.to_kind}:{edge.to_id}"
        if edge.to_kind == "run":
            run = store.find_run(edge.to_id)
            detail = "deleted" if run is None else f"{run.pipeline or run.name or ''} · {run.status}"
            graph.add(node, "run", edge.to_id, 1, detail + (f" · step {edge.step_name}" if edge.step_name else ""))
            cells = _step_cells(store, edge.to_id, edge.step_name)
            for run_edge in store.edges("run", edge.to_id, "out"):
                target = f"{run_edge.to_kind}:{run_edge.to_id}"
                if run_edge.to_kind == "notebook":
                    graph.add(
                        target,
                        "notebook",
                        run_edge.to_id[:12],
                        2,
                        (run_edge.name or "") + (f" · cells {', '.join(map(str, cells))}" if cells else ""),
                    )
                elif run_edge.to_kind == "commit":
                    graph.add(target, "commit", run_edge.to_id[:12], 2, run_edge.name or "")
                elif run_edge.to_kind == "training_set":
                    graph.add(target, "training_set", run_edge.to_id[:12], 2, f"vector {run_edge.name or ''}")
                    for ts_edge in store.edges("training_set", run_edge.to_id, "out"):
                        graph.add(
                            f"{ts_edge.to_kind}:{ts_edge.to_id}", ts_edge.to_kind, ts_edge.to_id, 3, ts_edge.relation
                        )
                        graph.link(target, f"{ts_edge.to_kind}:{ts_edge.to_id}", ts_edge.relation)
                else:
                    continue
                graph.link(node, target, run_edge.relation)
        elif edge.to_kind in ("notebook", "commit"):
            continue  # drawn from the run (the same nodes), or below when there is no run
        elif edge.to_kind == "value":
            graph.add(node, "value", edge.to_id[:12], 1, f"data ({edge.name or ''})")
        elif edge.to_kind == "artifact":
            graph.add(node, "artifact", edge.to_id[:12], 1, edge.name or "model")
        else:
            graph.add(node, edge.to_kind, edge.to_id[:12], 1, edge.relation)
        graph.link(root, node, edge.relation)
    if version.notebook_sha256 and f"notebook:{version.notebook_sha256}" not in graph.nodes:
        graph.add(
            f"notebook:{version.notebook_sha256}",
            "notebook",
            version.notebook_sha256[:12],
            1,
            version.notebook_path or "",
        )
        graph.link(root, f"notebook:{version.notebook_sha256}", "code")
    results = list_results(store, version.name)
    mine = results[results["model_version"] == version.version] if len(results) else results
    for row in mine.head(8).to_dict("records"):
        node = graph.add(
            f"drift_result:{row['id']}",
            "drift_result",
            str(row["id"])[:12],
            -1,
            f"{'DRIFT' if row['dataset_drift'] else 'no drift'} · {row['n_drifted']}/{row['n_features']} features",
        )
        graph.link(node, root, "monitors")
    return graph


def lineage_figure(graph: Lineage, title: str) -> Figure:
    """The graph in layers left to right (drift results left of the version), a node's kind by its colour."""
    import plotly.graph_objects as go

    layers: dict[int, list[str]] = {}
    for node, info in graph.nodes.items():
        layers.setdefault(info["layer"], []).append(node)
    where = {}
    for layer, members in layers.items():
        for i, node in enumerate(members):
            where[node] = (layer, (len(members) - 1) / 2 - i)
    fig = go.Figure()
    for a, b, relation in graph.edges:
        (x0, y0), (x1, y1) = where[a], where[b]
        fig.add_trace(
            go.Scatter(
                x=[x0, x1],
                y=[y0, y1],
                mode="lines",
                line={"color": "#b0bec5", "width": 1.5},
                hoverinfo="text",
                text=relation,
                showlegend=False,
            )
        )
    for kind, color in KIND_COLORS.items():
        members = [n for n, info in graph.nodes.items() if info["kind"] == kind]
        if not members:
            continue
        fig.add_trace(
            go.Scatter(
                x=[where[n][0] for n in members],
                y=[where[n][1] for n in members],
                mode="markers+text",
                name=kind,
                marker={"size": 16, "color": color},
                text=[graph.nodes[n]["label"] for n in members],
                textposition="bottom center",
                customdata=[graph.nodes[n]["detail"] for n in members],
                hovertemplate=f"{kind}<br>%{{text}}<br>%{{customdata}}<extra></extra>",
            )
        )
    fig.update_layout(
        title={"text": title, "font": {"size": 14}},
        height=360,
        width=760,
        template="plotly_white",
        xaxis={"visible": False},
        yaxis={"visible": False},
        margin={"l": 10, "r": 10, "t": 40, "b": 10},
        legend={"orientation": "h", "y": -0.05},
    )
    return fig


def lineage_html(graph: Lineage) -> str:
    rows = "".join(
        f'<tr data-kind="{esc(n["kind"])}"><td>{esc(n["kind"])}</td><td>{esc(n["label"])}</td>'
        f"<td>{esc(n['detail'])}</td></tr>"
        for n in sorted(graph.nodes.values(), key=lambda n: n["layer"])
    )
    return (
        '<table class="nbmlops-w-table nbmlops-models-lineage"><thead><tr><th>kind</th><th>id</th><th>detail</th>'
        f"</tr></thead><tbody>{rows}</tbody></table>"
    )
