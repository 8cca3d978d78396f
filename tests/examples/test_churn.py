"""The example notebook is a real notebook: run top to bottom in a real kernel it gives the same results as
the pipeline does."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import nbformat
from nbclient import NotebookClient

from nbmlops.pipeline import compile_notebook
from nbmlops.runners import run_pipeline

EXAMPLE = Path(__file__).resolve().parents[2] / "example_notebooks" / "churn.ipynb"


def test_pipeline_gives_the_metrics_of_a_top_to_bottom_kernel_run(tmp_path: Path, home: Path) -> None:
    kernel_dir = tmp_path / "kernel"
    kernel_dir.mkdir()
    notebook = nbformat.read(EXAMPLE, as_version=4)
    NotebookClient(
        notebook, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(kernel_dir)}}
    ).execute()
    in_kernel = json.loads((kernel_dir / "churn_metrics.json").read_text())

    pipeline_dir = tmp_path / "pipeline"
    pipeline_dir.mkdir()
    shutil.copy(EXAMPLE, pipeline_dir / "churn.ipynb")
    result = run_pipeline(compile_notebook(pipeline_dir / "churn.ipynb"), home=home)
    assert result.status == "succeeded"
    assert json.loads((pipeline_dir / "churn_metrics.json").read_text()) == in_kernel
