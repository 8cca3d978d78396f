"""RunsBrowser on real stores (SQLite and PostgreSQL): paged, sorted and filtered in the database; one run's detail
(steps with why they ran, params, metric curves, artifacts, executed step notebooks); several compared with
differences marked and curves overlaid; a sweep's parallel coordinates with the best child; the messages a user
sees for an empty store, a filter that does not parse and a database that cannot be reached."""

from __future__ import annotations

import html
import json
import socket
import time
from pathlib import Path

import pytest

from nbmlops.pipeline import compile_notebook
from nbmlops.runners import run_pipeline, sweep_pipeline
from nbmlops.store import open_store
from nbmlops.tracking.queries import metric_histories, search_runs
from nbmlops.widgets import RunsBrowser
from nbmlops.widgets._render import PLOTLY_MIME

N_RUNS = 120
CS = [0.1, 1.0, 10.0]


def fill(store, n: int = N_RUNS) -> list[dict]:
    """n runs, oldest first: params C (3 values) and depth, metric auc with a 4-point curve, one artifact each."""
    t0 = time.time() - 10_000
    made = []
    for i in range(n):
        params = {"C": CS[i % 3], "depth": i % 5, "name": f"m{i % 2}"}
        run_id = store.create_run(
            run_id=f"r{i:04d}", pipeline="churn" if i % 4 else "other", params=params, started_at=t0 + i
        )
        curve = [0.5 + i / 1000 + k / 100 for k in range(4)]
        for step, value in enumerate(curve):
            store.log_metric(run_id, "auc", value, step=step)
        store.log_metric(run_id, "loss", 1 - curve[-1])
        store.finish_run(run_id, "failed" if i % 10 == 0 else "succeeded", ended_at=t0 + i + 1 + i % 7)
        made.append(
            {
                "id": run_id,
                **params,
                "auc": curve[-1],
                "curve": curve,
                "pipeline": "churn" if i % 4 else "other",
                "duration": 1 + i % 7,
            }
        )
    return made


def ids(browser: RunsBrowser) -> list[str]:
    return [r.id for r in browser.page.runs]


def plotted(output) -> dict:
    (item,) = [o for o in output.outputs if PLOTLY_MIME in o["data"]][:1]
    return item["data"][PLOTLY_MIME]


def test_pages_sorts_and_filters_in_the_database(store) -> None:
    runs = fill(store)
    newest = [r["id"] for r in reversed(runs)]
    browser = RunsBrowser(store=store, page_size=50)
    assert browser.message is None
    assert browser.page.total == N_RUNS and ids(browser) == newest[:50]
    assert "runs 1–50 of 120" in browser.page_label.value and browser.prev_button.disabled
    assert browser.page.param_keys == ["C", "depth", "name"] and browser.page.metric_keys == ["auc", "loss"]
    table = browser.table_html.value
    assert table.count("<tr data-run=") == 50 and "<th>params.C</th>" in table and "<th>metrics.auc</th>" in table
    browser.next_page()
    assert ids(browser) == newest[50:100] and not browser.prev_button.disabled
    browser.next_page()
    assert ids(browser) == newest[100:] and browser.next_button.disabled
    browser.next_page()  # past the end: stays
    assert ids(browser) == newest[100:]
    browser.prev_page()
    assert ids(browser) == newest[50:100]

    # the `runs ls --filter` grammar, in the database; a new filter starts again at the first page
    browser.set_filter("params.C = 1.0 and metrics.auc > 0.55")
    expected = [r["id"] for r in reversed(runs) if r["C"] == 1.0 and r["auc"] > 0.55]
    assert browser.page.offset == 0 and browser.page.total == len(expected) and ids(browser) == expected[:50]
    browser.sort("metrics.auc", descending=False)
    assert ids(browser) == sorted(expected, key=lambda i: runs[int(i[1:])]["auc"])[:50]
    assert browser.rows["metrics.auc"].is_monotonic_increasing
    browser.set_filter("")
    browser.sort("params.depth", descending=True)
    by_depth = sorted(reversed(runs), key=lambda r: -r["depth"])  # stable: newest first within a depth
    assert ids(browser) == [r["id"] for r in by_depth[:50]]
    browser.sort("duration", descending=True)
    assert browser.rows["duration"].is_monotonic_decreasing
    assert RunsBrowser(store=store, pipeline="other").page.total == N_RUNS // 4
    started = RunsBrowser(store=store, filter="status = failed", order_by="-metrics.auc")
    assert ids(started) == [r["id"] for r in sorted(runs, key=lambda r: -r["auc"]) if int(r["id"][1:]) % 10 == 0]


