"""The local backend: run folders, marshalling by type, failures that name the cell, resume, retries."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import pytest

from nbmlops.errors import ParameterError, StepFailed
from nbmlops.pipeline import compile_notebook
from nbmlops.runners import RunDir, load_value, run_pipeline

EXAMPLE = Path(__file__).resolve().parents[2] / "example_notebooks" / "churn.ipynb"


@pytest.fixture
def churn(tmp_path: Path) -> Path:
    target = tmp_path / "churn.ipynb"
    shutil.copy(EXAMPLE, target)
    return target


def test_example_runs_end_to_end_with_outputs_logs_and_status(churn: Path, home: Path) -> None:
    before = hashlib.sha256(churn.read_bytes()).hexdigest()
    result = run_pipeline(compile_notebook(churn), ["C=0.5"], home=home)
    assert result.status == "succeeded"
    assert result.run_dir == home / "runs" / result.run_id
    record = json.loads((result.run_dir / "run.json").read_text())
    assert record["status"] == "succeeded" and record["params"]["C"] == 0.5
    assert set(record["steps"]) == {"load", "clean", "features", "split", "train", "evaluate", "save_metrics"}
    assert all(status == "succeeded" for status in record["steps"].values())
    run = RunDir(result.run_dir)
    formats = {name: s.format for step in record["steps"] for name, s in run.stored_outputs(step).items()}
    assert formats["raw"] == "parquet" and formats["X_train"] == "parquet"
    assert formats["model"] == "joblib" and formats["metrics"] == "json" and formats["numeric"] == "json"
    assert "loaded 4025 rows" in (run.step_dir("load") / "stdout.txt").read_text()
    for step in record["steps"]:
        status = run.read_status(step)
        assert status["status"] == "succeeded" and status["duration"] >= 0
        for stored in run.stored_outputs(step).values():
            data = (run.outputs_dir(step) / stored.file).read_bytes()
            assert hashlib.sha256(data).hexdigest() == stored.sha256
    metrics = json.loads((churn.parent / "churn_metrics.json").read_text())
    assert metrics["C"] == 0.5 and 0.6 < metrics["roc_auc"] <= 1.0
    model = load_value(run.stored_outputs("train")["model"], run.outputs_dir("train"))
    assert model.named_steps["classifier"].C == 0.5
    assert hashlib.sha256(churn.read_bytes()).hexdigest() == before, "the source notebook must never change"


def test_values_are_marshalled_by_type(make_notebook, home: Path) -> None:
    nb = make_notebook(
        [
            ("import numpy as np\nimport pandas as pd\nfrom sklearn.linear_model import LinearRegression", ["setup"]),
            (
                "frame = pd.DataFrame({'a': [1, 2]})\narr = np.arange(3)\nest = LinearRegression()\n"
                "cfg = {'k': [1, 2.5, None]}\ntags = {'x', 'y'}\npair = (1, 2)\nratio = float('nan')\n"
                "def double(v):\n    return v * 2\nimport os.path as osp\n",
                ["step:make"],
            ),
            (
                "print(frame.a.sum(), arr.sum(), type(est).__name__, cfg, sorted(tags), pair, ratio != ratio,\n"
                "      double(4), osp.sep)",
                ["step:use"],
            ),
        ]
    )
    result = run_pipeline(compile_notebook(nb), home=home)
    stored = RunDir(result.run_dir).stored_outputs("make")
    assert {n: s.format for n, s in stored.items()} == {
        "frame": "parquet",
        "arr": "npy",
        "est": "joblib",
        "cfg": "json",
        "tags": "pickle",
        "pair": "pickle",
        "ratio": "pickle",
        "double": "pickle",
        "osp": "module",
    }
    printed = (result.run_dir / "steps" / "use" / "stdout.txt").read_text()
    assert printed == "3 3 LinearRegression {'k': [1, 2.5, None]} ['x', 'y'] (1, 2) True 8 /\n"


def test_failing_step_names_cell_and_line_keeps_outputs_and_resumes(make_notebook, home: Path) -> None:
    cells = [
        ("scale = 2", ["parameters"]),
        ("base = [1, 2, 3]\nprint('loaded')", ["step:load"]),
        ("total = sum(base) * scale\nboom = 1 / 0\n", ["step:compute"]),
        ("print('total', total)", ["step:report"]),
    ]
    nb = make_notebook(cells)
    with pytest.raises(StepFailed) as info:
        run_pipeline(compile_notebook(nb), home=home)
    failure = info.value
    assert failure.step == "compute" and failure.cell == 2 and failure.line == 2
    assert "cell 3, line 2: boom = 1 / 0" in str(failure) and "ZeroDivisionError" in str(failure)
    assert 'nb.ipynb, cell 3", line 2' in failure.traceback_text
    assert "nbmlops/runners" not in failure.traceback_text, "only the user's frames are shown"
    failed = RunDir.open(home, failure.run_id)
    record = failed.read_run()
    assert record["status"] == "failed" and record["steps"] == {
        "load": "succeeded",
        "compute": "failed",
        "report": "pending",
    }
    assert record["error"]["cell"] == 2
    assert load_value(failed.stored_outputs("load")["base"], failed.outputs_dir("load")) == [1, 2, 3]

    cells[2] = ("total = sum(base) * scale\nboom = 0\n", ["step:compute"])
    nb = make_notebook(cells)
    resumed = run_pipeline(compile_notebook(nb), home=home, resume=failure.run_id)
    assert resumed.status == "succeeded"
    assert resumed.steps["load"]["reused_from"] == failure.run_id
    assert "reused_from" not in resumed.steps["compute"]
    assert (resumed.run_dir / "steps" / "report" / "stdout.txt").read_text() == "total 12\n"
    assert failed.read_run()["status"] == "failed", "resuming never rewrites the failed run"


def test_resume_reruns_steps_whose_parameters_changed(make_notebook, home: Path) -> None:
    nb = make_notebook(
        [
            ("n = 2", ["parameters"]),
            ("xs = list(range(n))", ["step:a"]),
            ("ys = [x * 10 for x in xs]\nassert len(ys) < 3, 'too many'", ["step:b"]),
        ]
    )
    with pytest.raises(StepFailed) as info:
        run_pipeline(compile_notebook(nb), ["n=5"], home=home)
    assert "AssertionError: too many" in str(info.value)
    resumed = run_pipeline(compile_notebook(nb), ["n=1"], home=home, resume=info.value.run_id)
    assert "reused_from" not in resumed.steps["a"], "a reads n, which changed"
    assert resumed.params["n"] == 1


def test_retries_rerun_a_flaky_step(make_notebook, home: Path, tmp_path: Path) -> None:
    nb = make_notebook(
        [
            (
                "import pathlib\nmarker = pathlib.Path('attempts.txt')\n"
                "marker.write_text(marker.read_text() + 'x' if marker.exists() else 'x')\n"
                "if len(marker.read_text()) < 2:\n    raise RuntimeError('flaky')\nok = True",
                ["step:flaky", "retries:1"],
            ),
        ]
    )
    result = run_pipeline(compile_notebook(nb), home=home)
    assert result.steps["flaky"]["attempts"] == 2
    assert (tmp_path / "attempts.txt").read_text() == "xx", "steps run in the notebook's folder"


def test_output_defined_only_in_a_branch_that_did_not_run(make_notebook, home: Path) -> None:
    nb = make_notebook(
        [
            ("flag = False", ["parameters"]),
            ("if flag:\n    value = 1", ["step:a"]),
            ("print(value)", ["step:b"]),
        ]
    )
    with pytest.raises(StepFailed, match="step 'a' did not define 'value', which b reads"):
        run_pipeline(compile_notebook(nb), home=home)


def test_value_that_cannot_be_saved_is_a_clear_error(make_notebook, home: Path) -> None:
    nb = make_notebook(
        [
            ("import threading\nlock = threading.Lock()", ["step:a"]),
            ("print(lock)", ["step:b"]),
        ]
    )
    with pytest.raises(StepFailed, match=r"'lock' \(_thread.lock\) can't be saved"):
        run_pipeline(compile_notebook(nb), home=home)


def test_parameters_are_typed_and_unknown_ones_refused(make_notebook, home: Path) -> None:
    nb = make_notebook(
        [
            ("rate = 0.1\nepochs = 3\nname = 'x'\nverbose = False", ["parameters"]),
            ("print(rate * epochs, name, verbose)", ["step:a"]),
        ]
    )
    spec = compile_notebook(nb)
    result = run_pipeline(spec, ["rate=0.5", "epochs=4", "name=churn", "verbose=yes"], home=home)
    assert (result.run_dir / "steps" / "a" / "stdout.txt").read_text() == "2.0 churn True\n"
    with pytest.raises(ParameterError, match="unknown parameter 'lr'.*rate, epochs, name, verbose"):
        run_pipeline(spec, ["lr=1"], home=home)
    with pytest.raises(ParameterError, match="parameter 'epochs': 'many' is not a whole number"):
        run_pipeline(spec, ["epochs=many"], home=home)


def test_step_output_is_captured_not_printed(make_notebook, home: Path, capsys: pytest.CaptureFixture) -> None:
    nb = make_notebook([("import sys\nprint('to out')\nprint('to err', file=sys.stderr)", ["step:a"])])
    result = run_pipeline(compile_notebook(nb), home=home)
    assert capsys.readouterr().out == ""
    assert (result.run_dir / "steps" / "a" / "stdout.txt").read_text() == "to out\n"
    assert (result.run_dir / "steps" / "a" / "stderr.txt").read_text() == "to err\n"


def test_step_durations_are_measured(make_notebook, home: Path) -> None:
    nb = make_notebook([("import time\ntime.sleep(0.2)\nx = 1", ["step:slow"]), ("y = x", ["step:fast"])])
    result = run_pipeline(compile_notebook(nb), home=home)
    assert 0.2 <= result.steps["slow"]["duration"] < 5
    assert json.loads((result.run_dir / "run.json").read_text())["duration"] >= 0.2


def test_step_records_read_typed_and_stay_plain_json(make_notebook, home: Path) -> None:
    """result.steps holds each step's status.json with typed names for what readers use, and still dumps as the
    dict it always was."""
    from nbmlops.status import StepStatus

    spec = compile_notebook(make_notebook([("x = 2", ["step:a"]), ("y = x * 3", ["step:b"])]))
    first = run_pipeline(spec, home=home)
    record = first.steps["b"]
    assert record.status is StepStatus.SUCCEEDED and record["status"] == "succeeded"
    assert list(first.steps["a"].outputs) == ["x"] and record.attempts == 1 and record.seconds >= 0
    assert not record.cached and record.origin is None and record.error is None
    again = run_pipeline(spec, home=home)
    assert again.steps["b"].cached and again.steps["b"].origin == first.run_id
    assert json.loads(json.dumps(again.steps))["b"]["cached_from"] == first.run_id
