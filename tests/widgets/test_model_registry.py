"""ModelRegistry on real stores (SQLite and PostgreSQL): models, versions, aliases, metrics per version; promoting
with the confirmation step (the alias moves, recorded with who and when; cancel leaves the store unchanged); the
lineage graph of a version (run, notebook and cells, training set, feature vector, data, drift results); messages
for an empty registry and an unknown model."""

from __future__ import annotations

import html

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression

from nbmlops.errors import NbmlopsError
from nbmlops.monitoring import monitor_model
from nbmlops.registry import alias_history, get_model_version, list_models, register_model, set_alias
from nbmlops.tracking import start_run
from nbmlops.widgets import ModelRegistry
from nbmlops.widgets._render import PLOTLY_MIME


def plotted(output) -> dict:
    (item,) = [o for o in output.outputs if PLOTLY_MIME in o["data"]][:1]
    return item["data"][PLOTLY_MIME]


@pytest.fixture
def frame() -> pd.DataFrame:
    rng = np.random.default_rng(0)
    return pd.DataFrame({"tenure": rng.normal(12, 4, 300), "spend": rng.gamma(2.0, 30, 300)})


def register_three(store, frame: pd.DataFrame) -> list[str]:
    """churn v1..v3 from runs logging auc (0.7, 0.8, 0.75) and f1; v1 is @production, v2 @staging."""
    target = (frame["tenure"] > 12).astype(int)
    run_ids = []
    for i, (auc, f1) in enumerate([(0.7, 0.5), (0.8, 0.6), (0.75, 0.65)]):
        with start_run(f"train{i}", params={"C": 0.1 * (i + 1)}, store=store) as run:
            run.log_metrics({"auc": auc, "f1": f1})
            model = LogisticRegression(C=0.1 * (i + 1)).fit(frame, target)
            register_model(
                model,
                "churn",
                run=run,
                reference_data=frame,
                store=store,
                aliases=["production"] if i == 0 else ["staging"] if i == 1 else [],
            )
            run_ids.append(run.id)
    return run_ids


def test_versions_aliases_and_metrics_per_version(store, frame) -> None:
    runs = register_three(store, frame)
    widget = ModelRegistry("churn", store=store)
    assert widget.message is None and widget.name == "churn"
    assert [v.version for v in widget.versions] == [3, 2, 1] and widget.version.version == 3
    assert widget.aliases == {"production": 1, "staging": 2}
    table = widget.versions_html.value
    assert table.count("<tr data-version=") == 3 and runs[1] in table and "@staging" in table
    figure = plotted(widget.metrics_output)
    by_metric = {t["name"]: (list(t["x"]), list(t["y"])) for t in figure["data"]}
    assert by_metric["auc"] == (["v1", "v2", "v3"], [0.7, 0.8, 0.75]) and by_metric["f1"][1] == [0.5, 0.6, 0.65]
    assert "@production → v1" in html.unescape(widget.summary_html.value)


def test_promote_with_confirmation_moves_the_alias_and_records_who(store, frame, monkeypatch) -> None:
    register_three(store, frame)
    widget = ModelRegistry("churn", store=store)
    widget.version_picker.value = 2
    widget.alias_text.value = "production"
    widget.promote_button.click()
    assert widget.pending == (2, "production", 1) and widget.confirm_box.layout.display is None
    assert "move churn@production from v1 to v2?" in html.unescape(widget.confirm_html.value)
    assert get_model_version("churn@production", store=store).version == 1  # nothing moved yet

    widget.cancel_button.click()  # cancel: the store is as it was
    assert widget.pending is None and widget.confirm_box.layout.display == "none"
    assert get_model_version("churn@production", store=store).version == 1
    assert [(m.alias, m.version) for m in alias_history("churn", store=store)] == [("staging", 2), ("production", 1)]
    assert "cancelled: nothing changed" in widget.result_html.value

    monkeypatch.setattr("getpass.getuser", lambda: "alice")
    widget.promote_button.click()
    widget.confirm_button.click()
    assert get_model_version("churn@production", store=store).version == 2
    assert widget.aliases["production"] == 2 and widget.version.version == 2
    latest = alias_history("churn", store=store)[0]
    assert (latest.alias, latest.previous_version, latest.version, latest.moved_by) == ("production", 1, 2, "alice")
    assert "v1 → v2" in html.unescape(widget.history_html.value) and "alice" in widget.history_html.value
    assert "moved churn@production: v1 → v2" in html.unescape(widget.result_html.value)

    # the script form: promote staging's version (2) to champion, then v3 to staging
    assert widget.promote("staging", "champion") is None
    assert widget.promote(3, "staging") == 2
    assert {m.name: m.aliases for m in list_models(store=store)}["churn"] == {
        "production": 2,
        "staging": 3,
        "champion": 2,
    }
    with pytest.raises(NbmlopsError, match="model 'churn' has no version 9"):
        widget.promote(9, "production")
    with pytest.raises(NbmlopsError, match="has no alias 'nope'"):
        widget.promote("nope", "production")
    # a bad version through the button is a message, not a traceback
    widget.version_picker.value = 1
    widget.alias_text.value = ""
    widget.promote_button.click()
    assert widget.message == "say which alias to move (e.g. production)" and widget.pending is None