def test_a_bad_filter_is_a_message_and_keeps_the_page(store) -> None:
    fill(store, 12)
    browser = RunsBrowser(store=store)
    before = ids(browser)
    browser.set_filter("metrics.auc >")
    assert "no value after" in browser.filter_message.value and ids(browser) == before
    assert browser.body.layout.display is None  # the filter box stays, to fix it
    browser.set_filter("params.C = 1 or params.C = 10; drop table runs")  # the grammar refuses it whole
    assert "filter" in browser.filter_message.value and ids(browser) == before
    browser.set_filter("nosuch.field > 1")
    assert "unknown run field 'nosuch.field'" in html.unescape(browser.filter_message.value)
    browser.set_filter("metrics.auc > 99")
    assert browser.page.total == 0 and "no run matches the filter 'metrics.auc > 99'" in browser.message
    assert store.list_runs(limit=100, check_stale=False) and len(store.list_runs(limit=100)) == 12  # nothing changed


def test_compare_marks_differences_and_overlays_curves(store) -> None:
    runs = fill(store, 60)
    browser = RunsBrowser(store=store)
    chosen = ["r0029", "r0026", "r0028"]  # C 10.0, 10.0 and 1.0; depth 4, 1, 3; name m1, m0, m0
    browser.select(*chosen)
    table = browser.comparison.set_index("field")
    assert list(table.columns) == [*chosen, "differs"]
    assert table.loc["params.C", "differs"] and table.loc["params.depth", "differs"]
    assert table.loc["params.name", "differs"] and not table.loc["status", "differs"]
    assert table.loc["params.C", "r0026"] == 10.0 and table.loc["metrics.auc", "r0028"] == runs[28]["auc"]
    shown = browser.detail_html.value
    assert 'data-field="params.C" class="differs"' in shown and 'data-field="status" class=""' in shown
    assert browser.metric_picker.value == "auc"  # the metric with curves
    figure = plotted(browser.curves_output)
    assert [t["name"] for t in figure["data"]] == chosen
    for trace, run_id in zip(figure["data"], chosen, strict=True):
        assert trace["y"] == pytest.approx(runs[int(run_id[1:])]["curve"]) and list(trace["x"]) == [0, 1, 2, 3]
    browser.metric_picker.value = "loss"
    assert [len(t["y"]) for t in plotted(browser.curves_output)["data"]] == [1, 1, 1]
    # 50 runs, ten of them older than the page (read from the store): one query for every curve
    fifty = [f"r{i:04d}" for i in range(50)]
    browser.select(*fifty)
    assert list(browser.comparison.columns)[1:-1] == fifty and len(plotted(browser.curves_output)["data"]) == 50
    assert browser.comparison.set_index("field").loc["metrics.auc", "r0003"] == runs[3]["auc"]


def test_search_runs_and_histories_are_public_queries(store) -> None:
    runs = fill(store, 20)
    page = search_runs(store, filter=["params.depth >= 3"], order_by=["-metrics.auc"], offset=2, limit=3)
    expected = [r["id"] for r in sorted(runs, key=lambda r: -r["auc"]) if r["depth"] >= 3]
    assert page.total == len(expected) and [r.id for r in page.runs] == expected[2:5]
    assert page.runs[0].params["depth"] >= 3 and page.runs[0].metrics["auc"] == runs[int(expected[2][1:])]["auc"]
    curves = metric_histories(store, ["r0001", "r0002"], keys=["auc"])
    assert [p.value for p in curves["r0001"]["auc"]] == pytest.approx(runs[1]["curve"])
    assert "loss" not in curves["r0002"]
    from nbmlops.store import QueryError

    with pytest.raises(QueryError, match="a page holds 1 to 1000 runs"):
        search_runs(store, limit=0)


CELLS = [
    ("import nbmlops", ["setup"]),
    ("C = 1.0\ndepth = 2", ["parameters"]),
    ("data = list(range(10))", ["step:prepare"]),
    (
        "score = -abs(C - 1.5) - depth / 100\nnbmlops.log_metric('score', score)\n"
        "for i in range(3):\n    nbmlops.log_metric('loss', 1 / (i + 1 + C), step=i)\n"
        "open('model.txt', 'w').write(str(score))\nnbmlops.log_artifact('model.txt')",
        ["step:train"],
    ),
    ("summary = round(score, 3)", ["step:report"]),
]


