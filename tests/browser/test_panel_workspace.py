"""The Pipeline panel as a workspace, in a real JupyterLab in Debian's headless Chromium: palette commands, the View
menu and shortcuts; a DAG readable at the side bar's default width with zoom/fit; badges from the compiled result
(magic cells, an empty notebook, a single cell); the tag dialog's current role; run details from the store after
a page reload (the error mapped to its cell and line); sweeps; Stop; a run that outlives a restart of Jupyter;
models (promote with confirmation), feature sets and schedules.

One `jupyter lab` for the module (restarted once, on purpose, by the detached-run test). Screenshots go to
tests/browser/artifacts/panel-*.png. Every wait is on a condition with a deadline.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
import test_lab as base  # same folder: pytest puts it on sys.path

ARTIFACTS = base.ARTIFACTS
wait_until = base.wait_until
TOKEN = "nbmlops-panel-test"
KERNEL = {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}}


def cell(source: str, tags: list[str] | None = None) -> dict:
    return {
        "cell_type": "code",
        "metadata": {"tags": tags} if tags else {},
        "source": source,
        "outputs": [],
        "execution_count": None,
    }


def write_notebook(path: Path, cells: list[dict]) -> None:
    path.write_text(json.dumps({"cells": cells, "metadata": KERNEL, "nbformat": 4, "nbformat_minor": 5}))


class Lab:
    """A `jupyter lab` on a free port over `root`, which can be stopped and started again (same root, store)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.server: subprocess.Popen | None = None
        self.url = ""

    def start(self) -> None:
        port = base.free_port()
        settings = self.root / ".lab" / "user-settings"
        news = settings / "@jupyterlab" / "apputils-extension" / "notification.jupyterlab-settings"
        news.parent.mkdir(parents=True, exist_ok=True)
        news.write_text(json.dumps({"fetchNews": "false"}))
        env = {
            **os.environ,
            "NBMLOPS_HOME": str(self.root / ".nbmlops"),
            "JUPYTERLAB_SETTINGS_DIR": str(settings),
            "JUPYTERLAB_WORKSPACES_DIR": str(self.root / ".lab" / "workspaces"),
        }
        self.log = open(self.root.parent / f"jupyter-lab-{port}.log", "w")  # noqa: SIM115 - closed in stop()
        self.server = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "jupyter",
                "lab",
                "--no-browser",
                "--allow-root",
                "--ip=127.0.0.1",
                f"--port={port}",
                f"--IdentityProvider.token={TOKEN}",
                f"--ServerApp.root_dir={self.root}",
                "--LabApp.news_url=None",
                "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
            ],
            cwd=self.root,
            env=env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        self.url = f"http://127.0.0.1:{port}"

        def up() -> bool:
            try:
                with urllib.request.urlopen(f"{self.url}/api/status?token={TOKEN}", timeout=2) as reply:
                    return reply.status == 200
            except OSError:
                assert self.server.poll() is None, Path(self.log.name).read_text()[-3000:]
                return False

        wait_until(up, 90, "jupyter lab to start")

    def stop(self) -> None:
        if self.server is None:
            return
        self.server.terminate()
        try:
            self.server.wait(20)
        except subprocess.TimeoutExpired:
            self.server.kill()
            self.server.wait(10)
        self.server = None
        self.log.close()

    def api(self, path: str) -> dict:
        with urllib.request.urlopen(
            f"{self.url}/{path}{'&' if '?' in path else '?'}token={TOKEN}", timeout=10
        ) as reply:
            return json.loads(reply.read())


