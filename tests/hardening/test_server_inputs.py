"""The server API under hostile or careless requests, through jupyter_server's own test server: typed run
parameters, project homes only inside the root, hidden files per allow_hidden, oversized and odd requests as 4xx,
the run-worker cap, exports that never write through a symlink, and messages that name paths as JupyterLab does."""

from __future__ import annotations

import asyncio
import json
import os
import time
from pathlib import Path

import pytest

pytest.importorskip("jupyter_server")
pytest_plugins = ["pytest_jupyter.jupyter_server"]

CELLS = [
    ("n = 3\nflag = True\nrate = 0.5\nname = 'a'", ["parameters"]),
    ("import time\ntime.sleep(rate)\nx = n * 2", ["step:make"]),
    ("y = x + 1", ["step:use"]),
]


@pytest.fixture
def jp_server_config():
    return {"ServerApp": {"jpserver_extensions": {"nbmlops.server": True}}}


@pytest.fixture
def nb_json(notebook_json_of) -> dict:
    return notebook_json_of(CELLS)


@pytest.fixture
def root(jp_root_dir: Path, monkeypatch: pytest.MonkeyPatch, nb_json: dict) -> Path:
    monkeypatch.delenv("NBMLOPS_HOME", raising=False)  # the server finds homes itself here
    (jp_root_dir / "nb.ipynb").write_text(json.dumps(nb_json))
    return jp_root_dir


async def call(jp_fetch, method: str, endpoint: str, body: object = None, raw: bytes | None = None, **params):
    kwargs: dict = {"method": method, "raise_error": False}
    if raw is not None or body is not None:
        kwargs["body"] = raw if raw is not None else json.dumps(body)
    if params:
        kwargs["params"] = params
    response = await jp_fetch("nbmlops", *endpoint.split("/"), **kwargs)
    return response.code, json.loads(response.body or b"null")


@pytest.mark.parametrize(
    ("params", "named"),
    [
        ({"n": [1]}, "'n'"),
        ({"n": 1.5}, "'n'"),
        ({"n": True}, "'n'"),
        ({"flag": 3}, "'flag'"),
        ({"flag": "3"}, "'flag'"),
        ({"rate": "fast"}, "'rate'"),
        ({"rate": None}, "'rate'"),
        ({"name": 5}, "'name'"),
        ({"n": 2**70}, "'n'"),
        ({"n": "99999999999999999999999"}, "'n'"),
    ],
)
async def test_run_parameters_are_typed_as_the_cli_types_them(jp_fetch, root: Path, params, named) -> None:
    code, reply = await call(jp_fetch, "POST", "runs", {"path": "nb.ipynb", "params": params})
    assert code == 400 and f"parameter {named}" in reply["message"], reply
    assert not (root / ".nbmlops" / "jobs").exists() or not any((root / ".nbmlops" / "jobs").iterdir())


async def test_runs_of_a_home_above_the_root_are_not_listed(jp_fetch, root: Path) -> None:
    from nbmlops.store import open_store

    above = open_store(root.parent / ".nbmlops")  # a project home outside what the server serves
    above.create_run(name="nb", kind="pipeline", pipeline="nb")
    code, reply = await call(jp_fetch, "GET", "runs", path="nb.ipynb")
    assert code == 200 and reply["runs"] == []
    inside = open_store(root / ".nbmlops")
    run_id = inside.create_run(name="nb", kind="pipeline", pipeline="nb")
    code, reply = await call(jp_fetch, "GET", "runs", path="nb.ipynb")
    assert code == 200 and [r["id"] for r in reply["runs"]] == [getattr(run_id, "id", run_id)]


async def test_hidden_notebooks_follow_allow_hidden(jp_fetch, jp_serverapp, root: Path, nb_json: dict) -> None:
    (root / ".hidden").mkdir()
    (root / ".hidden" / "x.ipynb").write_text(json.dumps(nb_json))
    code, reply = await call(jp_fetch, "POST", "spec", {"path": ".hidden/x.ipynb"})
    assert code == 403 and "allow_hidden" in reply["message"]
    jp_serverapp.contents_manager.allow_hidden = True
    try:
        code, reply = await call(jp_fetch, "POST", "spec", {"path": ".hidden/x.ipynb"})
        assert code == 200 and [s["name"] for s in reply["steps"]] == ["make", "use"]
    finally:
        jp_serverapp.contents_manager.allow_hidden = False


def _deep(depth: int) -> bytes:
    return b'{"path": "nb.ipynb", "x": ' + b"[" * depth + b"]" * depth + b"}"


@pytest.mark.parametrize(
    ("method", "endpoint", "body", "raw", "params", "status", "says"),
    [
        ("POST", "spec", {"path": "a" * 5000 + ".ipynb"}, None, {}, 400, "characters"),
        ("POST", "spec", {"path": "a/" * 3000 + "x.ipynb"}, None, {}, 400, "parts"),
        ("POST", "spec", {"path": "x" * 300 + "/nb.ipynb"}, None, {}, 400, "can't be a file name"),
        ("POST", "spec", None, _deep(100_000), {}, 400, "nested too deep"),
        ("POST", "runs", None, _deep(100_000), {}, 400, "nested too deep"),
        ("POST", "spec", {"path": 5}, None, {}, 400, "path"),
        ("POST", "spec", ["nb.ipynb"], None, {}, 400, "JSON object"),
        ("POST", "spec", None, b"\xff\xfe", {}, 400, "not JSON"),
        ("GET", "runs", None, None, {"path": "nb.ipynb", "limit": "99999999999999999999999"}, 400, "limit"),
        ("GET", "runs", None, None, {"path": "nb.ipynb", "limit": "-1"}, 400, "limit"),
        ("GET", "runs", None, None, {"path": "nb.ipynb", "limit": "ten"}, 400, "limit"),
        ("POST", "export", {"path": "nb.ipynb", "target": ["json"]}, None, {}, 400, "target"),
        ("POST", "runs", {"path": "nb.ipynb", "backend": {"x": 1}}, None, {}, 400, "backend"),
    ],
)
async def test_odd_requests_are_4xx_not_500(
    jp_fetch, root: Path, method, endpoint, body, raw, params, status, says
) -> None:
    code, reply = await call(jp_fetch, method, endpoint, body, raw, **params)
    assert code == status and says in reply["message"], (code, reply)


