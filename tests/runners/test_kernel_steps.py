"""Steps behave as the cells do in a Jupyter kernel, on the local backend (a headless IPython shell) and on
papermill (a real kernel): magics, shell escapes, display handles, a cell's last expression, inline figures,
notebook-defined classes inside estimators; and the dataflow sees what magics run."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from nbmlops.errors import NotebookError, StepFailed
from nbmlops.pipeline import compile_notebook
from nbmlops.runners import RunDir, load_value, run_pipeline

BACKENDS = ["local", "papermill"]


def value_of(home: Path, run_id: str, step: str, name: str):
    run = RunDir.open(home, run_id)
    return load_value(run.stored_outputs(step)[name], run.outputs_dir(step))


def outputs_of(home: Path, run_id: str, step: str) -> list[dict]:
    """Every output the step's executed notebook shows, in order."""
    artifacts = RunDir.open(home, run_id).read_status(step)["artifacts"]
    cells = json.loads(Path(artifacts["notebook"]).read_text())["cells"]
    found = [output for cell in cells for output in cell.get("outputs", [])]
    for output in found:  # nbformat may store multi-line text as a list of lines
        for holder, key in [(output, "text"), *((output["data"], k) for k in output.get("data", {}))]:
            if isinstance(holder.get(key), list):
                holder[key] = "".join(holder[key])
    return found


MAGICS = [
    (
        "import os\nimport numpy as np\n%matplotlib inline\nimport matplotlib.pyplot as plt\n"
        "%config InlineBackend.figure_format = 'png'",
        [],
    ),
    (
        "big = np.arange(1000)\nouter = 'kept'\n%load_ext autoreload\n%env NBMLOPS_TEST_FLAG=on\n"
        "flag_here = os.environ.get('NBMLOPS_TEST_FLAG')",
        ["step:make"],
    ),
    # code run by magics: %time binds and reads, %timeit only reads, %%capture binds its variable
    ("%time total = np.sum(big)\n%timeit -n 2 -r 1 np.sum(big)\nplt.plot(big)\nplt.show()\ntotal", ["step:time"]),
    ("%%capture captured\nprint('inside capture', total)", ["step:capture"]),
    ("%%writefile made_by_step.txt\nwritten by a cell magic", ["step:write"]),
    (
        "listing = !cat made_by_step.txt\n!echo shell says {total} $NOT_A_PYTHON_NAME\n%cd /\n"
        "result = {'listing': list(listing), 'captured': captured.stdout, 'flag': os.environ.get('NBMLOPS_TEST_FLAG'),"
        " 'flag_in_make': flag_here, 'leak': 'outer' in get_ipython().user_ns, 'cwd': os.getcwd()}",
        ["step:use", "after:write"],
    ),
    ("print(result)", ["step:report"]),
]


def test_dataflow_sees_the_code_magics_run(make_notebook) -> None:
    spec = compile_notebook(make_notebook(MAGICS))
    assert spec.step("time").inputs == {"big": "make"} and spec.step("time").outputs == ["total"]
    assert spec.step("capture").inputs == {"total": "time"} and spec.step("capture").outputs == ["captured"]
    # `{total}` in a shell command is filled in from the namespace; `$NOT_A_PYTHON_NAME` names nothing: no error
    assert spec.step("use").inputs == {"captured": "capture", "flag_here": "make", "total": "time"}
    assert "write" in spec.step("use").upstream


@pytest.mark.parametrize("backend", BACKENDS)
def test_magics_shell_escapes_and_figures_behave_as_in_a_kernel(
    make_notebook, home: Path, backend: str, tmp_path: Path
) -> None:
    result = run_pipeline(compile_notebook(make_notebook(MAGICS)), home=home, backend=backend)
    assert result.status == "succeeded"
    assert value_of(home, result.run_id, "use", "result") == {
        "listing": ["written by a cell magic"],
        "captured": "inside capture 499500\n",
        "flag": None,  # %env in step 'make' doesn't reach step 'use': each step starts from the same process
        "flag_in_make": "on",
        "leak": False,  # and no step's names reach another through the shell
        "cwd": "/",
    }
    assert (tmp_path / "made_by_step.txt").read_text().strip() == "written by a cell magic"
    shown = outputs_of(home, result.run_id, "time")
    assert any("image/png" in o.get("data", {}) for o in shown), "the inline figure is kept"
    assert any(o["output_type"] == "execute_result" and o["data"]["text/plain"] == "np.int64(499500)" for o in shown), (
        "the cell's last expression is shown"
    )
    assert any("Wall time" in o.get("text", "") for o in shown)
    assert Path.cwd() == tmp_path and "NBMLOPS_TEST_FLAG" not in os.environ  # this process is as it was