@pytest.fixture(scope="module")
def lab(tmp_path_factory) -> Iterator[Lab]:
    labext = subprocess.run([sys.executable, "-m", "jupyter", "labextension", "list"], capture_output=True, text=True)
    if "nbmlops" not in labext.stdout + labext.stderr:
        pytest.skip("the nbmlops lab extension is not installed (pip install -e .)")
    root = tmp_path_factory.mktemp("panelroot")
    shutil.copy(base.REPO / "example_notebooks" / "churn.ipynb", root / "churn.ipynb")
    write_notebook(
        root / "magic.ipynb",
        [
            cell("x = 1", ["step:load"]),
            cell("%load_ext nbmlops"),
            cell("%pipeline show"),
            cell("y = x + 1", ["step:use"]),
        ],
    )
    write_notebook(root / "empty.ipynb", [cell("")])
    write_notebook(root / "single.ipynb", [cell("x = 1\nprint(x)")])
    write_notebook(root / "roles.ipynb", [cell("a = 1", ["step:train", "retries:2"]), cell("b = a + 1")])
    write_notebook(
        root / "failing.ipynb",
        [
            cell("rows = [1, 2, 3]", ["step:load"]),
            cell("total = sum(rows)\n\nraise ValueError('bad rows')", ["step:check"]),
        ],
    )
    write_notebook(
        root / "slow.ipynb",
        [
            cell("import time", ["setup"]),
            cell("pause = 0.0\nk = 1", ["parameters"]),
            cell("rows = list(range(10))", ["step:load"]),
            cell("time.sleep(pause)\ntotal = sum(rows) * k", ["step:wait"]),
            cell("import nbmlops\nnbmlops.log_metric('total', total)", ["step:report"]),
        ],
    )
    server = Lab(root)
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def browser(lab) -> Iterator:
    ARTIFACTS.mkdir(exist_ok=True)
    with base.sync_api.sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=base.CHROMIUM, headless=True, args=base.CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture(scope="module")
def page(browser, lab) -> Iterator:
    context = browser.new_context(viewport={"width": 1400, "height": 950})
    page = context.new_page()
    page.set_default_timeout(60_000)
    try:
        yield page
    finally:
        page.screenshot(path=str(ARTIFACTS / "panel-last.png"))
        context.close()


def open_notebook(page, lab: Lab, name: str, cells: int = 1) -> None:
    page.goto(f"{lab.url}/lab/tree/{name}?reset&token={TOKEN}")
    page.locator(".jp-Notebook .jp-Cell").nth(cells - 1).wait_for(timeout=180_000)


def panel_of(page):
    panel = page.locator("#nbmlops-pipeline")
    if not panel.is_visible():
        page.locator('.jp-SideBar [data-id="nbmlops-pipeline"]').click()
    panel.wait_for()
    return panel


def show_tab(panel, tab: str) -> None:
    panel.locator(f'.nbmlops-tabs [data-tab="{tab}"]').click()
    panel.locator(f'.nbmlops-tabs [data-tab="{tab}"][aria-selected="true"]').wait_for(timeout=10_000)


def badges(page) -> list[str | None]:
    return page.locator(".jp-Notebook .jp-Cell").evaluate_all(
        "els => els.map(e => { const b = e.querySelector(':scope > .nbmlops-badge'); return b ? b.textContent : null })"
    )


def open_palette(page, text: str):
    """The command palette with `text` typed in, opened by its shortcut (from the notebook) or else the View menu.
    It closes when it loses the focus (JupyterLab still settling after a load takes it now and then): retried."""
    search = page.locator(".lm-CommandPalette-input:visible")
    items = page.locator(".lm-CommandPalette-item:visible")
    for attempt in range(6):
        if attempt % 2 == 0:
            page.locator(".jp-Notebook .jp-Cell").first.locator(".jp-InputPrompt").click()
            page.keyboard.press("Control+Shift+C")
        else:
            page.locator(".lm-MenuBar-itemLabel", has_text="View").click()
            page.locator(".lm-Menu-itemLabel", has_text="Command Palette").click()
        try:
            search.wait_for(timeout=5_000)
            page.keyboard.type(text)  # the palette has the focus when it opens
            wait_until(lambda: items.count() > 0, 5, f"palette items for {text!r}")
            return search
        except (base.sync_api.TimeoutError, AssertionError):
            page.keyboard.press("Escape")
    raise AssertionError("the command palette did not open")


