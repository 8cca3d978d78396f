"""`%nbmlops runs|models|features|drift|pipeline` (nbmlops.kernel.widget_magics) as `%load_ext nbmlops` wires it,
in a real IPython shell: which widget each command builds, for which notebook, and the usage errors."""

from __future__ import annotations

from pathlib import Path

import pytest
from IPython.testing.globalipapp import start_ipython

from nbmlops.pipeline import compile_notebook
from nbmlops.runners import run_pipeline
from nbmlops.store import open_store
from nbmlops.widgets import Deferred, FeatureBrowser, ModelRegistry, PipelineView, RunsBrowser


@pytest.fixture(scope="module")
def shell():
    ip = start_ipython()
    ip.run_line_magic("load_ext", "nbmlops")
    return ip


def test_each_command_builds_its_widget_for_this_notebook(
    shell, home: Path, make_notebook, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    notebook = make_notebook([("x = 1", ["step:a"])], name="mine.ipynb")
    other = make_notebook([("y = 2", ["step:b"])], name="other.ipynb")
    mine = run_pipeline(compile_notebook(notebook), home=home)
    run_pipeline(compile_notebook(other), home=home)
    open_store(home).finish_run(open_store(home).create_run(name="loose"))
    monkeypatch.setenv("JPY_SESSION_NAME", str(notebook))
    runs = shell.run_line_magic("nbmlops", "runs")
    assert isinstance(runs, RunsBrowser) and runs.pipeline == "mine" and [r.id for r in runs.page.runs] == [mine.run_id]
    assert shell.run_line_magic("nbmlops", "runs --all").page.total == 3
    filtered = shell.run_line_magic("nbmlops", 'runs --all --filter "status = succeeded" --order-by name')
    assert filtered.filter_text.value == "status = succeeded" and filtered.order_by[0] == "name"
    assert shell.run_line_magic("nbmlops", f"runs --notebook {other}").pipeline == "other"
    view = shell.run_line_magic("nbmlops", "pipeline")
    assert isinstance(view, PipelineView) and view.spec.name == "mine" and view.run.id == mine.run_id
    assert isinstance(shell.run_line_magic("nbmlops", "models"), ModelRegistry)
    assert isinstance(shell.run_line_magic("nbmlops", "features"), FeatureBrowser)
    drift = shell.run_line_magic("nbmlops", "drift churn")
    assert isinstance(drift, Deferred) and drift.message.startswith("no model 'churn' in the registry")
    monkeypatch.delenv("JPY_SESSION_NAME")
    assert shell.run_line_magic("nbmlops", "runs").pipeline is None  # no notebook to say: every run

    capsys.readouterr()
    for line, message in (
        ("", "needs a command"),
        ("bogus", "invalid choice: 'bogus'"),
        ("drift", "the following arguments are required: uri"),
        ('runs --filter "unclosed', "can't parse"),
        ("pipeline --notebook nope.ipynb", "--notebook nope.ipynb: no such file"),
    ):
        assert shell.run_line_magic("nbmlops", line) is None
        assert message in capsys.readouterr().err, line
