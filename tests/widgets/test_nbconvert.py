"""The widgets through `%nbmlops` in a real kernel under `jupyter nbconvert --execute`: every widget renders, its
state is saved in the notebook (widget views and the widget-state metadata), each output carries static HTML for
where widgets don't render, and an unknown name is a message in the widget, never a traceback."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import nbformat
import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression

from nbmlops.features import FeatureSet, FeatureStore
from nbmlops.monitoring import monitor_model
from nbmlops.pipeline import compile_notebook
from nbmlops.registry import register_model
from nbmlops.runners import run_pipeline
from nbmlops.store import open_store

WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
WIDGET_STATE = "application/vnd.jupyter.widget-state+json"


def fill_project(home: Path, make_notebook) -> Path:
    pipeline = make_notebook(
        [("n = 3", ["parameters"]), ("data = list(range(n))", ["step:prepare"]), ("total = sum(data)", ["step:train"])],
        name="pipe.ipynb",
    )
    run_pipeline(compile_notebook(pipeline), home=home)
    store = open_store(home)
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"tenure": rng.normal(12, 4, 200), "spend": rng.gamma(2.0, 30, 200)})
    register_model(
        LogisticRegression().fit(frame, frame["tenure"] > 12),
        "churn",
        reference_data=frame,
        aliases=["production"],
        store=store,
        metrics={"auc": 0.8},
    )
    monitor_model("churn@production", frame.assign(tenure=frame["tenure"] + 8), store=store)
    features = FeatureStore(home)
    FeatureSet("tx", entities=["customer_id"], timestamp="ts").ingest(
        pd.DataFrame({"customer_id": [1, 2], "ts": pd.to_datetime(["2024-01-01", "2024-01-02"]), "amount": [1.0, 2.0]}),
        store=features,
    )
    features.close()
    return pipeline


def test_magics_render_save_state_and_leave_static_html(home: Path, make_notebook, tmp_path: Path) -> None:
    pipeline = fill_project(home, make_notebook)
    cells = [
        "%load_ext nbmlops",
        "%nbmlops runs --all",
        "%nbmlops models churn",
        "%nbmlops features",
        "%nbmlops drift churn",
        f"%nbmlops pipeline --notebook {pipeline.name}",
        "%nbmlops models nope",
        "%nbmlops drift nope",
        "%nbmlops bogus",
        "%nbmlops runs",
        "%nbmlops pipeline",
    ]
    notebook = nbformat.v4.new_notebook(
        cells=[nbformat.v4.new_code_cell(c) for c in cells],
        metadata={"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}},
    )
    source = tmp_path / "browse.ipynb"
    nbformat.write(notebook, source)
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "jupyter",
            "nbconvert",
            "--to",
            "notebook",
            "--execute",
            "--ExecutePreprocessor.timeout=300",
            "--output",
            "browsed.ipynb",
            str(source),
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=600,
        # the kernel "belongs to" pipe.ipynb, as JupyterLab would say: %nbmlops runs/pipeline use it
        env={**os.environ, "NBMLOPS_HOME": str(home), "JPY_SESSION_NAME": str(pipeline)},
    )
    assert done.returncode == 0, done.stderr[-3000:]
    executed = json.loads((tmp_path / "browsed.ipynb").read_text())
    outputs = [cell.get("outputs", []) for cell in executed["cells"]]
    for i, cell_outputs in enumerate(outputs):
        assert not [o for o in cell_outputs if o["output_type"] == "error"], (cells[i], cell_outputs)
        assert "Traceback" not in json.dumps(cell_outputs), cells[i]
    expected = {
        1: ("nbmlops-w-table", "succeeded"),
        2: ("churn", "@production"),
        3: ("tx", "customer_id"),
        4: ("Dataset drift: yes", "tenure"),
        5: ("nbmlops-pipeline-dag", "prepare"),
        6: ("no model &#x27;nope&#x27;", "churn"),
        7: ("no model &#x27;nope&#x27;", "churn"),
        9: ("Runs of pipe", "succeeded"),
        10: ("nbmlops-pipeline-dag", "train"),
    }
    state = executed["metadata"]["widgets"][WIDGET_STATE]["state"]
    for index, needles in expected.items():
        (shown,) = [o for o in outputs[index] if o["output_type"] == "execute_result"]
        data = shown["data"]
        assert data[WIDGET_VIEW]["model_id"] in state, cells[index]  # the widget's state is in the notebook
        static = "".join(data["text/html"])  # nbformat keeps multi-line text as a list of lines
        for needle in needles:
            assert needle in static, (cells[index], needle)
    assert "invalid choice: 'bogus'" in json.dumps(outputs[8])  # the magic's own usage error, on stderr
