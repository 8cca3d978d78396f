"""The magics in a real IPython kernel (jupyter_client), started the way Jupyter Server starts one for a
notebook: cwd the notebook's folder, JPY_SESSION_NAME naming the notebook. One kernel for the module."""

from __future__ import annotations

import json
import os
import queue
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from nbmlops.errors import NbmlopsError
from nbmlops.kernel.magics import cell_flow, find_notebook, parse_magic_line, strip_magic_line

CELLS = [
    "%load_ext nbmlops",
    ("C = 1.0", ["parameters"]),
    "%%setup\nimport json\nSCALE = 2",
    "%%step load\ndata = [1, 2, 3]\nprint('loaded', len(data))",
    "%%step prepare\nX = [v * SCALE * C for v in data]\ny = sum(X)",
    "%%skip\nprint('y is', y)",
    "%%step train\nmodel = {'w': y / len(X)}",
]
MESSY = [
    "%%step load\ndata = [1, 2, 3]",
    "%%step train\nimport threading\nlock = threading.Lock()\nsource = '/home/alice/data.csv'",
    "%%step evaluate\n!pip install nothing-at-all\nwith lock:\n    total = sum(data)",
]


@dataclass
class Reply:
    status: str
    stdout: str = ""
    stderr: str = ""
    results: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


class Kernel:
    def __init__(self, client) -> None:  # noqa: ANN001 - a jupyter_client BlockingKernelClient
        self.client = client

    def run(self, code: str, timeout: float = 30) -> Reply:
        msg_id = self.client.execute(code)
        reply = Reply("?")
        while True:
            try:
                msg = self.client.get_iopub_msg(timeout=timeout)
            except queue.Empty:
                raise AssertionError(f"no output from the kernel for {code!r}") from None
            if msg["parent_header"].get("msg_id") != msg_id:
                continue
            kind, content = msg["msg_type"], msg["content"]
            if kind == "stream":
                setattr(reply, content["name"], getattr(reply, content["name"]) + content["text"])
            elif kind == "execute_result":
                reply.results.append(content["data"]["text/plain"])
            elif kind == "error":
                reply.errors.append(content["ename"])
            elif kind == "status" and content["execution_state"] == "idle":
                break
        while True:
            shell = self.client.get_shell_msg(timeout=timeout)
            if shell["parent_header"].get("msg_id") == msg_id:
                reply.status = shell["content"]["status"]
                return reply


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory, notebook_json_of) -> Path:
    notebook_json = notebook_json_of
    path = tmp_path_factory.mktemp("magics")
    (path / "churn.ipynb").write_text(json.dumps(notebook_json(CELLS)))
    (path / "messy.ipynb").write_text(json.dumps(notebook_json(MESSY)))
    return path


@pytest.fixture(scope="module")
def kernel(folder: Path):
    from jupyter_client import KernelManager

    env = {**os.environ, "JPY_SESSION_NAME": str(folder / "churn.ipynb"), "NBMLOPS_HOME": str(folder / ".nbmlops")}
    manager = KernelManager(kernel_name="python3")
    manager.start_kernel(cwd=str(folder), env=env)
    client = manager.client()
    client.start_channels()
    try:
        client.wait_for_ready(timeout=60)
        kernel = Kernel(client)
        assert kernel.run("%load_ext nbmlops").status == "ok"
        yield kernel
    finally:
        client.stop_channels()
        manager.shutdown_kernel(now=True)


def source(index: int, cells: list = CELLS) -> str:
    cell = cells[index]
    return cell if isinstance(cell, str) else cell[0]


# --- the cell magics --------------------------------------------------------------------------------------


def test_step_cells_run_unchanged_and_print_what_flows(kernel: Kernel) -> None:
    assert kernel.run(source(1)).stdout == ""  # an untagged cell says nothing
    setup = kernel.run(source(2))
    assert setup.stdout == "setup · defines SCALE · re-run before every step\n"
    load = kernel.run(source(3))
    assert load.status == "ok"
    assert load.stdout == "loaded 3\nstep load · reads nothing from upstream · hands on data\n"
    prepare = kernel.run(source(4))
    assert prepare.stdout == "step prepare · reads data ← load, C ← parameters, SCALE ← setup · hands on X, y\n"
    skip = kernel.run(source(5))
    assert skip.stdout == "y is 12.0\nskip · left out of the pipeline\n"
    train = kernel.run(source(6))
    assert train.stdout == "step train · reads y ← prepare, X ← prepare · hands on model\n"
    assert kernel.run("model").results == ["{'w': 4.0}"]