def test_lineage_of_a_version_reaches_run_notebook_data_and_drift(store, frame) -> None:
    runs = register_three(store, frame)
    rng = np.random.default_rng(1)
    current = pd.DataFrame({"tenure": rng.normal(20, 4, 300), "spend": rng.gamma(2.0, 30, 300)})
    monitor_model("churn:2", current, store=store)
    widget = ModelRegistry("churn", store=store)
    widget.version_picker.value = 2
    graph = widget.lineage
    kinds = {n["kind"]: n for n in graph.nodes.values()}
    assert kinds["run"]["label"] == runs[1] and kinds["value"]["detail"] == "data (reference_data)"
    assert kinds["artifact"]["label"] == get_model_version("churn:2", store=store).artifact_sha256[:12]
    assert kinds["drift_result"]["detail"].startswith("DRIFT")
    assert ("model_version:churn:2", f"run:{runs[1]}", "run") in graph.edges
    figure = plotted(widget.lineage_output)
    assert {t.get("name") for t in figure["data"]} >= {"model_version", "run", "value", "artifact", "drift_result"}
    widget.version_picker.value = 1
    assert not widget.lineage.of_kind("drift_result")  # the drift result was of v2


def test_pipeline_lineage_names_notebook_cells_and_the_feature_vector(db_url, home, monkeypatch, make_notebook) -> None:
    monkeypatch.setenv("NBMLOPS_DB_URL", db_url)
    from nbmlops.pipeline import compile_notebook
    from nbmlops.runners import run_pipeline

    cells = [
        (
            "import nbmlops, pandas as pd, numpy as np\n"
            "from sklearn.linear_model import LogisticRegression\n"
            "from nbmlops.features import FeatureSet, FeatureVector, get_offline_features",
            ["setup"],
        ),
        (
            "events = pd.DataFrame({'customer_id': [1, 2, 1, 2], 'ts': pd.to_datetime(['2024-01-01', '2024-01-01', "
            "'2024-01-02', '2024-01-02']), 'amount': [1.0, 2.0, 3.0, 4.0]})\n"
            "FeatureSet('tx', entities=['customer_id'], timestamp='ts').ingest(events)",
            ["step:features"],
        ),
        (
            "vec = FeatureVector('churn_vec', ['tx.amount'])\n"
            "entities = pd.DataFrame({'customer_id': [1, 2, 1, 2], 'y': [0, 1, 0, 1], "
            "'ts': pd.to_datetime(['2024-01-03', '2024-01-03', '2024-01-04', '2024-01-04'])})\n"
            "train = get_offline_features(vec, entities, timestamp_column='ts')\n"
            "model = LogisticRegression().fit(train[['amount']], train['y'])\n"
            "nbmlops.register_model(model, 'pit', reference_data=train[['amount']])",
            ["step:train"],
        ),
    ]
    notebook = make_notebook(cells)
    result = run_pipeline(compile_notebook(notebook), home=home)
    widget = ModelRegistry("pit", home=home)
    assert widget.message is None
    kinds = {}
    for node in widget.lineage.nodes.values():
        kinds.setdefault(node["kind"], []).append(node)
    assert kinds["run"][0]["label"] == result.run_id and "step train" in kinds["run"][0]["detail"]
    assert kinds["notebook"][0]["detail"].endswith("cells 2")  # the train step's cell, as the notebook counts
    assert [n["label"] for n in kinds["feature_vector"]] == ["churn_vec"]
    assert kinds["training_set"] and kinds["feature_set"][0]["label"] == "tx:v1"


def test_empty_registry_and_unknown_model_are_messages(store, frame) -> None:
    widget = ModelRegistry(store=store)
    assert widget.message.startswith("no models registered in this project yet")
    register_three(store, frame)
    widget.refresh_button.click()
    assert widget.message is None and widget.name == "churn"
    unknown = ModelRegistry("nope", store=store)
    assert unknown.message.startswith("no model 'nope' in the registry") and "churn" in unknown.message
    assert unknown.body.layout.display == "none"
    assert "no model &#x27;nope&#x27;" in unknown._repr_mimebundle_()["text/html"]
    set_alias("churn", "production", 3, store=store)
    widget.refresh_button.click()
    assert widget.aliases["production"] == 3
