"""The DriftDashboard widget in a real JupyterLab notebook (Debian's headless Chromium): it renders, its table lists
the drifted columns first, plotly draws the distribution offline, and choosing a column in the dropdown redraws it.

Reuses test_lab's `jupyter lab` fixture (a separate server for this module). Screenshot: artifacts/drift-widget.png.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import test_lab as base  # same folder: pytest puts it on sys.path

lab = base.lab  # the module-scoped `jupyter lab` server fixture

CELL = """\
import numpy as np, pandas as pd
from nbmlops.monitoring import detect_drift
from nbmlops.widgets import DriftDashboard
rng = np.random.default_rng(0)
ref = pd.DataFrame({"tenure": rng.normal(12, 4, 600), "spend": rng.gamma(2.0, 30, 600),
                    "plan": rng.choice(["basic", "pro", "team"], 600, p=[0.6, 0.3, 0.1])})
cur = pd.DataFrame({"tenure": rng.normal(20, 4, 500), "spend": rng.gamma(2.0, 30, 500),
                    "plan": rng.choice(["basic", "pro", "team"], 500, p=[0.3, 0.5, 0.2])})
DriftDashboard(detect_drift(ref, cur))
"""


@pytest.fixture(scope="module")
def notebook_page(lab) -> Iterator:
    import nbformat

    nbformat.write(
        nbformat.v4.new_notebook(
            cells=[nbformat.v4.new_code_cell(CELL)],
            metadata={"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}},
        ),
        lab["root"] / "drift.ipynb",
    )
    base.ARTIFACTS.mkdir(exist_ok=True)
    with base.sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=base.CHROMIUM, headless=True, args=base.CHROMIUM_ARGS)
        page = browser.new_context(viewport={"width": 1400, "height": 1100}).new_page()
        page.set_default_timeout(60_000)
        page.goto(f"{lab['url']}/lab/tree/drift.ipynb?reset&token={lab['token']}")
        try:
            yield page
        finally:
            page.screenshot(path=str(base.ARTIFACTS / "drift-widget.png"))
            browser.close()


def test_drift_dashboard_renders_and_follows_the_dropdown(notebook_page) -> None:
    page = notebook_page
    page.locator(".jp-Notebook .jp-Cell .jp-InputArea-editor").first.wait_for(timeout=120_000)
    # the kernel connected (the toolbar's indicator reads idle already before the kernel starts)
    base.wait_until(lambda: "| Idle" in page.locator("#jp-main-statusbar").inner_text(), 120, "the kernel")
    page.locator(".jp-Notebook .jp-Cell").first.locator(".jp-InputPrompt").click()
    page.keyboard.press("Shift+Enter")
    dash = page.locator(".nbmlops-drift-dashboard")
    dash.wait_for(timeout=120_000)
    rows = dash.locator("table.nbmlops-drift-table tr[data-feature]")
    rows.first.wait_for()
    order = rows.evaluate_all("els => els.map(e => e.dataset.feature)")
    assert order[0] == "tenure" and set(order) == {"tenure", "spend", "plan"} and order[-1] == "spend"
    assert "Dataset drift: yes" in dash.locator(".nbmlops-drift-verdict").inner_text()
    # plotly's own renderer (bundled with plotly, no CDN) draws the distribution inside the Output widget
    title = dash.locator(".js-plotly-plot .gtitle").first
    title.wait_for()
    assert title.text_content().startswith("tenure: drift")
    dash.locator(".nbmlops-drift-feature select").select_option(label="spend")
    base.wait_until(
        lambda: dash.locator(".js-plotly-plot .gtitle").first.text_content().startswith("spend: no drift"),
        30,
        "the spend distribution",
    )
    selected = dash.locator("table.nbmlops-drift-table tr.selected").get_attribute("data-feature")
    assert selected == "spend"