def test_display_and_errors_are_the_kernels_own(kernel: Kernel) -> None:
    shown = kernel.run("%%step show_it\nz = 41\nz + 1")
    assert shown.results == ["42"] and shown.stdout.startswith("step show_it")
    failed = kernel.run("%%step boom\nx = 1\n1/0")
    assert failed.status == "error" and failed.errors == ["ZeroDivisionError"]
    assert failed.stdout == ""  # no summary after a failure
    assert kernel.run("x").results == ["1"]  # the body really ran, up to the error


def test_bad_magic_arguments_are_one_line_and_the_cell_does_not_run(kernel: Kernel) -> None:
    reply = kernel.run("%%step bad --retries x\nprint('ran')")
    assert reply.status == "ok" and "ran" not in reply.stdout and not reply.errors
    assert reply.stderr.strip().count("\n") == 0
    assert "%%step" in reply.stderr and "retries" in reply.stderr and "not run" in reply.stderr
    assert "takes no arguments" in kernel.run("%%setup now\nprint('ran')").stderr


# --- %pipeline on the notebook the kernel belongs to ------------------------------------------------------


def test_show_finds_the_notebook_from_the_session(kernel: Kernel) -> None:
    reply = kernel.run("%pipeline show")
    assert reply.status == "ok" and not reply.stderr
    for name in ("load", "prepare", "train", "data <- load"):
        assert name in reply.stdout
    assert "flowchart" in kernel.run("%pipeline show --format mermaid").stdout


def test_compile_writes_the_spec_and_never_the_notebook(kernel: Kernel, folder: Path) -> None:
    before = (folder / "churn.ipynb").read_bytes()
    reply = kernel.run("%pipeline compile -o pipeline.json")
    assert reply.stdout.strip() == "wrote pipeline.json: 3 steps, 1 parameters"
    spec = json.loads((folder / "pipeline.json").read_text())
    assert [s["name"] for s in spec["steps"]] == ["load", "prepare", "train"]
    assert "is the notebook itself" in kernel.run("%pipeline compile -o churn.ipynb --force").stderr
    assert (folder / "churn.ipynb").read_bytes() == before
    (folder / "notes.json").write_text("{}")  # a file of the user's: the same rule as `nbmlops compile`
    assert "--force" in kernel.run("%pipeline compile -o notes.json").stderr
    assert (folder / "notes.json").read_text() == "{}"
    assert kernel.run("%pipeline compile -o notes.json --force").stdout.startswith("wrote notes.json")


def test_run_runs_the_saved_notebook_with_parameters(kernel: Kernel, folder: Path) -> None:
    reply = kernel.run("%pipeline run -p C=0.5")
    assert reply.status == "ok", reply.stderr
    lines = reply.stdout.splitlines()
    assert lines[0].startswith("running the saved churn.ipynb")
    assert [line.split()[2] for line in lines if line.startswith("✓")] == ["load", "prepare", "train"]
    run_id = lines[-1].split()[1]
    assert lines[-1].startswith(f"run {run_id} succeeded")
    record = json.loads((folder / ".nbmlops" / "runs" / run_id / "run.json").read_text())
    assert record["params"] == {"C": 0.5}
    bad = kernel.run("%pipeline run -p nope=1")
    assert bad.stdout == "" and bad.stderr.startswith("error: unknown parameter 'nope'")


def test_load_brings_a_past_runs_values_into_the_kernel(kernel: Kernel) -> None:
    kernel.run("del X, y, data")
    reply = kernel.run("%pipeline load prepare")
    assert reply.status == "ok" and reply.stdout.startswith("loaded the outputs of step prepare from run ")
    assert kernel.run("y").results == ["6.0"], "the run's value (C=0.5), not the kernel's earlier one"
    reply = kernel.run("%pipeline load prepare --inputs")
    assert "loaded what step prepare reads" in reply.stdout and "data, C" in reply.stdout
    assert kernel.run("data, C").results == ["([1, 2, 3], 0.5)"]
    assert kernel.run("%pipeline load nope").stderr.startswith("error: pipeline 'churn' has no step 'nope'")
    assert "no run 'x1'" in kernel.run("%pipeline load prepare --run x1").stderr