DISPLAY = [
    ("class Loud:\n    def __repr__(self):\n        print('repr ran')\n        return 'Loud()'", ["setup"]),
    (
        "from IPython.display import display, clear_output\n"
        "handle = display('first', display_id=True)\nhandle.update('updated')\n"
        "display('gone')\nclear_output()\nkept = 1\nLoud()",
        ["step:show"],
    ),
    ("print(kept)", ["step:after"]),
]


@pytest.mark.parametrize("backend", BACKENDS)
def test_display_handles_and_last_expression(make_notebook, home: Path, backend: str) -> None:
    result = run_pipeline(compile_notebook(make_notebook(DISPLAY)), home=home, backend=backend)
    assert result.status == "succeeded"
    shown = outputs_of(home, result.run_id, "show")
    plain = [o.get("data", {}).get("text/plain") or o.get("text") for o in shown]
    # clear_output() cleared the cell's outputs so far, the last expression came after it
    assert "'gone'" not in plain and "Loud()" in plain
    assert any("repr ran" in (text or "") for text in plain), "the displayed value's __repr__ ran"


def test_display_handle_updates_its_output_in_place(make_notebook, home: Path) -> None:
    cells = [
        (
            "from IPython.display import display\nh = display('first', display_id=True)\nprint('between')\n"
            "h.update('updated')\nx = 1",
            ["step:a"],
        ),
        ("print(x)", ["step:b"]),
    ]
    result = run_pipeline(compile_notebook(make_notebook(cells)), home=home)
    shown = outputs_of(home, result.run_id, "a")
    assert [o.get("data", {}).get("text/plain") or o.get("text") for o in shown] == ["'updated'", "between\n"]


def test_plain_steps_do_not_start_a_shell(make_notebook, home: Path) -> None:
    """A step of plain statements runs with exec (no IPython start-up cost) and keeps no notebook; a cell
    ending in `print(...)` is one too (a kernel shows only what it prints), one ending in another call is not."""
    cells = [("x = 1", ["step:a"]), ("y = x + 1\nprint(y)", ["step:b"]), ("str(y)", ["step:c"])]
    result = run_pipeline(compile_notebook(make_notebook(cells)), home=home)
    assert result.status == "succeeded"
    run = RunDir.open(home, result.run_id)
    assert "notebook" not in run.read_status("a")["artifacts"]
    assert "notebook" not in run.read_status("b")["artifacts"]
    assert "notebook" in run.read_status("c")["artifacts"]


@pytest.mark.parametrize("magic", ["%matplotlib qt", "%gui tk", "%debug", "%pylab wx"])
def test_magics_that_need_a_screen_or_a_person_are_compile_errors(make_notebook, magic: str) -> None:
    path = make_notebook([("x = 1", ["step:a"]), (f"y = 2\n{magic}", ["step:b"])])
    with pytest.raises(NotebookError, match=r"cell 2.*line 2") as info:
        compile_notebook(path)
    assert magic.split()[0] in str(info.value)