@pytest.mark.parametrize("source", [None, 5, {"a": 1}, ["x = 1", 2]])
async def test_posted_content_with_odd_sources_names_the_cell(jp_fetch, root: Path, nb_json: dict, source) -> None:
    nb = json.loads(json.dumps(nb_json))
    nb["cells"][2]["source"] = source
    code, reply = await call(jp_fetch, "POST", "spec", {"path": "nb.ipynb", "content": nb})
    assert code == 400 and reply["cell"] == 2 and reply["message"].startswith("nb.ipynb, cell 3"), reply


async def test_a_body_over_the_cap_is_413(jp_fetch, root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from nbmlops.server import guards, handlers

    monkeypatch.setattr(guards, "MAX_BODY_BYTES", 1000)
    monkeypatch.setattr(handlers, "MAX_BODY_BYTES", 1000)
    code, reply = await call(jp_fetch, "POST", "spec", {"path": "nb.ipynb", "pad": "x" * 2000})
    assert code == 413 and "at most 1,000" in reply["message"]


async def test_concurrent_runs_beyond_the_worker_cap_are_429(jp_fetch, jp_serverapp, root: Path) -> None:
    jp_serverapp.web_app.settings["nbmlops_max_run_workers"] = 2
    body = {"path": "nb.ipynb", "params": {"rate": 2.0}}  # each run takes a couple of seconds
    replies = await asyncio.gather(*[call(jp_fetch, "POST", "runs", body) for _ in range(6)])
    codes = sorted(code for code, _ in replies)
    assert codes == [202, 202, 429, 429, 429, 429], replies
    assert all("runs are going already" in reply["message"] for code, reply in replies if code == 429)
    jobs = [reply for code, reply in replies if code == 202]
    deadline = time.monotonic() + 240
    for job in jobs:  # the slots free up as the runs end
        while job["status"] in ("starting", "running", "pending"):
            assert time.monotonic() < deadline, job
            await asyncio.sleep(0.3)
            _, job = await call(jp_fetch, "GET", f"jobs/{job['id']}")
        assert job["status"] == "succeeded", job
    code, job = await call(jp_fetch, "POST", "runs", {"path": "nb.ipynb", "params": {"rate": 0.0}})
    assert code == 202
    while job["status"] in ("starting", "running", "pending"):
        assert time.monotonic() < deadline, job
        await asyncio.sleep(0.3)
        _, job = await call(jp_fetch, "GET", f"jobs/{job['id']}")


@pytest.mark.parametrize(
    ("target", "output", "folder"),
    [("json", "nb.pipeline.json", False), ("ray", "nb_ray.py", False), ("papermill", "nb_papermill", True)],
)
async def test_export_never_writes_through_a_symlink(
    jp_fetch, root: Path, tmp_path_factory, target, output, folder
) -> None:
    outside = tmp_path_factory.mktemp("outside")
    victim = outside / ("victim" if folder else "victim.txt")
    if folder:
        victim.mkdir()
    else:
        victim.write_text("keep me")
    (root / output).symlink_to(victim)
    code, reply = await call(jp_fetch, "POST", "export", {"path": "nb.ipynb", "target": target})
    assert code == 403 and "symbolic link" in reply["message"], reply
    assert (list(victim.iterdir()) == []) if folder else victim.read_text() == "keep me"
    assert str(root) not in reply["message"] and str(outside) not in reply["message"]


async def test_export_refuses_a_symlinked_file_inside_the_folder(jp_fetch, root: Path, tmp_path_factory) -> None:
    victim = tmp_path_factory.mktemp("outside") / "victim.ipynb"
    victim.write_text("keep me")
    (root / "nb_papermill").mkdir()
    (root / "nb_papermill" / "make.ipynb").symlink_to(victim)
    code, reply = await call(jp_fetch, "POST", "export", {"path": "nb.ipynb", "target": "papermill"})
    assert code == 403 and "nb_papermill/make.ipynb" in reply["message"]
    assert victim.read_text() == "keep me"


async def test_messages_name_paths_relative_to_the_root(jp_fetch, root: Path) -> None:
    (root / "nb.pipeline.json").write_text("a user's file")
    code, reply = await call(jp_fetch, "POST", "export", {"path": "nb.ipynb", "target": "json"})
    assert code == 400 and "nb.pipeline.json exists and nbmlops did not write it" in reply["message"]
    assert str(root) not in reply["message"] and os.path.realpath(root) not in reply["message"]
    code, reply = await call(jp_fetch, "POST", "spec", {"path": "50%_off.ipynb"})
    assert code == 404 and reply["message"] == "no such file: 50%_off.ipynb"  # one '%', as written