def test_check_clean_notebook_is_ready(kernel: Kernel) -> None:
    reply = kernel.run("%pipeline check")
    assert reply.stdout.splitlines()[-1].startswith("ready"), reply.stdout


def test_check_with_explicit_notebook_reports_each_problem(kernel: Kernel) -> None:
    for index in (0, 1, 0):  # load, train, then load again: train's state is older than load's
        assert kernel.run(source(index, MESSY)).status == "ok"
    reply = kernel.run("%pipeline check --notebook messy.ipynb")
    out = reply.stdout
    assert "'lock'" in out and "can't be saved" in out  # the Lock can't cross to evaluate
    assert "/home/alice/data.csv" in out
    assert "!pip install nothing-at-all" in out
    assert "ran out of order in this kernel" in out
    assert out.splitlines()[-1].startswith("4 problems"), out


def test_missing_session_is_a_clear_error_and_notebook_option_works(kernel: Kernel) -> None:
    kernel.run("import os as _os\n_saved = _os.environ.pop('JPY_SESSION_NAME')\n_ses = globals().pop('__session__')")
    try:
        reply = kernel.run("%pipeline show")
        assert reply.status == "ok" and not reply.errors and reply.stdout == ""
        assert reply.stderr.startswith("error: can't tell which notebook") and "--notebook" in reply.stderr
        assert "Traceback" not in reply.stderr
        assert "step load" in kernel.run("%pipeline show --notebook churn.ipynb").stdout
        assert "no such file" in kernel.run("%pipeline show --notebook nope.ipynb").stderr
    finally:
        kernel.run("_os.environ['JPY_SESSION_NAME'] = _saved\n__session__ = _ses")


# --- the pieces, without a kernel ------------------------------------------------------------------------


def test_find_notebook_resolves_session_names(tmp_path: Path) -> None:
    root = tmp_path / "server"
    (root / "work").mkdir(parents=True)
    notebook = root / "work" / "churn.ipynb"
    notebook.write_text("{}")
    cwd = root / "work"
    assert find_notebook(environ={"JPY_SESSION_NAME": str(notebook)}, cwd=cwd) == notebook.resolve()
    # older servers: the session path, relative to the server root (an ancestor of the kernel's cwd)
    assert find_notebook(environ={"JPY_SESSION_NAME": "work/churn.ipynb"}, cwd=cwd) == notebook.resolve()
    assert find_notebook(environ={}, user_ns={"__session__": "work/churn.ipynb"}, cwd=cwd) == notebook.resolve()
    assert find_notebook(environ={}, user_ns={"__vsc_ipynb_file__": str(notebook)}, cwd=tmp_path) == notebook.resolve()
    assert find_notebook("churn.ipynb", environ={}, cwd=cwd) == notebook.resolve()
    with pytest.raises(NbmlopsError, match="renamed or moved"):
        find_notebook(environ={"JPY_SESSION_NAME": "work/old-name.ipynb"}, cwd=cwd)
    with pytest.raises(NbmlopsError, match="not a .ipynb"):
        find_notebook(environ={"JPY_SESSION_NAME": "console-1-abc"}, cwd=cwd)
    with pytest.raises(NbmlopsError, match="JPY_SESSION_NAME is not set"):
        find_notebook(environ={}, cwd=cwd)


def test_magic_line_parsing_and_transformer() -> None:
    kind, role = parse_magic_line("%%step train --after load --retries 2 --no-cache")
    assert kind == "step" and role.step == "train" and role.after == ["load"]
    assert role.options == {"retries": 2, "nocache": True}
    assert parse_magic_line("%%time") is None
    with pytest.raises(NbmlopsError, match="needs a step name"):
        parse_magic_line("%%step")
    assert strip_magic_line(["%%step a\n", "x = 1\n"]) == ["\n", "x = 1\n"]
    assert strip_magic_line(["%%step a --bogus\n", "x = 1\n"])[0] == "%%step a --bogus\n"
    assert strip_magic_line(["%%timeit\n", "x = 1\n"])[0] == "%%timeit\n"


def test_cell_flow_reads_before_writes() -> None:
    assert cell_flow("y = x + 1\nx = 2\nz = [v for v in y]\ndel z") == (["x"], ["y", "x"])
    assert cell_flow("df.dropna(inplace=True)") == (["df"], ["df"])