def test_headless_magic_error_on_the_command_line_exits_2(make_notebook) -> None:
    path = make_notebook([("%matplotlib qt\nx = 1", ["step:a"])])
    nbmlops = Path(sys.executable).parent / "nbmlops"
    done = subprocess.run([str(nbmlops), "run", str(path)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 2, done.stderr
    assert "cell 1" in done.stderr and "Traceback" not in done.stderr


ESTIMATOR = [
    (
        "import numpy as np\nfrom sklearn.base import BaseEstimator, ClassifierMixin\n"
        "from sklearn.model_selection import GridSearchCV",
        ["setup"],
    ),
    (
        "class Threshold(BaseEstimator, ClassifierMixin):\n    def __init__(self, cut=0.5):\n        self.cut = cut\n"
        "    def fit(self, X, y):\n        self.classes_ = np.array([0, 1])\n        return self\n"
        "    def predict(self, X):\n        return (X[:, 0] > self.cut).astype(int)\n"
        "X = np.linspace(0, 1, 40).reshape(-1, 1)\ny = (X[:, 0] > 0.3).astype(int)\n"
        "search = GridSearchCV(Threshold(), {'cut': [0.1, 0.3, 0.7]}, cv=2).fit(X, y)",
        ["step:train"],
    ),
    (
        "best = (search.best_params_['cut'], type(search.best_estimator_).__name__, int(search.predict(X).sum()))",
        ["step:use"],
    ),
    ("print(best)", ["step:report"]),
]


@pytest.mark.parametrize("backend", BACKENDS)
def test_estimator_holding_a_notebook_class_crosses_steps(make_notebook, home: Path, backend: str) -> None:
    result = run_pipeline(compile_notebook(make_notebook(ESTIMATOR)), home=home, backend=backend)
    assert result.status == "succeeded"
    assert value_of(home, result.run_id, "use", "best") == (0.3, "Threshold", 28)
    # saved by value (cloudpickle), not by a reference to __main__ that another kernel can't resolve
    assert RunDir.open(home, result.run_id).stored_outputs("train")["search"].format == "pickle"


@pytest.mark.parametrize("backend", BACKENDS)
def test_unsaveable_value_names_its_cell_and_the_fix(make_notebook, home: Path, backend: str) -> None:
    cells = [
        ("import threading", ["setup"]),
        ("n = 1", ["step:make"]),
        ("lock = threading.Lock()", ["step:lock"]),
        ("print(lock, n)", ["step:use"]),
    ]
    with pytest.raises(StepFailed) as info:
        run_pipeline(compile_notebook(make_notebook(cells)), home=home, backend=backend)
    message = str(info.value)
    assert "step 'lock', cell 3" in message and "'lock' (_thread.lock)" in message
    assert "read by use" in message and "in one step" in message


def test_no_false_in_place_warning_for_values_made_by_module_functions(make_notebook) -> None:
    cells = [
        ("import numpy as np\nimport pandas as pd", ["setup"]),
        ("df = pd.DataFrame({'a': [1, 2]})\narr = np.zeros(3)", ["step:make"]),
        ("df['b'] = df['a'] * 2\narr[0] = 1.0", ["step:change"]),
        ("print(df, arr)", ["step:report"]),
    ]
    spec = compile_notebook(make_notebook(cells))
    assert spec.warnings == []
    assert spec.step("report").inputs == {"df": "change", "arr": "change"}


SCRIPTS = [
    ("%%bash --out listing --err problems\nls\necho oops >&2", ["step:shell"]),
    (
        "%matplotlib notebook\nimport matplotlib.pyplot as plt\nplt.plot([1, 2])\nplt.show()\n"
        "seen = ('made_by_step.txt' in listing.split(), problems.strip())",
        ["step:plot"],
    ),
    ("print(seen)", ["step:report"]),
    ("ls .", []),  # automagic: a one-line cell `ls .` is no Python, so it is the %ls magic
]


@pytest.mark.parametrize("backend", BACKENDS)
def test_script_magic_outputs_front_end_backends_and_automagic(
    make_notebook, home: Path, backend: str, tmp_path: Path
) -> None:
    (tmp_path / "made_by_step.txt").write_text("x")
    spec = compile_notebook(make_notebook(SCRIPTS))
    assert spec.step("shell").outputs == ["listing", "problems"]
    result = run_pipeline(spec, home=home, backend=backend)
    assert result.status == "succeeded"
    assert value_of(home, result.run_id, "plot", "seen") == (True, "oops")
    shown = outputs_of(home, result.run_id, "plot")
    assert any("image/png" in o.get("data", {}) or "text/html" in o.get("data", {}) for o in shown)
