"""The browsing widgets in a real JupyterLab notebook (Debian's headless Chromium), shown through `%nbmlops`: each
renders, and one action each goes through the browser: select a run (its detail and steps appear), move an alias
with the confirmation step (the store changes), type an entity (its online values appear), resample a training
set, refresh the pipeline's DAG. A screenshot per widget: artifacts/widget-<name>.png.

Reuses test_lab's `jupyter lab` fixture (a separate server for this module); the project is filled from this
process before the notebook runs (the kernel shares NBMLOPS_HOME with the server).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import test_lab as base  # same folder: pytest puts it on sys.path

lab = base.lab  # the module-scoped `jupyter lab` server fixture

TRAINING = """\
import pandas as pd
from nbmlops.features import FeatureVector, get_offline_features
from nbmlops.widgets import TrainingSetInspector
vec = FeatureVector("browse", ["tx.amount"])
entity = pd.DataFrame({"customer_id": [1, 2, 1, 2], "ts": pd.to_datetime(["2024-01-01 12:00", "2024-01-02 12:00",
                                                                          "2024-01-03 00:00", "2024-01-04 00:00"])})
TrainingSetInspector(get_offline_features(vec, entity, timestamp_column="ts"), vec, sample=4)
"""
CELLS = [
    "%load_ext nbmlops",
    "%nbmlops runs --all",
    "%nbmlops models churn",
    "%nbmlops features",
    TRAINING,
    "%nbmlops pipeline --notebook pipe.ipynb",
]


def fill_project(root) -> dict:
    """A pipeline run, churn v1 (@production) and v2, a feature set: in the lab root's project home."""
    import os

    import nbformat
    import numpy as np
    import pandas as pd
    from sklearn.linear_model import LogisticRegression

    home = root / ".nbmlops"
    saved = os.environ.get("NBMLOPS_HOME")
    os.environ["NBMLOPS_HOME"] = str(home)
    try:
        from nbmlops.features import FeatureSet, FeatureStore
        from nbmlops.pipeline import compile_notebook
        from nbmlops.registry import register_model
        from nbmlops.runners import run_pipeline
        from nbmlops.store import open_store

        cells = [
            ("n = 3", ["parameters"]),
            ("data = list(range(n))", ["step:prepare"]),
            ("total = sum(data)", ["step:train"]),
            ("half = data[:1]", ["step:report"]),
        ]
        nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c, metadata={"tags": t}) for c, t in cells])
        nbformat.write(nb, root / "pipe.ipynb")
        result = run_pipeline(compile_notebook(root / "pipe.ipynb"), home=home)
        store = open_store(home)
        rng = np.random.default_rng(0)
        frame = pd.DataFrame({"tenure": rng.normal(12, 4, 100), "spend": rng.gamma(2.0, 30, 100)})
        for i in range(2):
            register_model(
                LogisticRegression(C=1 + i).fit(frame, frame["tenure"] > 12),
                "churn",
                reference_data=frame,
                metrics={"auc": 0.7 + i / 10},
                store=store,
                aliases=["production"] if i == 0 else [],
            )
        features = FeatureStore(home)
        FeatureSet("tx", entities=["customer_id"], timestamp="ts").ingest(
            pd.DataFrame(
                {
                    "customer_id": [1, 2, 1],
                    "amount": [1.5, 2.5, 3.5],
                    "ts": pd.to_datetime(["2024-01-01 00:00", "2024-01-02 00:00", "2024-01-03 06:00"]),
                }
            ),
            store=features,
        )
        features.close()
        return {"home": home, "store": store, "run_id": result.run_id}
    finally:
        if saved is None:
            os.environ.pop("NBMLOPS_HOME", None)
        else:
            os.environ["NBMLOPS_HOME"] = saved


@pytest.fixture(scope="module")
def project(lab) -> dict:
    return fill_project(lab["root"])


@pytest.fixture(scope="module")
def notebook_page(lab, project) -> Iterator:
    import nbformat

    nbformat.write(
        nbformat.v4.new_notebook(
            cells=[nbformat.v4.new_code_cell(c) for c in CELLS],
            metadata={"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}},
        ),
        lab["root"] / "browse.ipynb",
    )
    base.ARTIFACTS.mkdir(exist_ok=True)
    with base.sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=base.CHROMIUM, headless=True, args=base.CHROMIUM_ARGS)
        page = browser.new_context(viewport={"width": 1400, "height": 1100}).new_page()
        page.set_default_timeout(60_000)
        page.goto(f"{lab['url']}/lab/tree/browse.ipynb?reset&token={lab['token']}")
        page.locator(".jp-Notebook .jp-Cell .jp-InputArea-editor").first.wait_for(timeout=120_000)
        base.wait_until(lambda: "| Idle" in page.locator("#jp-main-statusbar").inner_text(), 120, "the kernel")
        page.locator(".jp-Notebook .jp-Cell").first.locator(".jp-InputPrompt").click()
        for _ in CELLS:
            page.keyboard.press("Shift+Enter")
        page.locator(".nbmlops-pipeline-view").wait_for(timeout=180_000)  # the last cell's widget
        try:
            yield page
        finally:
            page.screenshot(path=str(base.ARTIFACTS / "widgets-last.png"))
            browser.close()


