"""The papermill backend and compile target, on real kernels: same outputs as the local backend, parallel
branches, errors mapped to the source cell, warm kernels that leak nothing, and step notebooks a plain
`papermill` CLI runs."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from nbmlops.errors import StepFailed
from nbmlops.pipeline import compile_notebook
from nbmlops.pipeline.targets.papermill import MANIFEST, write_papermill_target
from nbmlops.runners import RunDir, load_value, run_pipeline, save_value

pytest.importorskip("papermill")

BRANCHES = [
    ("md", "# Branches"),
    ("import os\nimport time\n\nimport nbmlops\n", ["setup"]),
    ("n = 3\n", ["parameters"]),
    ("md", "## Make\nThe base list."),
    ("base = list(range(n))\nlabel = 'x' * n\n", ["step:make"]),
    # both branches leave a variable, an environment variable and a changed working directory behind
    (
        "t_a = (time.time(), time.sleep(1.0), time.time())[::2]\na = sum(base)\nsecret_a = 1\n"
        "os.environ['NBMLOPS_TEST_LEAK'] = 'a'\nos.chdir('/')\npid_a = os.getpid()\nprint('a is', a)\n",
        ["step:a"],
    ),
    (
        "t_b = (time.time(), time.sleep(1.0), time.time())[::2]\nb = len(base)\nsecret_b = 2\n"
        "os.environ['NBMLOPS_TEST_LEAK'] = 'b'\nos.chdir('/')\npid_b = os.getpid()\n",
        ["step:b"],
    ),
    ("md", "## Join"),
    (
        "total = a + b\nleaks = sorted(k for k in ('secret_a', 'secret_b', 'base') if k in globals())\n"
        "leaks += ['env'] if 'NBMLOPS_TEST_LEAK' in os.environ else []\nwhere = os.getcwd()\npid_join = os.getpid()\n"
        "nbmlops.log_metric('total', total)\n",
        ["step:join"],
    ),
    ("report = [total, label, t_a, t_b, leaks, where, pid_a, pid_b, pid_join]\n", ["step:report"]),
    ("assert report\n", ["step:check"]),  # reads `report`, so it is saved as an output
]


def _outputs(result) -> dict:
    run = RunDir(result.run_dir)
    values = {}
    for step in result.steps:
        for name, stored in run.stored_outputs(step).items():
            values[name] = load_value(stored, run.outputs_dir(step))
    return values


def test_papermill_run_matches_local_runs_branches_in_parallel_and_leaks_nothing(
    make_notebook, home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    nb = make_notebook(BRANCHES)
    spec = compile_notebook(nb)
    monkeypatch.setenv("NBMLOPS_TEST_LEAK", "")
    local = run_pipeline(spec, ["n=4"], home=home, use_cache=False)
    monkeypatch.delenv("NBMLOPS_TEST_LEAK")  # the local backend's steps share this process's environment
    paper = run_pipeline(
        compile_notebook(nb), ["n=4"], home=home, use_cache=False, backend="papermill", backend_options={"workers": 2}
    )
    assert paper.status == "succeeded"
    mine, theirs = _outputs(paper), _outputs(local)
    assert mine["total"] == theirs["total"] == 10 and mine["label"] == theirs["label"] == "xxxx"
    assert mine["base"] == theirs["base"]

    # the two branches ran at the same time (each sleeps 1 s)
    (a0, a1), (b0, b1) = mine["t_a"], mine["t_b"]
    assert a0 < b1 and b0 < a1, (mine["t_a"], mine["t_b"])

    # warm kernels were reused (join ran in a branch's kernel) and came back clean: no variables, environment
    # or working directory from the step before
    total, label, _, _, leaks, where, pid_a, pid_b, pid_join = mine["report"]
    assert pid_join in (pid_a, pid_b)
    assert leaks == [] and Path(where) == nb.parent

    # each step's executed notebook is kept, with the markdown of its cells and its output in place
    for step in ("make", "a", "b", "join", "report", "check"):
        status = paper.steps[step]
        executed = json.loads(Path(status["artifacts"]["notebook"]).read_text())
        assert executed["metadata"]["nbmlops"]["step"] == step
    executed_a = json.loads(Path(paper.steps["a"]["artifacts"]["notebook"]).read_text())
    assert any("a is 6" in "".join(o.get("text", "")) for c in executed_a["cells"] for o in c.get("outputs", []))
    executed_make = json.loads(Path(paper.steps["make"]["artifacts"]["notebook"]).read_text())
    assert any(c["cell_type"] == "markdown" and "The base list." in c["source"] for c in executed_make["cells"])
    assert (paper.run_dir / "steps" / "a" / "stdout.txt").read_text() == "a is 6\n"

    # log_metric inside a kernel lands on the pipeline run and its step
    from nbmlops.tracking import get_store

    points = get_store(home).metric_history(paper.run_id, "total")
    assert [(p.value, p.step_name) for p in points] == [(10.0, "join")]


def test_fresh_kernels_isolate_steps(make_notebook, home: Path) -> None:
    nb = make_notebook(
        [
            ("import os\n", ["setup"]),
            ("pid_1 = os.getpid()\n", ["step:one"]),
            ("pids = [pid_1, os.getpid()]\n", ["step:two"]),
            ("assert pids\n", ["step:three"]),
        ]
    )
    result = run_pipeline(
        compile_notebook(nb), home=home, backend="papermill", backend_options={"workers": 1, "fresh_kernel": True}
    )
    first, second = _outputs(result)["pids"]
    assert first != second


def test_failing_step_maps_to_source_cell_and_line_and_shows_error_in_place(make_notebook, home: Path) -> None:
    nb = make_notebook(
        [
            ("def half(x):\n    return x / 0\n", ["setup"]),
            ("ok = 1\n", ["step:first"]),
            ("md", "## Broken"),
            ("y = ok + 1\nz = half(y)\n", ["step:broken"]),
        ]
    )
    with pytest.raises(StepFailed) as info:
        run_pipeline(compile_notebook(nb), home=home, backend="papermill", backend_options={"workers": 1})
    error = info.value
    # the deepest notebook frame is the setup cell's helper (index 0, line 2), as on the local backend
    assert error.step == "broken" and (error.cell, error.line) == (0, 2), str(error)
    assert "ZeroDivisionError" in str(error)
    status = RunDir.open(home, error.run_id).read_status("broken")
    executed = json.loads(Path(status["artifacts"]["notebook"]).read_text())
    failing = [c for c in executed["cells"] if any(o.get("output_type") == "error" for o in c.get("outputs", []))]
    assert len(failing) == 1 and failing[0]["metadata"]["nbmlops"]["cell"] == 3
    assert "ZeroDivisionError" in (RunDir.open(home, error.run_id).step_dir("broken") / "stderr.txt").read_text()


def test_step_notebook_runs_with_plain_papermill_cli(make_notebook, tmp_path: Path) -> None:
    nb = make_notebook(
        [
            ("import json\n", ["setup"]),
            ("scale = 2\n", ["parameters"]),
            ("values = [1, 2, 3]\n", ["step:make"]),
            ("scaled = [v * scale for v in values]\nprint(json.dumps(scaled))\n", ["step:scale"]),
            ("print(sum(scaled))\n", ["step:report"]),
        ]
    )
    out = tmp_path / "compiled"
    written = write_papermill_target(compile_notebook(nb), out)
    assert {p.name for p in written} == {"make.ipynb", "scale.ipynb", "report.ipynb", "pipeline.json"}
    # the upstream step's output, where a server team's scheduler would have put it
    save_value("values", [1, 2, 3], tmp_path / "data" / "make")
    papermill = Path(sys.executable).parent / "papermill"
    proc = subprocess.run(
        [
            str(papermill),
            str(out / "scale.ipynb"),
            str(tmp_path / "scale.out.ipynb"),
            "-p",
            "nbmlops_data_dir",
            str(tmp_path / "data"),
            "-p",
            "scale",
            "5",
            "--log-level",
            "ERROR",
            "--no-progress-bar",
        ],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=120,
        env={**os.environ, "PYTHONWARNINGS": "ignore"},
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    manifest = json.loads((tmp_path / "data" / "scale" / MANIFEST).read_text())
    assert manifest["outputs"]["scaled"]["format"] == "json"
    assert json.loads((tmp_path / "data" / "scale" / "scaled.json").read_text()) == [5, 10, 15]
    executed = json.loads((tmp_path / "scale.out.ipynb").read_text())
    assert any("[5, 10, 15]" in "".join(o.get("text", "")) for c in executed["cells"] for o in c.get("outputs", []))