def test_palette_view_menu_and_shortcuts(page, lab: Lab) -> None:
    open_notebook(page, lab, "single.ipynb")
    wait_until(lambda: badges(page) == ["notebook"], 60, "the notebook compiled and badged")
    open_palette(page, "pipeline")
    items = page.locator(".lm-CommandPalette-item:visible .lm-CommandPalette-itemLabel")
    wait_until(lambda: items.count() >= 5, 15, "the Pipeline commands in the palette")
    labels = items.all_inner_texts()
    for wanted in (
        "Pipeline: Show the Pipeline panel",
        "Pipeline: Tag the selected cells as a step…",
        "Pipeline: Run the pipeline",
        "Pipeline: Compile to pipeline.json",
    ):
        assert wanted in labels, labels
    page.keyboard.press("Escape")
    open_palette(page, "Show the Pipeline panel")
    wait_until(lambda: items.count() == 1, 15, "one match for the panel command")
    page.keyboard.press("Enter")
    page.locator("#nbmlops-pipeline").wait_for(timeout=15_000)
    page.screenshot(path=str(ARTIFACTS / "panel-from-palette.png"))
    # the View menu lists the panel
    page.locator(".lm-MenuBar-itemLabel", has_text="View").click()
    page.locator(".lm-Menu-itemLabel", has_text="Pipeline Panel").wait_for(timeout=10_000)
    page.keyboard.press("Escape")
    # the shortcuts are in the settings schema, where the settings editor lets users change them
    schema = lab.api("lab/api/settings/nbmlops:plugin")["schema"]
    keys = {s["command"]: s["keys"] for s in schema["jupyter.lab.shortcuts"]}
    assert keys["nbmlops:open-panel"] == ["Ctrl Alt P"] and "nbmlops:run" in keys and "nbmlops:tag-cells" in keys
    # and they work: collapse the side bar, the shortcut opens the panel again
    page.locator('.jp-SideBar [data-id="nbmlops-pipeline"]').click()
    page.locator("#nbmlops-pipeline").wait_for(state="hidden", timeout=10_000)
    page.locator(".jp-Notebook .jp-Cell").first.locator(".jp-InputPrompt").click()
    page.keyboard.press("Control+Alt+P")
    page.locator("#nbmlops-pipeline").wait_for(timeout=10_000)


def test_badges_come_from_the_compiled_result(page, lab: Lab) -> None:
    # a single untagged cell: the one step "notebook", in the badge and in the panel alike
    panel = panel_of(page)
    panel.locator('.nbmlops-steps li[data-step="notebook"]').wait_for(timeout=30_000)
    wait_until(lambda: badges(page) == ["notebook"], 30, "the single cell badged as step notebook")
    # magic cells after a step are left out by the compiler, and the badges say so
    open_notebook(page, lab, "magic.ipynb", 4)
    panel = panel_of(page)
    wait_until(
        lambda: badges(page) == ["load", "not in pipeline", "not in pipeline", "use"],
        30,
        f"badges of the magic notebook (have {badges(page)})",
    )
    assert panel.locator(".nbmlops-steps li b").all_inner_texts() == ["load", "use"]
    page.screenshot(path=str(ARTIFACTS / "panel-magic-badges.png"))
    # an empty notebook: a neutral hint, no error, no badges
    open_notebook(page, lab, "empty.ipynb")
    panel = panel_of(page)
    panel.locator(".nbmlops-hint", has_text="no code yet").wait_for(timeout=30_000)
    assert panel.locator(".nbmlops-error").count() == 0
    assert badges(page) == [None]


