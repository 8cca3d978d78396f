"""DriftDashboard: built from a real detect_drift and from stored results; the table, its order and filters, the
plotted distribution of the chosen column, drift over time, and the errors a user can cause."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from nbmlops.errors import NbmlopsError
from nbmlops.monitoring import detect_drift, list_results, monitor_model
from nbmlops.widgets import DriftDashboard
from nbmlops.widgets._render import PLOTLY_MIME

REPO = Path(__file__).resolve().parents[2]


def frame(n: int, shift: float = 0.0, seed: int = 0) -> pd.DataFrame:
    """tenure shifts by 2 std and plan's mix moves with `shift`; spend never moves; empty and signup can't be tested."""
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "tenure": rng.normal(12 + shift * 8, 4, n),
            "spend": rng.gamma(2.0, 30, n),
            "plan": rng.choice(
                ["basic", "pro", "team"], n, p=[0.6 - shift * 0.3, 0.3 + shift * 0.2, 0.1 + shift * 0.1]
            ),
            "empty": np.full(n, np.nan),
            "signup": pd.date_range("2024-01-01", periods=n, freq="h"),
        }
    )


@pytest.fixture(scope="module")
def reference() -> pd.DataFrame:
    return frame(600, seed=1)


@pytest.fixture(scope="module")
def current() -> pd.DataFrame:
    return frame(500, shift=1.0, seed=2)


@pytest.fixture(scope="module")
def result(reference: pd.DataFrame, current: pd.DataFrame):
    return detect_drift(reference, current, parallel=False)


def table_order(dash: DriftDashboard) -> list[str]:
    return re.findall(r'<tr data-feature="([^"]+)"', dash.table_html.value)


def plotted(output) -> dict:
    """The plotly figure an Output widget holds (what JupyterLab's plotly renderer draws)."""
    (item,) = [o for o in output.outputs if PLOTLY_MIME in o["data"]][:1]
    return item["data"][PLOTLY_MIME]


# -- one result ------------------------------------------------------------------------------------------------------
def test_table_lists_every_column_drifted_first(result) -> None:
    dash = DriftDashboard(result)
    # drifted by effect size (tenure's 2-std shift beats plan's mix), then tested, then untested by name
    assert dash.rows["feature"].tolist() == ["tenure", "plan", "spend", "empty", "signup"]
    assert table_order(dash) == ["tenure", "plan", "spend", "empty", "signup"]
    by_name = result.table.set_index("feature")
    for row in dash.rows.to_dict("records"):
        expected = by_name.loc[row["feature"]]
        assert row["kind"] == expected["kind"] and row["drifted"] == bool(expected["drifted"])
        if row["status"] == "ok":
            assert row["test"] == expected["test"]
            assert row["statistic"] == pytest.approx(expected["statistic"])
            assert row["p_value"] == pytest.approx(expected["p_value"])
    assert dash.rows.set_index("feature").loc["tenure", "test"] == "ks"  # <= 1000 reference rows: Evidently's rule
    html = dash.table_html.value
    for header in ("feature", "kind", "test", "statistic", "p-value", "effect size", "threshold", "verdict"):
        assert f"<th>{header}</th>" in html
    tenure = re.search(r'<tr data-feature="tenure"[^>]*>(.*?)</tr>', html).group(1)
    assert "drift" in tenure and f"{by_name.loc['tenure', 'statistic']:.4g}" in tenure
    empty = re.search(r'<tr data-feature="empty"[^>]*>(.*?)</tr>', html).group(1)
    assert "not enough data" in empty and "0 non-missing" in empty
    assert "datetime" in re.search(r'<tr data-feature="signup"[^>]*>(.*?)</tr>', html).group(1)
    # the verdict line: dataset drift, drifted share against the threshold
    summary = dash.summary_html.value
    assert "Dataset drift: yes" in summary and "2 of 3 tested features drifted (67%; dataset drift at ≥ 50%)" in summary
    assert "2 columns not tested" in summary and "reference rows 600" in summary and "current rows 500" in summary


def test_no_drift_says_so(reference: pd.DataFrame) -> None:
    dash = DriftDashboard(detect_drift(reference, frame(500, seed=3), parallel=False))
    summary = dash.summary_html.value
    assert "Dataset drift: no" in summary and "0 of 3 tested features drifted" in summary
    assert not dash.rows["drifted"].any()


def test_filter_drifted_only_and_sort(result) -> None:
    dash = DriftDashboard(result)
    dash.drifted_only.value = True
    assert dash.rows["feature"].tolist() == ["tenure", "plan"] and table_order(dash) == ["tenure", "plan"]
    assert "2 of 5 columns shown" in dash.table_html.value
    dash.drifted_only.value = False
    dash.filter_text.value = "PL"
    assert table_order(dash) == ["plan"]
    assert dash.selected == "plan" and [v for _, v in dash.feature_picker.options] == ["plan"]
    dash.filter_text.value = "nothing matches"
    assert table_order(dash) == [] and dash.selected is None and dash.distribution_figure is None
    assert "No column matches" in dash.distribution_output.outputs[0]["data"]["text/html"]
    dash.filter_text.value = ""
    dash.sort_by.value = "feature"
    assert table_order(dash) == ["empty", "plan", "signup", "spend", "tenure"]
    dash.sort_by.value = "p-value"  # smallest first, untested columns last
    p = result.table.set_index("feature")["p_value"]
    assert table_order(dash)[:3] == sorted(["tenure", "plan", "spend"], key=lambda f: p[f])
    assert table_order(dash)[3:] == ["empty", "signup"]
    dash.sort_by.value = "effect size"
    assert table_order(dash)[:3] == ["tenure", "plan", "spend"]


def test_selecting_a_feature_plots_its_distribution(result, current: pd.DataFrame) -> None:
    dash = DriftDashboard(result)
    assert dash.selected == "tenure"  # the most drifted column is shown first
    fig = dash.distribution_figure
    assert [t.name for t in fig.data] == ["reference", "current"]
    assert list(fig.data[1].y) == pytest.approx(result.plots["tenure"]["current"])
    # the histogram is the current data's: its weighted mean is the sample's mean, to a bin's width
    centers, shares = np.asarray(fig.data[1].x), np.asarray(fig.data[1].y)
    assert shares.sum() == pytest.approx(1.0)
    width = float(np.diff(result.plots["tenure"]["edges"])[0])
    assert abs(float(centers @ shares) - current["tenure"].mean()) < width
    assert plotted(dash.distribution_output)["data"][1]["y"] == pytest.approx(list(shares))
    assert 'class="drifted selected"' in re.search(r'<tr data-feature="tenure"[^>]*>', dash.table_html.value).group(0)

    dash.feature_picker.value = "spend"  # what choosing it in the dropdown does
    fig = dash.distribution_figure
    assert list(fig.data[0].y) == pytest.approx(result.plots["spend"]["reference"])
    assert list(fig.data[1].y) == pytest.approx(result.plots["spend"]["current"])
    assert abs(float(np.asarray(fig.data[1].x) @ np.asarray(fig.data[1].y)) - current["spend"].mean()) < float(
        np.diff(result.plots["spend"]["edges"])[0]
    )
    assert "spend: no drift (ks" in fig.layout.title.text
    assert plotted(dash.distribution_output)["data"][0]["y"] == pytest.approx(result.plots["spend"]["reference"])
    assert "selected" in re.search(r'<tr data-feature="spend"[^>]*>', dash.table_html.value).group(0)
    assert "selected" not in re.search(r'<tr data-feature="tenure"[^>]*>', dash.table_html.value).group(0)

    dash.select("plan")  # categorical: bars per category, current shares as counted
    fig = dash.distribution_figure
    assert list(fig.data[0].x) == ["basic", "pro", "team"]
    shares = current["plan"].value_counts(normalize=True)
    assert list(fig.data[1].y) == pytest.approx([shares[c] for c in ["basic", "pro", "team"]])
    assert fig.layout.barmode == "group"

    dash.select("empty")
    assert dash.distribution_figure is None
    note = dash.distribution_output.outputs[0]["data"]["text/html"]
    assert "No distribution for empty" in note and "not enough data" in note


def test_select_clears_a_filter_that_hides_the_column(result) -> None:
    dash = DriftDashboard(result, feature="plan")
    assert dash.selected == "plan"
    dash.drifted_only.value = True
    dash.select("spend")
    assert dash.selected == "spend" and not dash.drifted_only.value and "spend" in table_order(dash)


def test_display_bundle_offline_and_without_a_kernel(result) -> None:
    dash = DriftDashboard(result)
    bundle = dash._repr_mimebundle_()
    assert bundle["application/vnd.jupyter.widget-view+json"]["model_id"] == dash.model_id
    assert "Dataset drift: yes" in bundle["text/html"] and "tenure" in bundle["text/html"]
    assert bundle["text/plain"].startswith("DriftDashboard(DRIFT: 2 of 3")
    for output in (*dash.distribution_output.outputs, *dash.history_output.outputs):
        assert not re.search(r"<script|cdn\.plot\.ly", json.dumps(output))  # plotly's mimetype, no CDN script
    # a plain interpreter: no IPython, no kernel
    code = (
        "import numpy as np, pandas as pd\nfrom nbmlops.monitoring import detect_drift\n"
        "from nbmlops.widgets import DriftDashboard\nrng = np.random.default_rng(0)\n"
        "r = detect_drift(pd.DataFrame({'x': rng.normal(0, 1, 200)}), pd.DataFrame({'x': rng.normal(2, 1, 200)}),"
        " parallel=False)\nd = DriftDashboard(r)\nb = d._repr_mimebundle_()\n"
        "print(d.selected, sorted(b), len(d.distribution_output.outputs))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=REPO)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == [
        "x",
        "['application/vnd.jupyter.widget-view+json',",
        "'text/html',",
        "'text/plain']",
        "1",
    ]


def test_bad_input_says_what_to_pass(result) -> None:
    with pytest.raises(NbmlopsError, match="DriftResult of nbmlops.monitoring.detect_drift.*not int"):
        DriftDashboard(42)
    with pytest.raises(NbmlopsError, match="not DataFrame"):
        DriftDashboard(result.table)
    dash = DriftDashboard(result)
    with pytest.raises(NbmlopsError, match="no column 'age' in this drift result .columns: tenure, spend, plan"):
        dash.select("age")
    with pytest.raises(NbmlopsError, match="no column 'age'"):
        DriftDashboard(result, feature="age")
    with pytest.raises(NbmlopsError, match="shows one result"):
        dash.show_result("drift-1")


# -- stored results ----------------------------------------------------------------------------------------------
@pytest.fixture
def churn(store) -> str:
    from sklearn.linear_model import LogisticRegression

    from nbmlops.registry import register_model, set_alias

    X = frame(800, seed=11).drop(columns=["empty", "signup"])
    y = (X["tenure"] + X["spend"] / 20 > 15).astype(int)
    clf = LogisticRegression().fit(X[["tenure", "spend"]], y)
    register_model(clf, "churn", input_example=X[["tenure", "spend"]].head(), reference_data=X, store=store)
    set_alias("churn", "production", 1, store=store)
    return "churn@production"


def test_history_shows_every_stored_window(store, churn: str) -> None:
    runs = [
        monitor_model(churn, frame(400, shift=s, seed=20 + i).drop(columns=["empty", "signup"]), store=store)
        for i, s in enumerate([0.0, 0.0, 1.0])
    ]
    dash = DriftDashboard.history("churn", store=store)
    ids = [r.result_id for r in runs]
    assert [v for _, v in dash.result_picker.options] == ids[::-1]  # newest first, the newest shown
    assert dash.result_picker.value == ids[2] and dash.result_id == ids[2]
    assert dash.result_picker.layout.display is None  # visible
    assert "Dataset drift: yes" in dash.summary_html.value and "model churn:1" in dash.summary_html.value
    assert dash.selected == "tenure"
    # the chosen column's score in each stored window, drifted ones red, the shown one ringed
    fig = dash.history_figure
    score = fig.data[0]
    assert len(score.x) == 3
    expected = [r.drift.table.set_index("feature").loc["tenure", "score"] for r in runs]
    assert list(score.y) == pytest.approx(expected)
    assert [c == "#d32f2f" for c in score.marker.color] == [False, False, True]
    assert [t.name for t in fig.data] == ["score", "threshold", "shown"]
    assert list(fig.data[1].y) == pytest.approx([0.05] * 3) and list(fig.data[2].y) == pytest.approx(expected[2:])
    assert plotted(dash.history_output)["data"][0]["y"] == pytest.approx(expected)
    assert fig.layout.yaxis.type == "log" and fig.layout.yaxis.title.text.startswith("p-value")  # ks p-values
    share = dash.share_figure.data[0]
    assert list(share.y) == pytest.approx([r.drift.drift_share for r in runs])
    assert len(plotted_all(dash.history_output)) == 2

    dash.feature_picker.value = "plan"  # another column: its own series
    plan = [r.drift.table.set_index("feature").loc["plan", "score"] for r in runs]
    assert list(dash.history_figure.data[0].y) == pytest.approx(plan)

    dash.result_picker.value = ids[0]  # browse back to the first window
    assert dash.result_id == ids[0] and "Dataset drift: no" in dash.summary_html.value
    assert dash.selected == "plan"  # the chosen column stays chosen
    first_flags = runs[0].drift.table.set_index("feature")["drifted"].to_dict()
    assert dash.rows.set_index("feature")["drifted"].to_dict() == first_flags
    assert list(dash.history_figure.data[2].y) == pytest.approx(plan[:1])  # the ring moved to the first window
    first = runs[0].drift.plots["plan"]
    assert list(dash.distribution_figure.data[1].y) == pytest.approx(first["current"])

    older = DriftDashboard.history("churn", result=ids[1], store=store, feature="spend")
    assert older.result_id == ids[1] and older.selected == "spend"
    assert len(DriftDashboard.history("churn", store=store, limit=2).history_figure.data[0].x) == 2


def plotted_all(output) -> list[dict]:
    return [o["data"][PLOTLY_MIME] for o in output.outputs if PLOTLY_MIME in o["data"]]


def test_for_model_monitors_stores_and_shows(store, churn: str, tmp_path: Path) -> None:
    live = tmp_path / "live.parquet"
    frame(500, shift=1.0, seed=31).drop(columns=["empty", "signup"]).to_parquet(live)
    monitor_model(churn, frame(400, seed=30).drop(columns=["empty", "signup"]), store=store)
    dash = DriftDashboard.for_model(churn, current=live, store=store)
    stored = list_results(store, "churn")
    assert len(stored) == 2 and dash.result_id == stored["id"].iloc[0]
    assert dash.result_picker.value == dash.result_id
    assert "model churn:1" in dash.summary_html.value and f"source {live}" in dash.summary_html.value
    assert "prediction drift" in dash.summary_html.value
    features = dash.rows["feature"].tolist()
    assert set(features) == {"tenure", "spend", "plan", "prediction"} and features[0] == "tenure"
    assert len(dash.history_figure.data[0].x) == 2
    assert dash.title_html.value.count("Drift of churn") == 1


def test_history_errors_name_the_model(store, churn: str) -> None:
    from nbmlops.registry import RegistryError

    with pytest.raises(RegistryError, match="no model 'nope'"):
        DriftDashboard.history("nope", store=store)
    with pytest.raises(NbmlopsError, match="no drift results stored for model 'churn'.*for_model"):
        DriftDashboard.history(churn, store=store)
    with pytest.raises(NbmlopsError, match="no model 'nope'"):
        DriftDashboard.for_model("nope@production", current=frame(50), store=store)
    monitor_model(churn, frame(300, seed=40).drop(columns=["empty", "signup"]), store=store)
    with pytest.raises(NbmlopsError, match="no drift result 'drift-x' among the 1 newest stored for model 'churn'"):
        DriftDashboard.history("churn", result="drift-x", store=store)
    with pytest.raises(NbmlopsError, match="named by a string"):
        DriftDashboard.history(3, store=store)
    dash = DriftDashboard.history("churn", store=store)
    with pytest.raises(NbmlopsError, match="no drift result 'drift-x' among those listed"):
        dash.show_result("drift-x")


def test_a_monitor_run_shows_with_its_model(store, churn: str) -> None:
    run = monitor_model(churn, frame(400, shift=1.0, seed=50).drop(columns=["empty", "signup"]), store=store)
    dash = DriftDashboard(run)
    assert "model churn:1" in dash.summary_html.value and f"result {run.result_id}" in dash.summary_html.value
    assert dash.result_picker.layout.display == "none" and dash.history_figure is None