@pytest.fixture
def project(db_url: str, home: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Pipeline runs land in the database under test (NBMLOPS_DB_URL), as they would for a team."""
    monkeypatch.setenv("NBMLOPS_DB_URL", db_url)
    return home


def test_run_detail_steps_curves_artifacts_and_notebooks(project: Path, make_notebook, db_url: str) -> None:
    spec = compile_notebook(make_notebook(CELLS))
    first = run_pipeline(spec, {"C": 0.5}, home=project)
    again = run_pipeline(spec, {"C": 0.7}, home=project)  # prepare cached, train and report rerun
    paper = run_pipeline(spec, {"C": 0.9}, home=project, backend="papermill", use_cache=False)
    browser = RunsBrowser(home=project)
    assert ids(browser) == [paper.run_id, again.run_id, first.run_id]

    browser.select(again.run_id)
    detail = browser.detail
    steps = {s["name"]: s for s in detail["steps"]}
    assert steps["prepare"]["cached"] and steps["prepare"]["why"] == f"cached: from run {first.run_id}"
    assert not steps["train"]["cached"] and steps["train"]["why"] == "parameter C 0.5 → 0.7"
    assert [p.value for p in detail["curves"]["loss"]] == pytest.approx([1 / (i + 1.7) for i in range(3)])
    assert [a.name for a in detail["artifacts"]] == ["model.txt"]
    shown = html.unescape(browser.detail_html.value)
    assert "parameter C 0.5 → 0.7" in shown and "model.txt" in shown and "<h4>steps</h4>" in shown
    curves = plotted(browser.curves_output)
    assert {t["name"] for t in curves["data"]} == {"loss", "score"}

    browser.select(paper.run_id)  # papermill keeps each executed step notebook: a link JupyterLab opens
    link = {s["name"]: s["notebook"] for s in browser.detail["steps"]}["train"]
    assert link and (Path.cwd() / link).is_file() and json.loads((Path.cwd() / link).read_text())["cells"]
    assert f'href="{link}"' in browser.detail_html.value
    # and in place: the step's cells with what they showed (the run folder is hidden from JupyterLab's contents)
    assert browser.notebook_picker.layout.display is None
    browser.show_step_notebook("train")
    shown = browser.notebook_output.outputs
    sources = [o["data"]["text/html"] for o in shown if "nbmlops-runs-source" in o["data"].get("text/html", "")]
    assert any("nbmlops.log_metric(&#x27;score&#x27;, score)" in text for text in sources)
    with pytest.raises(Exception, match="no executed notebook of step 'nope'"):
        browser.show_step_notebook("nope")
    browser.select(first.run_id)  # another run: the shown notebook goes with the selection
    assert browser.notebook_output.outputs == () and browser.notebook_picker.value == ""


def test_sweep_parallel_coordinates_mark_the_best_child(project: Path, make_notebook) -> None:
    spec = compile_notebook(make_notebook(CELLS))
    result = sweep_pipeline(spec, ["C=0.5,1.5,2", "depth=3,5"], objective="metrics.score:max", home=project)
    browser = RunsBrowser(home=project, filter="kind = pipeline")
    browser.select(result.parent.run_id)
    best = result.best.run_id
    assert browser.detail["best_child"] == best and len(browser.detail["children"]) == 6
    figure = plotted(browser.sweep_output)["data"][0]
    assert figure["type"] == "parcoords"
    labels = [d["label"] for d in figure["dimensions"]]
    assert labels == ["C", "depth", "score (max)"]
    children = browser.detail["children"]
    marked = [c.id for c, flag in zip(children, figure["line"]["color"], strict=True) if flag == 1]
    assert marked == [best]
    scores = figure["dimensions"][2]["values"]
    assert scores[[c.id for c in children].index(best)] == max(scores)  # the objective is max
    assert sorted(figure["dimensions"][0]["values"]) == [0.5, 0.5, 1.5, 1.5, 2.0, 2.0]
    assert f'<span class="nbmlops-runs-best">{best}</span>' in browser.detail_html.value


def test_empty_store_and_unknown_pipeline_are_messages(store) -> None:
    browser = RunsBrowser(store=store)
    assert "no runs in this project yet" in browser.message and browser.page.total == 0
    assert "no runs of pipeline 'nope'" in RunsBrowser(store=store, pipeline="nope").message
    fill(store, 3)
    browser.refresh_button.click()
    assert browser.message is None and browser.page.total == 3


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_unreachable_postgresql_is_a_message_and_refresh_reads_again(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NBMLOPS_DB_URL", f"postgresql+psycopg://nbmlops:nbmlops@127.0.0.1:{free_port()}/nowhere")
    browser = RunsBrowser(home=home)
    assert browser.message.startswith("the database could not be read") and browser.body.layout.display == "none"
    bundle = browser._repr_mimebundle_()
    assert "could not be read" in bundle["text/html"] and "Traceback" not in bundle["text/html"]
    monkeypatch.delenv("NBMLOPS_DB_URL")
    local = open_store(home)
    local.finish_run(local.create_run(name="ok"))
    browser.refresh_button.click()
    assert browser.message is None and browser.page.total == 1 and browser.body.layout.display is None