def test_dag_is_layered_and_readable_at_the_default_width(page, lab: Lab) -> None:
    open_notebook(page, lab, "churn.ipynb", 16)
    panel = panel_of(page)
    nodes = panel.locator("svg.nbmlops-dag .nbmlops-node")
    wait_until(lambda: nodes.count() == 7, 30, "7 DAG nodes")
    box = panel.locator(".nbmlops-dag-box")
    width = panel.evaluate("e => e.getBoundingClientRect().width")
    assert 200 <= width <= 420, width  # the side bar's default width
    # every node visible without scrolling, labels at a readable size, layers top to bottom
    assert box.evaluate("e => e.scrollWidth <= e.clientWidth + 1")
    sizes = panel.locator("svg.nbmlops-dag text").evaluate_all("els => els.map(e => e.getBoundingClientRect().height)")
    assert min(sizes) >= 9, sizes
    layer = dict(
        zip(
            nodes.evaluate_all("els => els.map(e => e.dataset.step)"),
            map(int, nodes.evaluate_all("els => els.map(e => e.dataset.layer)")),
            strict=True,
        )
    )
    assert layer["load"] < layer["clean"] < layer["features"] < layer["split"] < layer["train"] < layer["evaluate"]
    rects = nodes.evaluate_all(
        "els => els.map(e => { const r = e.getBoundingClientRect(); return [r.left, r.top, r.right, r.bottom] })"
    )
    for i, a in enumerate(rects):
        for b in rects[i + 1 :]:
            assert a[2] <= b[0] or b[2] <= a[0] or a[3] <= b[1] or b[3] <= a[1], (a, b)
    page.screenshot(path=str(ARTIFACTS / "panel-dag.png"))
    # zoom in: bigger and scrolls; fit: back to the whole graph
    panel.locator('.nbmlops-zoom[data-zoom="+"]').click()
    panel.locator('.nbmlops-zoom[data-zoom="+"]').click()
    wait_until(lambda: box.evaluate("e => e.scrollWidth > e.clientWidth + 1"), 10, "the zoomed DAG to scroll")
    panel.locator('.nbmlops-zoom[data-zoom="fit"]').click()
    wait_until(lambda: box.evaluate("e => e.scrollWidth <= e.clientWidth + 1"), 10, "the DAG fitted again")
    # click a node: its step's first cell is selected
    panel.locator('svg.nbmlops-dag .nbmlops-node[data-step="split"]').click()
    active = page.locator(".jp-Notebook .jp-Cell.jp-mod-active .nbmlops-badge")
    wait_until(lambda: active.inner_text() == "split", 10, "the split cell to be active")


def test_tag_dialog_shows_the_current_role_and_options(page, lab: Lab) -> None:
    open_notebook(page, lab, "roles.ipynb", 2)
    panel_of(page).locator('.nbmlops-steps li[data-step="train"]').wait_for(timeout=30_000)
    wait_until(lambda: badges(page) == ["train · retries:2", "train ⋯"], 30, f"the badges (have {badges(page)})")
    second = page.locator(".jp-Notebook .jp-Cell").nth(1)
    second.locator(".jp-InputPrompt").click()
    second.locator('.jp-cell-toolbar [data-command="nbmlops:tag-cells"]').click()
    dialog = page.locator(".jp-Dialog")
    dialog.locator(".nbmlops-current-role", has_text="continues step train (retries:2)").wait_for(timeout=10_000)
    assert dialog.locator("select[name=kind]").input_value() == "continue"
    assert "retries:2" in dialog.locator(".nbmlops-current-options").inner_text()
    retries = dialog.locator("input[name=retries]")
    assert retries.input_value() == "" and retries.get_attribute("placeholder") == "none, e.g. 2"
    assert retries.evaluate("e => getComputedStyle(e, '::placeholder').fontStyle") == "italic"
    page.screenshot(path=str(ARTIFACTS / "panel-tag-dialog.png"))
    dialog.locator(".jp-Dialog-button:not(.jp-mod-accept)").click()
    dialog.wait_for(state="detached")
    # the step's options show in the panel too
    panel_of(page).locator('.nbmlops-steps li[data-step="train"] .nbmlops-options', has_text="retries:2").wait_for()


