"""JupyterLab in Debian's headless Chromium: tag a cell through the toolbar, see the Pipeline panel, run it.

A real `jupyter lab` serves a temporary root holding a copy of example_notebooks/churn.ipynb. Screenshots go to
tests/browser/artifacts/. Every wait is on a condition with a deadline, never a fixed sleep.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

CHROMIUM = "/usr/bin/chromium"
REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
    "--disable-dev-shm-usage",
]

sync_api = pytest.importorskip("playwright.sync_api")
pytest.importorskip("jupyterlab")
if not os.path.exists(CHROMIUM):
    pytest.skip("no /usr/bin/chromium (.ci/chromium.sh installs it)", allow_module_level=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(check, timeout: float, what: str, every: float = 0.2):
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(every)  # polling interval of a condition with a deadline


@pytest.fixture(scope="module")
def lab(tmp_path_factory) -> Iterator[dict]:
    labext = subprocess.run([sys.executable, "-m", "jupyter", "labextension", "list"], capture_output=True, text=True)
    if "nbmlops" not in labext.stdout + labext.stderr:
        pytest.skip("the nbmlops lab extension is not installed (pip install -e .)")
    root = tmp_path_factory.mktemp("labroot")
    shutil.copy(REPO / "example_notebooks" / "churn.ipynb", root / "churn.ipynb")
    port, token = free_port(), "nbmlops-browser-test"
    settings = root / ".lab" / "user-settings"
    news = settings / "@jupyterlab" / "apputils-extension" / "notification.jupyterlab-settings"
    news.parent.mkdir(parents=True)
    news.write_text(json.dumps({"fetchNews": "false"}))  # no news toast over the panel's buttons
    env = {
        **os.environ,
        "NBMLOPS_HOME": str(root / ".nbmlops"),
        "JUPYTERLAB_SETTINGS_DIR": str(settings),
        "JUPYTERLAB_WORKSPACES_DIR": str(root / ".lab" / "workspaces"),
    }
    log = open(root.parent / "jupyter-lab.log", "w")  # noqa: SIM115 - closed after the server stops
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "jupyter",
            "lab",
            "--no-browser",
            "--allow-root",
            "--ip=127.0.0.1",
            f"--port={port}",
            f"--IdentityProvider.token={token}",
            f"--ServerApp.root_dir={root}",
            "--LabApp.news_url=None",
            "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
        ],
        cwd=root,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"

    def up() -> bool:
        try:
            with urllib.request.urlopen(f"{url}/api/status?token={token}", timeout=2) as reply:
                return reply.status == 200
        except OSError:
            assert server.poll() is None, (root.parent / "jupyter-lab.log").read_text()[-3000:]
            return False

    try:
        wait_until(up, 60, "jupyter lab to start")
        yield {"url": url, "token": token, "root": root}
    finally:
        server.terminate()
        try:
            server.wait(15)
        except subprocess.TimeoutExpired:
            server.kill()
        log.close()


@pytest.fixture(scope="module")
def page(lab) -> Iterator:
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        context = browser.new_context(viewport={"width": 1500, "height": 950})
        page = context.new_page()
        page.set_default_timeout(60_000)
        page.goto(f"{lab['url']}/lab/tree/churn.ipynb?reset&token={lab['token']}")
        page.locator(".jp-Notebook .jp-Cell").nth(15).wait_for(timeout=180_000)  # a busy CI machine is slow
        try:
            yield page
        finally:
            page.screenshot(path=str(ARTIFACTS / "last.png"))
            browser.close()


def cell_tags(root: Path, index: int) -> list[str] | None:
    try:
        return json.loads((root / "churn.ipynb").read_text())["cells"][index]["metadata"].get("tags", [])
    except ValueError:
        return None  # caught mid-save: read it again


def test_badges_show_steps(page) -> None:
    badges = page.locator(".jp-Notebook .jp-Cell .nbmlops-badge")
    badges.nth(0).wait_for()
    texts = badges.all_inner_texts()
    assert "setup" in texts and "parameters" in texts and "load" in texts and "skip" in texts


def test_tag_a_cell_through_the_toolbar_and_save(page, lab) -> None:
    cell = page.locator(".jp-Notebook .jp-Cell").nth(5)  # `raw.describe(...)`, tagged skip
    cell.locator(".jp-InputPrompt").click()
    # the context menu offers the same command
    cell.locator(".jp-InputArea-editor").click(button="right")
    page.locator(".lm-Menu-itemLabel", has_text="Pipeline step…").wait_for()
    page.keyboard.press("Escape")
    cell.locator(".jp-InputPrompt").click()
    # the button on the active cell's own toolbar (the notebook toolbar has one too: .nbmlops-tag-button)
    cell.locator('.jp-cell-toolbar [data-command="nbmlops:tag-cells"]').click()
    dialog = page.locator(".jp-Dialog")
    dialog.locator("select[name=kind]").select_option("step")
    dialog.locator("input[name=step]").fill("explore")
    dialog.locator("input[name=retries]").fill("1")
    dialog.locator(".jp-Dialog-button.jp-mod-accept").click()
    dialog.wait_for(state="detached")
    page.locator(".jp-Notebook .jp-Cell").nth(5).locator(".nbmlops-badge", has_text="explore").wait_for()
    page.screenshot(path=str(ARTIFACTS / "tagged.png"))
    page.keyboard.press("Control+s")
    wait_until(lambda: cell_tags(lab["root"], 5) == ["step:explore", "retries:1"], 30, "the tags in the saved file")


def open_panel(page):
    panel = page.locator("#nbmlops-pipeline")
    if not panel.is_visible():
        page.locator('.jp-SideBar [data-id="nbmlops-pipeline"]').click()
    panel.wait_for()
    return panel


def show_tab(panel, tab: str) -> None:
    panel.locator(f'.nbmlops-tabs [data-tab="{tab}"]').click()
    panel.locator(f'.nbmlops-tabs [data-tab="{tab}"][aria-selected="true"]').wait_for()


def test_pipeline_panel_shows_dag_and_steps(page) -> None:
    panel = open_panel(page)
    panel.locator("svg.nbmlops-dag").wait_for()
    wait_until(lambda: panel.locator("svg.nbmlops-dag .nbmlops-node").count() == 8, 30, "8 DAG nodes with explore")
    names = panel.locator(".nbmlops-steps li b").all_inner_texts()
    assert names[:3] == ["load", "clean", "explore"] or "explore" in names
    assert panel.locator('.nbmlops-steps li[data-step="clean"] .nbmlops-io').first.inner_text() == "in: raw ← load"
    assert panel.locator(".nbmlops-edge").count() >= 7  # one routed path per edge, with its arrowhead
    # clicking a DAG node selects the step's first cell
    panel.locator('svg.nbmlops-dag .nbmlops-node[data-step="train"]').click()
    active = page.locator(".jp-Notebook .jp-Cell.jp-mod-active .nbmlops-badge")
    wait_until(lambda: active.inner_text() == "train", 10, "the train cell to be active")
    page.screenshot(path=str(ARTIFACTS / "panel.png"))


def test_run_from_the_panel_succeeds(page) -> None:
    panel = page.locator("#nbmlops-pipeline")
    panel.locator('input[name="C"]').fill("0.5")
    panel.locator("button.nbmlops-run").click()
    panel.locator('.nbmlops-job[data-status="succeeded"]').wait_for(timeout=180_000)
    statuses = panel.locator(".nbmlops-job-steps li").evaluate_all("els => els.map(e => e.dataset.status)")
    assert len(statuses) == 8 and set(statuses) <= {"succeeded", "cached"}
    # the DAG's nodes take the run's statuses
    nodes = panel.locator("svg.nbmlops-dag .nbmlops-node")
    seen: list = []
    wait_until(
        lambda: (
            set(seen.append(nodes.evaluate_all("els => els.map(e => e.dataset.status)")) or seen[-1])
            <= {"succeeded", "cached"}
        ),
        30,
        f"the DAG coloured by status (seen {seen[-1:]})",
    )
    page.screenshot(path=str(ARTIFACTS / "run.png"))
    show_tab(panel, "runs")
    panel.locator(".nbmlops-runs tr[data-run]").first.wait_for()
    show_tab(panel, "pipeline")


def test_papermill_run_opens_step_notebook_and_compares(page) -> None:
    panel = page.locator("#nbmlops-pipeline")
    panel.locator("select[name=backend]").select_option("papermill")
    panel.locator('input[name="C"]').fill("0.8")  # train and later steps rerun, the others come from the cache
    panel.locator("button.nbmlops-run").click()
    panel.locator('.nbmlops-job[data-status="running"], .nbmlops-job[data-status="starting"]').first.wait_for()
    panel.locator('.nbmlops-job[data-status="succeeded"]').wait_for(timeout=240_000)
    # a papermill step's executed notebook (in the hidden run folder) opens as a read-only notebook document
    panel.locator('.nbmlops-job-steps li[data-step="train"] button.nbmlops-link').click()
    tab = page.locator(".lm-DockPanel-tabBar .lm-TabBar-tab", has_text="train · run")
    tab.wait_for(timeout=60_000)
    step_nb = page.locator(".jp-NotebookPanel:visible")
    step_nb.locator(".jp-Cell .jp-InputArea-editor", has_text="model.fit").first.wait_for(timeout=60_000)
    assert "nbmlops-runs:" in page.evaluate("() => document.title") or tab.is_visible()
    page.screenshot(path=str(ARTIFACTS / "step-notebook.png"))
    page.locator(".lm-DockPanel-tabBar .lm-TabBar-tab", has_text="churn.ipynb").click()
    show_tab(panel, "runs")
    rows = panel.locator(".nbmlops-runs tr[data-run]")
    wait_until(lambda: rows.count() == 2, 60, "the second run in the runs list", every=0.5)
    rows.nth(0).locator("input[type=checkbox]").check()
    panel.locator(".nbmlops-runs tr[data-run]").nth(1).locator("input[type=checkbox]").check()
    compare = panel.locator("table.nbmlops-compare")
    compare.wait_for()
    differs = compare.locator("tr.nbmlops-differs td:first-child").all_inner_texts()
    assert "params.C" in differs
    compare.scroll_into_view_if_needed()
    page.screenshot(path=str(ARTIFACTS / "compare.png"))
    show_tab(panel, "pipeline")


def test_export_pipeline_json(page, lab) -> None:
    panel = page.locator("#nbmlops-pipeline")
    panel.locator('.nbmlops-export button[data-target="json"]').click()
    panel.locator(".nbmlops-export-result", has_text="churn.pipeline.json").wait_for()
    assert json.loads((lab["root"] / "churn.pipeline.json").read_text())["name"] == "churn"


def test_compiler_error_shows_and_selects_the_cell(page) -> None:
    page.locator(".lm-DockPanel-tabBar .lm-TabBar-tab", has_text="churn.ipynb").click()
    cell = page.locator(".jp-Notebook .jp-Cell").nth(7)  # step clean
    cell.locator(".jp-InputPrompt").click()
    cell.locator('.jp-cell-toolbar [data-command="nbmlops:tag-cells"]').click()
    page.locator('.jp-Dialog input[name="after"]').fill("nope")
    page.locator(".jp-Dialog .jp-Dialog-button.jp-mod-accept").click()
    error = open_panel(page).locator(".nbmlops-error", has_text="no step 'nope'")
    error.wait_for()  # the panel recompiles the unsaved notebook on its own
    page.locator(".jp-Notebook .jp-Cell").nth(0).locator(".jp-InputArea").click()
    error.click()
    active = page.locator(".jp-Notebook .jp-Cell.jp-mod-active .nbmlops-badge")
    wait_until(lambda: active.inner_text() == "clean", 10, "the clean cell to be selected")
    page.screenshot(path=str(ARTIFACTS / "error.png"))