def shot(widget, name: str) -> None:
    widget.scroll_into_view_if_needed()
    widget.screenshot(path=str(base.ARTIFACTS / f"widget-{name}.png"))


def test_runs_browser_selects_a_run(notebook_page, project) -> None:
    widget = notebook_page.locator(".nbmlops-runs-browser")
    widget.locator("table.nbmlops-w-table tr[data-run]").first.wait_for()
    assert widget.locator(f'tr[data-run="{project["run_id"]}"]').count() == 1
    widget.locator(".nbmlops-runs-picker select").select_option(value=None, index=0)
    steps = widget.locator("table.nbmlops-runs-steps")
    steps.wait_for()
    assert [t.strip() for t in steps.locator("tbody tr td:first-child").all_inner_texts()] == [
        "prepare",
        "train",
        "report",
    ]
    assert "first run" in steps.inner_text()
    assert widget.locator(f'tr.selected[data-run="{project["run_id"]}"]').count() == 1
    shot(widget, "runs")


def test_model_registry_promotes_with_confirmation(notebook_page, project) -> None:
    from nbmlops.registry import alias_history, get_model_version

    widget = notebook_page.locator(".nbmlops-model-registry")
    widget.locator(".nbmlops-models-versions tr[data-version]").first.wait_for()
    widget.locator(".nbmlops-models-version select").select_option(label="v2")
    widget.locator(".nbmlops-models-alias input").fill("production")
    widget.locator("button.nbmlops-models-promote").click()
    confirmation = widget.locator(".nbmlops-models-confirmation")
    confirmation.wait_for()
    assert "move churn@production from v1 to v2?" in confirmation.inner_text()
    assert get_model_version("churn@production", store=project["store"]).version == 1  # not before confirming
    shot(widget, "models-confirm")
    widget.locator("button.nbmlops-models-confirm").click()
    base.wait_until(
        lambda: "moved churn@production: v1 → v2" in widget.locator(".nbmlops-models-result").inner_text(),
        60,
        "the move",
    )
    assert get_model_version("churn@production", store=project["store"]).version == 2
    assert alias_history("churn", store=project["store"])[0].previous_version == 1
    assert "v1 → v2" in widget.locator(".nbmlops-models-history").inner_text()
    shot(widget, "models")


def test_feature_browser_looks_up_a_typed_entity(notebook_page) -> None:
    widget = notebook_page.locator(".nbmlops-feature-browser")
    widget.locator(".nbmlops-features-table tr[data-feature]").first.wait_for()
    widget.locator(".nbmlops-features-entity-value input").fill("1")
    widget.locator("button.nbmlops-features-lookup").click()
    table = widget.locator(".nbmlops-features-online-table")
    table.wait_for()
    assert "3.5" in table.locator('tr[data-feature="amount"]').inner_text()  # customer 1's newest event
    assert widget.locator(".js-plotly-plot").count() >= 1  # the histogram, drawn offline by plotly's renderer
    shot(widget, "features")


def test_training_inspector_resamples(notebook_page) -> None:
    widget = notebook_page.locator(".nbmlops-training-inspector")
    verdict = widget.locator(".nbmlops-training-verdict")
    verdict.wait_for()
    # customer 1 at 2024-01-01 12:00 and at 2024-01-03 00:00: a later event (01-03 06:00) exists both times
    assert verdict.inner_text().startswith("2 values")
    widget.locator("button.nbmlops-training-resample").click()
    base.wait_until(lambda: widget.locator(".nbmlops-training-rows tr[data-row]").count() == 4, 60, "the rows")
    shot(widget, "training")


def test_pipeline_view_shows_the_last_run(notebook_page) -> None:
    widget = notebook_page.locator(".nbmlops-pipeline-view")
    steps = widget.locator("svg.nbmlops-pipeline-dag g.nbmlops-pipeline-step")
    steps.first.wait_for()
    assert steps.evaluate_all("els => els.map(e => [e.dataset.step, e.dataset.status])") == [
        ["prepare", "succeeded"],
        ["train", "succeeded"],
        ["report", "succeeded"],
    ]
    widget.locator("button.nbmlops-w-refresh").click()
    steps.first.wait_for()
    shot(widget, "pipeline")