def test_failed_run_details_come_back_after_a_reload(page, lab: Lab) -> None:
    open_notebook(page, lab, "failing.ipynb", 2)
    panel = panel_of(page)
    panel.locator("button.nbmlops-run").click()
    panel.locator('.nbmlops-job[data-status="failed"]').wait_for(timeout=180_000)
    page.reload()
    page.locator(".jp-Notebook .jp-Cell").nth(1).wait_for(timeout=180_000)
    panel = panel_of(page)
    # the last run, from the store: its statuses on the DAG and the steps
    panel.locator('.nbmlops-job[data-status="failed"]').wait_for(timeout=30_000)
    panel.locator('svg.nbmlops-dag .nbmlops-node[data-step="check"][data-status="failed"]').wait_for()
    panel.locator('svg.nbmlops-dag .nbmlops-node[data-step="load"][data-status="succeeded"]').wait_for()
    show_tab(panel, "runs")
    panel.locator(".nbmlops-runs tr[data-run]").first.click()
    step = panel.locator('.nbmlops-step[data-step="check"][data-status="failed"]')
    step.wait_for(timeout=15_000)
    traceback = step.locator(".nbmlops-traceback")
    assert traceback.inner_text().startswith("cell 2, line 3")  # JupyterLab's numbering: the second cell
    assert "bad rows" in traceback.inner_text()
    load = panel.locator('.nbmlops-step[data-step="load"]')
    load.locator("summary").click()
    show_tab(panel, "pipeline")  # the panel renders again (as on any news): the step the user opened stays open
    show_tab(panel, "runs")
    load = panel.locator('.nbmlops-step[data-step="load"]')
    assert load.get_attribute("open") is not None and "rows" in load.locator(".nbmlops-outputs").inner_text()
    page.screenshot(path=str(ARTIFACTS / "panel-run-details.png"))
    # the error selects its cell and the failing line in the editor
    traceback.click()
    active = page.locator(".jp-Notebook .jp-Cell.jp-mod-active")
    wait_until(lambda: active.get_attribute("data-nbmlops-error-line") == "3", 10, "the failing cell selected")
    selected = page.evaluate("() => window.getSelection().toString()")
    assert "raise ValueError" in selected or active.locator(".cm-selectionBackground").count() > 0
    page.screenshot(path=str(ARTIFACTS / "panel-error-line.png"))


def test_sweep_then_stop_then_compare_three(page, lab: Lab) -> None:
    open_notebook(page, lab, "slow.ipynb", 5)
    panel = panel_of(page)
    show_tab(panel, "pipeline")
    panel.locator('input[name="k"]').fill("1, 2")
    panel.locator(".nbmlops-sweep-info", has_text="Sweep over k: 2 runs").wait_for(timeout=10_000)
    panel.locator('input[name="objective"]').fill("metrics.total:max")
    panel.locator("button.nbmlops-run", has_text="Run sweep").click()
    panel.locator('.nbmlops-job[data-status="succeeded"]').wait_for(timeout=240_000)
    show_tab(panel, "runs")
    rows = panel.locator(".nbmlops-runs tr[data-run]")
    wait_until(lambda: rows.count() == 3, 30, "the sweep's parent and two children")
    for i in range(3):
        rows.nth(i).locator("input[type=checkbox]").check()
    compare = panel.locator("table.nbmlops-compare")
    compare.wait_for()
    assert compare.locator("tr th").count() == 4  # the key column and three runs
    total = compare.locator('tr[data-key="metrics.total"]')
    assert "+" in total.inner_text() or "-" in total.inner_text()  # a delta against the first run
    page.screenshot(path=str(ARTIFACTS / "panel-compare.png"))
    # filter with the CLI's grammar, and sort by a column
    panel.locator('input[name="filter"]').fill("params.k = 2")
    panel.locator(".nbmlops-filter button", has_text="Filter").click()
    wait_until(lambda: rows.count() == 1, 15, "the one child with k = 2 (the parent ran the first point)")
    panel.locator('input[name="filter"]').fill("")
    panel.locator(".nbmlops-filter button", has_text="Filter").click()
    wait_until(lambda: rows.count() == 3, 15, "every run again")

    # Stop: a long step is interrupted, the step before it stays done
    show_tab(panel, "pipeline")
    panel.locator('input[name="k"]').fill("1")
    panel.locator('input[name="pause"]').fill("120")
    panel.locator("button.nbmlops-run").click()
    panel.locator('svg.nbmlops-dag .nbmlops-node[data-step="wait"][data-status="running"]').wait_for(timeout=120_000)
    page.screenshot(path=str(ARTIFACTS / "panel-running.png"))
    panel.locator("button.nbmlops-stop").click()
    panel.locator('.nbmlops-job[data-status="interrupted"]').wait_for(timeout=150_000)  # CI runs beside the rest
    steps = dict(
        zip(
            panel.locator(".nbmlops-job-steps li").evaluate_all("els => els.map(e => e.dataset.step)"),
            panel.locator(".nbmlops-job-steps li").evaluate_all("els => els.map(e => e.dataset.status)"),
            strict=True,
        )
    )
    assert steps["load"] in ("succeeded", "cached") and steps["wait"] == "interrupted", steps
    page.screenshot(path=str(ARTIFACTS / "panel-stopped.png"))


