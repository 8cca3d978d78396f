"""Pipelines on a real two-node Ray cluster, joined by address only (as `nbmlops run --ray-address` does):
parallel branches run on both nodes at once, values cross as object refs, results equal the local backend's;
a sweep's children spread over the nodes with the shared steps run once; a step on a node killed mid-step is
retried on the other node."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

from nbmlops.digest import sha256_hex
from nbmlops.pipeline import compile_notebook
from nbmlops.runners import RunDir, load_value, run_pipeline, sweep_pipeline
from nbmlops.store import open_store

BRANCHES = [
    ("import time", ["setup"]),
    ("base = list(range(5))", ["step:start"]),
    ("t0 = time.time()\ntime.sleep(4)\nleft = (sum(base), t0, time.time())", ["step:left", "cpus:1"]),
    ("t0 = time.time()\ntime.sleep(4)\nright = (len(base), t0, time.time())", ["step:right", "cpus:1"]),
    ("total = left[0] + right[0]\nprint(total)", ["step:join"]),
]


def nbmlops_cli(*args: str, cwd: Path, home: Path, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "NBMLOPS_HOME": str(home)}
    return subprocess.run(
        [sys.executable, "-m", "nbmlops.cli", *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout
    )


def statuses(run_dir: Path, steps: list[str]) -> dict[str, dict]:
    return {step: json.loads((run_dir / "steps" / step / "status.json").read_text()) for step in steps}


def test_parallel_branches_run_on_both_nodes_with_the_local_result(two_nodes, make_notebook, tmp_path: Path) -> None:
    nb = make_notebook(BRANCHES)
    home = tmp_path / ".nbmlops"
    done = nbmlops_cli("run", nb.name, "--backend", "ray", "--ray-address", two_nodes.address, cwd=nb.parent, home=home)
    assert done.returncode == 0, done.stderr
    (run_dir,) = (home / "runs").iterdir()
    status = statuses(run_dir, ["start", "left", "right", "join"])
    assert {s["node"] for s in status.values()} <= node_ids(two_nodes)
    assert status["left"]["node"] != status["right"]["node"]  # one branch on each node
    assert status["left"]["inputs_by_ref"] == status["right"]["inputs_by_ref"] == ["base"]  # object refs
    assert status["join"]["inputs_by_ref"] == ["left", "right"]
    left, right = (RunDir(run_dir).stored_outputs(s) for s in ("left", "right"))
    assert (run_dir / "steps" / "join" / "stdout.txt").read_text() == "15\n"
    local = run_pipeline(compile_notebook(nb), home=tmp_path / "local", use_cache=False)
    local_dir = RunDir(local.run_dir)
    assert local_dir.stored_outputs("start") == RunDir(run_dir).stored_outputs("start")  # same bytes, same hash
    # the branches' values hold their clock times: compare what they computed
    values = {}
    for step, stored in (("left", left), ("right", right)):
        ours = load_value(stored[step], run_dir / "steps" / step / "outputs")
        theirs = load_value(local_dir.stored_outputs(step)[step], local.run_dir / "steps" / step / "outputs")
        assert ours[0] == theirs[0]
        values[step] = ours
    # at the same time: each branch started before the other ended
    assert values["left"][1] < values["right"][2] and values["right"][1] < values["left"][2]


def node_ids(cluster) -> set[str]:  # noqa: ANN001 - ray.cluster_utils.Cluster
    return {node.node_id for node in cluster.list_all_nodes()}


SWEEP = [
    ("import time\nimport nbmlops", ["setup"]),
    ("x = 1", ["parameters"]),
    ("rows = list(range(10))", ["step:prep"]),
    (
        # each child waits (up to 120 s) for the other to start: a loaded machine may start them seconds apart,
        # but two children that can't run at once never overlap
        "import pathlib, ray\nt0 = time.time()\nmeet = pathlib.Path('meet')\nmeet.mkdir(exist_ok=True)\n"
        "(meet / str(x)).touch()\nwhile len(list(meet.iterdir())) < 2 and time.time() - t0 < 120:\n"
        "    time.sleep(0.1)\ntime.sleep(1)\nscore = sum(rows) * x\n"
        "where = (ray.get_runtime_context().get_node_id(), t0, time.time())\nnbmlops.log_metric('score', score)",
        ["step:work", "cpus:1"],
    ),
    ("summary = (score, where)", ["step:summary"]),  # reads them, so the work step hands them on
]


def test_a_sweep_spreads_its_children_and_runs_shared_steps_once(two_nodes, make_notebook, home: Path) -> None:
    nb = make_notebook(SWEEP)
    result = sweep_pipeline(
        compile_notebook(nb),
        ["x=1,2"],
        backend="ray",
        home=home,
        objective="metrics.score:max",
        backend_options={"address": two_nodes.address},
    )
    parent = statuses(result.parent.run_dir, ["prep"])["prep"]
    assert parent["status"] == "succeeded" and not parent.get("cached")  # the shared step ran once, in the parent
    children = [statuses(child.run_dir, ["prep", "work"]) for child in result.children]
    assert all(child["prep"].get("cached") for child in children)  # ... and each child took it from the cache
    where = [
        load_value(RunDir(c.run_dir).stored_outputs("work")["where"], c.run_dir / "steps" / "work" / "outputs")
        for c in result.children
    ]
    assert {w[0] for w in where} == {c["work"]["node"] for c in children}
    assert len({c["work"]["node"] for c in children}) == 2  # one child on each node ...
    assert where[0][1] < where[1][2] and where[1][1] < where[0][2]  # ... at the same time
    assert result.scores == [45, 90] and result.best.run_id == result.children[1].run_id


KILLED = [
    ("import os, pathlib, time", ["setup"]),
    ("rows = list(range(4))", ["step:prep"]),
    (
        "marks = pathlib.Path('attempts')\nmarks.mkdir(exist_ok=True)\n(marks / str(os.getpid())).touch()\n"
        "if len(list(marks.iterdir())) == 1:\n    time.sleep(120)  # the first attempt is killed here\n"
        "total = sum(rows)",
        ["step:work", "retries:1"],
    ),
    ("print(total)", ["step:show"]),
]


def test_a_node_killed_mid_step_is_retried_on_the_other_node(two_nodes, make_notebook, home: Path) -> None:
    """kill -9 of the node (its raylet, its workers) running a `retries:1` step: Ray retries it on the other node,
    the step's record counts both attempts and names the node of each, and the run finishes with nothing
    half-written in the run folder, the artifact store or the database."""
    import ray
    from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

    from nbmlops.runners.ray_backend import init_ray

    nb = make_notebook(KILLED)
    marks = nb.parent / "attempts"
    head, (doomed,) = two_nodes.head_node, two_nodes.worker_nodes
    if not ray.is_initialized():
        init_ray(two_nodes.address, log_to_driver=False)
    # the head's CPU is held, so the steps go to the other node, the one killed
    started, release = nb.parent / "held", nb.parent / "release"

    def hold_a_cpu(started: str, release: str) -> None:  # nested: Ray's workers get it by value, not by module
        Path(started).touch()
        while not Path(release).exists():
            time.sleep(0.1)

    hold = ray.remote(hold_a_cpu).options(
        num_cpus=1, scheduling_strategy=NodeAffinitySchedulingStrategy(head.node_id, soft=False)
    )
    held = hold.remote(str(started), str(release))
    outcome: dict = {}

    def run() -> None:
        try:
            outcome["result"] = run_pipeline(
                compile_notebook(nb), backend="ray", home=home, backend_options={"address": two_nodes.address}
            )
        except BaseException as exc:  # noqa: BLE001 - reported by the assertions below
            outcome["error"] = exc

    thread = threading.Thread(target=run)
    try:
        deadline = time.monotonic() + 300
        while not started.exists() and time.monotonic() < deadline:
            if ray.wait([held], timeout=0)[0]:
                ray.get(held)  # it ended before it started holding: its error
            time.sleep(0.2)
        thread.start()
        while not (marks.is_dir() and any(marks.iterdir())) and time.monotonic() < deadline and thread.is_alive():
            time.sleep(0.2)
        assert marks.is_dir() and len(list(marks.iterdir())) == 1, outcome.get("error")
        two_nodes.remove_node(doomed, allow_graceful=False)  # kill -9 of its raylet and its workers
        release.touch()  # the head's CPU is free for the retry
        thread.join(timeout=300)
        ray.get(held, timeout=60)
    finally:
        release.touch()
        if doomed in two_nodes.worker_nodes:
            two_nodes.remove_node(doomed, allow_graceful=False)
        two_nodes.add_node(num_cpus=1)  # two nodes again for the module's other tests
        two_nodes.wait_for_nodes(timeout=180)
    assert not thread.is_alive() and "error" not in outcome, outcome.get("error")
    result = outcome["result"]
    assert result.status == "succeeded" and len(list(marks.iterdir())) == 2
    status = statuses(result.run_dir, ["prep", "work", "show"])
    work = status["work"]
    assert status["prep"]["node"] == doomed.node_id  # the steps went to the node killed ...
    assert work["status"] == "succeeded" and work["attempts"] == 2
    assert work["attempt_nodes"] == [doomed.node_id, head.node_id] and work["node"] == head.node_id  # ... retried here
    assert status["show"]["attempts"] == 1 and status["show"]["attempt_nodes"] == [head.node_id]
    run_dir = RunDir(result.run_dir)
    assert load_value(run_dir.stored_outputs("work")["total"], result.run_dir / "steps" / "work" / "outputs") == 6
    assert (result.run_dir / "steps" / "show" / "stdout.txt").read_text() == "6\n"
    # nothing half-written: no temp files or attempt markers left, every output the bytes its hash names
    leftovers = [p for p in [*result.run_dir.rglob(".*"), *(home / "artifacts").rglob(".*")] if p.is_file()]
    assert leftovers == [] and not list(result.run_dir.rglob(".attempts*"))
    for step in ("prep", "work"):
        for stored in run_dir.stored_outputs(step).values():
            data = (result.run_dir / "steps" / step / "outputs" / stored.file).read_bytes()
            assert sha256_hex(data) == stored.sha256 and len(data) == stored.size
    store = open_store(home)
    assert store.get_run(result.run_id).status == "succeeded"
    steps = {s.name: s for s in store.steps(result.run_id)}
    assert {s.status for s in steps.values()} == {"succeeded"} and steps["work"].attempts == 2
    assert steps["work"].outputs == {"total": run_dir.stored_outputs("work")["total"].sha256}
