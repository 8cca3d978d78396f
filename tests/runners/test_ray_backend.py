"""The Ray backend on a real local Ray runtime (2 CPUs, started once for the module): same outputs as the local
backend, parallel branches, object-store values, failures mapped to the cell, retries, resources."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
from pathlib import Path

import joblib
import pytest

ray = pytest.importorskip("ray")

from nbmlops.errors import NbmlopsError, StepFailed  # noqa: E402
from nbmlops.pipeline import compile_notebook  # noqa: E402
from nbmlops.runners import RunDir, load_value, run_pipeline  # noqa: E402
from nbmlops.runners.ray_backend import init_ray, parse_memory, step_resources  # noqa: E402
from nbmlops.store import open_store  # noqa: E402

EXAMPLE = Path(__file__).resolve().parents[2] / "example_notebooks" / "churn.ipynb"


@pytest.fixture(scope="module", autouse=True)
def ray_runtime():
    # one runtime for the module: starting Ray costs seconds; the executor reuses an initialised one
    init_ray(num_cpus=2, log_to_driver=False)
    yield
    ray.shutdown()


def hashes(run: RunDir, steps: list[str]) -> dict[str, dict[str, str]]:
    return {step: {n: s.sha256 for n, s in run.stored_outputs(step).items()} for step in steps}


def test_example_gives_the_local_backends_outputs_and_metrics(tmp_path: Path, home: Path) -> None:
    shutil.copy(EXAMPLE, tmp_path / "churn.ipynb")
    spec = compile_notebook(tmp_path / "churn.ipynb")
    local = run_pipeline(spec, ["C=0.5"], home=home, use_cache=False)
    local_metrics = (tmp_path / "churn_metrics.json").read_text()
    on_ray = run_pipeline(spec, ["C=0.5"], backend="ray", home=home, use_cache=False)
    assert on_ray.status == "succeeded"
    assert all(s["status"] == "succeeded" and s["backend"] == "ray" for s in on_ray.steps.values())
    steps = list(on_ray.steps)
    assert hashes(RunDir(on_ray.run_dir), steps) == hashes(RunDir(local.run_dir), steps)
    assert (tmp_path / "churn_metrics.json").read_text() == local_metrics  # ran where the notebook lives
    assert "loaded 4025 rows" in (on_ray.run_dir / "steps" / "load" / "stdout.txt").read_text()
    store = open_store(home)
    run = store.get_run(on_ray.run_id)
    assert run.backend == "ray" and run.metrics == store.get_run(local.run_id).metrics  # logged from workers
    assert run.metrics["roc_auc"] > 0.6
    # a rerun is served from the cache the Ray run filled
    again = run_pipeline(spec, ["C=0.5"], backend="ray", home=home)
    assert {s["status"] for s in again.steps.values()} == {"succeeded"}
    assert all(s.get("cached") for s in again.steps.values())


def test_independent_branches_run_at_the_same_time(make_notebook, home: Path) -> None:
    nb = make_notebook(
        [
            ("import time", ["setup"]),
            ("base = 1", ["step:start"]),
            ("a0 = time.time()\ntime.sleep(1.5)\na = (base, a0, time.time())", ["step:left"]),
            ("b0 = time.time()\ntime.sleep(1.5)\nb = (base, b0, time.time())", ["step:right"]),
            ("print(max(a[1], b[1]) < min(a[2], b[2]))", ["step:join"]),
        ]
    )
    result = run_pipeline(compile_notebook(nb), backend="ray", home=home)
    assert (result.run_dir / "steps" / "join" / "stdout.txt").read_text() == "True\n"


def test_values_cross_steps_by_type_through_the_object_store(make_notebook, home: Path) -> None:
    nb = make_notebook(
        [
            ("import numpy as np\nimport pandas as pd", ["setup"]),
            (
                "frame = pd.DataFrame({'a': [1, 2]})\narr = np.arange(3)\n"
                "tags = {'x', 'y', *(f't{i}' for i in range(30))}\n"
                "def double(v):\n    return v * scale\nscale = 2\nimport os.path as osp",
                ["step:make"],
            ),
            # arrays from the object store are writable, as files give them; notebook functions see this step
            (
                "scale = 10\narr[0] = 7\nframe.loc[0, 'a'] = 5\n"
                "print(frame.a.sum(), arr.sum(), sorted(tags)[-2:], double(4), osp.sep)",
                ["step:use"],
            ),
        ]
    )
    spec = compile_notebook(nb)
    local = run_pipeline(spec, home=home, use_cache=False)
    on_ray = run_pipeline(spec, backend="ray", home=home, use_cache=False)
    printed = (on_ray.run_dir / "steps" / "use" / "stdout.txt").read_text()
    assert printed == (local.run_dir / "steps" / "use" / "stdout.txt").read_text() == "7 10 ['x', 'y'] 40 /\n"
    # the same content hashes, the set `tags` included: sets are pickled sorted, whatever each process's
    # PYTHONHASHSEED (a Ray worker's is not the driver's)
    ours, theirs = hashes(RunDir(on_ray.run_dir), ["make"])["make"], hashes(RunDir(local.run_dir), ["make"])["make"]
    assert "tags" in ours and ours == theirs


def test_failing_step_names_the_cell_and_line(make_notebook, home: Path) -> None:
    nb = make_notebook(
        [
            ("base = [1, 2, 3]", ["step:load"]),
            ("total = sum(base)\nboom = total / 0\n", ["step:compute"]),
            ("print(boom)", ["step:report"]),
        ]
    )
    with pytest.raises(StepFailed) as info:
        run_pipeline(compile_notebook(nb), backend="ray", home=home)
    error = info.value
    assert (error.step, error.cell, error.line) == ("compute", 1, 2)
    assert "failed in cell 2, line 2: boom = total / 0" in str(error) and "ZeroDivisionError" in str(error)
    assert 'nb.ipynb, cell 2", line 2' in error.traceback_text
    run = RunDir(Path(home) / "runs" / error.run_id)
    assert run.read_status("compute")["cell"] == 1 and run.read_status("report") is None
    assert "ZeroDivisionError" in (run.step_dir("compute") / "stderr.txt").read_text()
    assert json.loads((run.root / "run.json").read_text())["steps"]["load"] == "succeeded"


def test_retries_are_made_once_and_counted(make_notebook, home: Path, tmp_path: Path) -> None:
    marker = tmp_path / "tried"
    nb = make_notebook(
        [
            (f"import os\nfrom pathlib import Path\nmarker = Path({str(marker)!r})", ["setup"]),
            # a Python error: the orchestrator retries (Ray does not, so it is not retried twice over)
            (
                "first = not marker.exists()\nmarker.touch()\nif first:\n    raise RuntimeError('flaky')\nx = 1",
                ["step:flaky", "retries:2"],
            ),
            # a dead worker: Ray retries it with the step's retries, and the attempts are reported
            ("os._exit(3)", ["step:crash", "retries:1"]),
        ]
    )
    with pytest.raises(StepFailed, match="step 'crash' failed on Ray after 2 attempts") as info:
        run_pipeline(compile_notebook(nb), backend="ray", home=home)
    run = RunDir(Path(home) / "runs" / info.value.run_id)
    assert run.read_status("flaky")["status"] == "succeeded" and run.read_status("flaky")["attempts"] == 2
    assert run.read_status("crash")["status"] == "failed" and run.read_status("crash")["attempts"] == 2


def test_step_options_become_ray_resources(make_notebook, home: Path) -> None:
    assert parse_memory("512Mi") == 512 * 2**20 and parse_memory("2G") == 2 * 10**9
    assert parse_memory("1.5GiB") == int(1.5 * 2**30) and parse_memory("100") == 100 and parse_memory("64kb") == 64000
    with pytest.raises(NbmlopsError, match="not a size"):
        parse_memory("lots")
    assert step_resources({}) == {"num_cpus": 1}
    assert step_resources({"cpus": 0.5, "gpus": 1, "memory": "1Gi"}) == {
        "num_cpus": 0.5,
        "num_gpus": 1,
        "memory": 2**30,
    }
    nb = make_notebook(
        [
            (
                "import ray\ngot = ray.get_runtime_context().get_assigned_resources()\n"
                "print(got['CPU'], got['memory'])",
                ["step:small", "cpus:0.5", "memory:64Mi"],
            ),
            ("x = 1", ["step:huge", "cpus:64"]),
        ]
    )
    with pytest.raises(StepFailed, match=r"step 'huge' asks for 64 CPUs \(the local Ray has 2 CPUs\)"):
        run_pipeline(compile_notebook(nb), backend="ray", home=home)
    small = next((Path(home) / "runs").glob("*/steps/small/stdout.txt"))
    assert small.read_text() == f"0.5 {64 * 2**20}.0\n"


def test_compiled_ray_module_runs_standalone_with_the_same_outputs(tmp_path: Path, home: Path) -> None:
    from nbmlops.pipeline.targets.ray import write_ray_module

    shutil.copy(EXAMPLE, tmp_path / "churn.ipynb")
    spec = compile_notebook(tmp_path / "churn.ipynb")
    local = run_pipeline(spec, ["C=0.5"], home=home, use_cache=False)
    expected = (tmp_path / "churn_metrics.json").read_text()
    (tmp_path / "churn_metrics.json").unlink()
    module = write_ray_module(spec, tmp_path / "deploy" / "pipeline_ray.py")
    text = module.read_text()
    compile(text, str(module), "exec")
    assert "@ray.remote(num_cpus=1, num_returns=4, max_retries=0)\ndef split(ctx, X, y):" in text
    assert "model.fit(X_train, y_train)" in text and "--C" in text  # the step's code, readable; parameters
    assert "churn.ipynb" not in [p.name for p in module.parent.iterdir()]  # the notebook is not needed
    address = ray.get_runtime_context().gcs_address  # join the test's Ray rather than start another
    done = subprocess.run(
        [sys.executable, str(module), "--C", "0.5", "--ray-address", address, "--save-outputs", str(tmp_path / "out")],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert (module.parent / "churn_metrics.json").read_text() == expected  # steps ran beside the module
    run = RunDir(local.run_dir)
    for step in spec.steps:
        for name, stored in run.stored_outputs(step.name).items():
            saved = tmp_path / "out" / step.name / stored.file
            if stored.format == "joblib":  # pickled again after the trip to the driver: same model, other bytes
                coef = load_value(stored, run.outputs_dir(step.name)).named_steps["classifier"].coef_
                assert (joblib.load(saved).named_steps["classifier"].coef_ == coef).all()
                continue
            assert hashlib.sha256(saved.read_bytes()).hexdigest() == stored.sha256, (step.name, name)
    tracked = [r for r in open_store(home).list_runs(kind="pipeline") if r.backend == "ray"]
    assert tracked and tracked[0].metrics["roc_auc"] == json.loads(expected)["roc_auc"]


def test_compiled_module_maps_a_failure_to_the_cell(make_notebook, home: Path) -> None:
    from nbmlops.pipeline.targets.ray import write_ray_module

    nb = make_notebook(
        [
            ("n = 3", ["parameters"]),
            ("xs = list(range(n))", ["step:make"]),
            ("total = sum(xs)\nratio = total / (n - 3)", ["step:divide"]),
        ]
    )
    module = write_ray_module(compile_notebook(nb), nb.with_name("nb_ray.py"))
    address = ray.get_runtime_context().gcs_address
    failed = subprocess.run(
        [sys.executable, str(module), "--ray-address", address, "--no-track"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert failed.returncode == 1
    assert "error: step 'divide' failed in cell 3, line 2: ratio = total / (n - 3)" in failed.stderr
    assert "ZeroDivisionError" in failed.stderr
    ok = subprocess.run(
        [sys.executable, str(module), "--ray-address", address, "--no-track", "--n", "4"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert ok.returncode == 0, ok.stderr[-2000:]


MAGIC_CELLS = [
    ("import numpy as np", ["setup"]),
    ("big = np.arange(10)", ["step:make"]),
    ("%time total = int(np.sum(big))\nshown = !echo {total}", ["step:sum"]),
    ("%%capture out\nprint('captured', total, shown)", ["step:report"]),
    ("result = out.stdout", ["step:keep"]),
    ("print(result)", ["step:end"]),
]


def test_magics_run_as_in_a_kernel_on_ray_and_in_a_compiled_module(make_notebook, home: Path) -> None:
    """Ray workers run a step that needs a kernel in the headless shell, as the local backend does."""
    from nbmlops.pipeline.targets.ray import write_ray_module

    nb = make_notebook(MAGIC_CELLS)
    spec = compile_notebook(nb)
    result = run_pipeline(spec, home=home, backend="ray")
    run = RunDir(result.run_dir)
    assert load_value(run.stored_outputs("keep")["result"], run.outputs_dir("keep")) == "captured 45 ['45']\n"
    module = write_ray_module(spec, nb.with_name("nb_ray.py"))
    address = ray.get_runtime_context().gcs_address
    done = subprocess.run(
        [sys.executable, str(module), "--ray-address", address, "--no-track", "--save-outputs", str(nb.parent / "out")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert json.loads((nb.parent / "out" / "keep" / "result.json").read_text()) == "captured 45 ['45']\n"