def test_a_run_outlives_a_restart_of_jupyter(page, lab: Lab) -> None:
    open_notebook(page, lab, "slow.ipynb", 5)
    panel = panel_of(page)
    show_tab(panel, "pipeline")
    panel.locator('input[name="pause"]').fill("30")
    panel.locator("button.nbmlops-run").click()
    panel.locator('svg.nbmlops-dag .nbmlops-node[data-step="wait"][data-status="running"]').wait_for(timeout=120_000)
    jobs = sorted((lab.root / ".nbmlops" / "jobs").iterdir(), key=lambda p: p.stat().st_mtime)
    pid = int((jobs[-1] / "pid").read_text())
    events = [json.loads(line) for line in (jobs[-1] / "events.jsonl").read_text().splitlines()]
    run_id = next(e["run_id"] for e in events if e["event"] == "run")
    lab.stop()
    os.kill(pid, 0)  # the worker is still there with Jupyter gone
    lab.start()
    open_notebook(page, lab, "slow.ipynb", 5)
    panel = panel_of(page)
    # the new server and page pick the run up from the store (still running, or done meanwhile) and follow it
    head = panel.locator(".nbmlops-job .nbmlops-job-head b")
    head.wait_for(timeout=60_000)
    assert head.inner_text() == f"Run {run_id.split('-', 1)[1]}"
    seen = panel.locator(".nbmlops-job").get_attribute("data-status")
    assert seen in ("running", "succeeded"), seen
    page.screenshot(path=str(ARTIFACTS / "panel-after-restart.png"))
    panel.locator('.nbmlops-job[data-status="succeeded"]').wait_for(timeout=120_000)
    panel.locator('svg.nbmlops-dag .nbmlops-node[data-step="wait"][data-status="succeeded"]').wait_for()


def test_models_and_feature_sets_tabs(page, lab: Lab) -> None:
    code = """
import os
import numpy as np, pandas as pd
from sklearn.linear_model import LogisticRegression
import nbmlops
from nbmlops.features import FeatureSet, FeatureStore
home = os.environ["NBMLOPS_HOME"]
X = pd.DataFrame({"a": np.arange(20.0), "b": np.arange(20.0) % 3}); y = (X["a"] > 9).astype(int)
for c in (0.5, 1.0):
    nbmlops.register_model(LogisticRegression(C=c).fit(X, y), "churn", metrics={"auc": 0.7 + c / 10}, home=home)
events = pd.DataFrame({"customer_id": [1, 2, 1], "ts": pd.to_datetime(["2024-01-01", "2024-01-02", "2024-01-03"]),
                       "amount": [10.0, 20.0, 30.0]})
FeatureSet("transactions", entities=["customer_id"], timestamp="ts", features=["amount"]).ingest(
    events, store=FeatureStore(home))
"""
    done = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "NBMLOPS_HOME": str(lab.root / ".nbmlops")},
    )
    assert done.returncode == 0, done.stderr
    open_notebook(page, lab, "single.ipynb")
    panel = panel_of(page)
    show_tab(panel, "models")
    model = panel.locator('.nbmlops-model[data-model="churn"]')
    model.wait_for(timeout=30_000)
    assert model.locator("tr[data-version]").count() == 2
    model.locator('tr[data-version="1"] .nbmlops-promote').click()
    page.locator(".jp-Dialog input[name=alias]").fill("production")
    page.locator(".jp-Dialog .jp-Dialog-button.jp-mod-accept").click()
    confirm = page.locator(".jp-Dialog", has_text="is new: it will point at v1")
    confirm.wait_for(timeout=10_000)
    page.screenshot(path=str(ARTIFACTS / "panel-promote.png"))
    confirm.locator(".jp-Dialog-button.jp-mod-warn").click()
    model.locator('.nbmlops-alias[data-alias="production"]', has_text="v1").wait_for(timeout=30_000)
    # moving it asks again, naming where it moves from; cancel changes nothing
    model.locator('tr[data-version="2"] .nbmlops-promote').click()
    page.locator(".jp-Dialog .jp-Dialog-button.jp-mod-accept").click()
    page.locator(".jp-Dialog", has_text="moves from v1 to v2").wait_for(timeout=10_000)
    page.locator(".jp-Dialog .jp-Dialog-button:not(.jp-mod-warn)").click()
    page.locator(".jp-Dialog").wait_for(state="detached", timeout=10_000)
    assert model.locator('.nbmlops-alias[data-alias="production"]').inner_text().endswith("v1")
    show_tab(panel, "features")
    fs = panel.locator('.nbmlops-featureset[data-set="transactions"]')
    fs.wait_for(timeout=30_000)
    assert "3 rows" in fs.inner_text() and fs.locator('tr[data-feature="amount"]').count() == 1
    page.screenshot(path=str(ARTIFACTS / "panel-features.png"))


def test_schedules_tab_adds_pauses_and_removes(page, lab: Lab) -> None:
    open_notebook(page, lab, "slow.ipynb", 5)
    panel = panel_of(page)
    show_tab(panel, "schedules")
    form = panel.locator(".nbmlops-schedule-form")
    form.wait_for(timeout=30_000)
    form.locator('input[name="cron"]').fill("not a cron")
    form.locator(".nbmlops-add-schedule").click()
    panel.locator(".nbmlops-form-error", has_text="cron").wait_for(timeout=15_000)
    form = panel.locator(".nbmlops-schedule-form")
    form.locator('input[name="cron"]').fill("0 3 * * *")
    form.locator('input[name="timezone"]').fill("Europe/Berlin")
    form.locator('input[name="name"]').fill("nightly")
    form.locator(".nbmlops-add-schedule").click()
    schedule = panel.locator('.nbmlops-schedule[data-schedule="nightly"]')
    schedule.wait_for(timeout=15_000)
    assert "0 3 * * *" in schedule.inner_text() and "Europe/Berlin" in schedule.inner_text()
    assert "—" not in schedule.locator(".nbmlops-next").inner_text()  # the next occurrence, computed
    page.screenshot(path=str(ARTIFACTS / "panel-schedules.png"))
    schedule.locator(".nbmlops-pause").click()
    panel.locator('.nbmlops-schedule[data-schedule="nightly"][data-paused="true"]').wait_for(timeout=15_000)
    panel.locator('.nbmlops-schedule[data-schedule="nightly"] .nbmlops-remove').click()
    page.locator(".jp-Dialog .jp-Dialog-button.jp-mod-warn").click()
    panel.locator('.nbmlops-schedule[data-schedule="nightly"]').wait_for(state="detached", timeout=15_000)
