"""The server extension through jupyter_server's own test server: auth and XSRF, path checks, compile, run."""

from __future__ import annotations

import asyncio
import json
import shutil
import time
from pathlib import Path

import pytest

pytest.importorskip("jupyter_server")
pytest_plugins = ["pytest_jupyter.jupyter_server"]

CHURN = Path(__file__).resolve().parents[2] / "example_notebooks" / "churn.ipynb"


@pytest.fixture
def jp_server_config():
    return {"ServerApp": {"jpserver_extensions": {"nbmlops.server": True}}}


@pytest.fixture
def root(jp_root_dir: Path) -> Path:
    shutil.copy(CHURN, jp_root_dir / "churn.ipynb")
    return jp_root_dir


async def call(jp_fetch, method: str, endpoint: str, body: dict | None = None, **params):
    """(status, JSON reply) of an authenticated request; errors come back as replies, not exceptions."""
    kwargs = {"method": method, "raise_error": False}
    if body is not None:
        kwargs["body"] = json.dumps(body)
    if params:
        kwargs["params"] = params
    response = await jp_fetch("nbmlops", *endpoint.split("/"), **kwargs)
    return response.code, json.loads(response.body or b"null")


async def test_spec_of_a_notebook(jp_fetch, root: Path) -> None:
    code, spec = await call(jp_fetch, "POST", "spec", {"path": "churn.ipynb"})
    assert code == 200
    assert [s["name"] for s in spec["steps"]][:2] == ["load", "clean"]
    assert {p["name"] for p in spec["parameters"]} >= {"C"}
    clean = next(s for s in spec["steps"] if s["name"] == "clean")
    assert clean["inputs"] == {"raw": "load"}


async def test_spec_follows_unsaved_content_and_errors_name_the_cell(jp_fetch, root: Path) -> None:
    nb = json.loads((root / "churn.ipynb").read_text())
    nb["cells"][7]["metadata"]["tags"] = ["step:bad name"]
    code, reply = await call(jp_fetch, "POST", "spec", {"path": "churn.ipynb", "content": nb})
    assert code == 400
    assert reply["cell"] == 7 and "step name" in reply["message"]
    assert reply["message"].startswith("churn.ipynb, cell 8")  # the path as JupyterLab knows it, not the server's


async def test_info_lists_backends(jp_fetch, root: Path) -> None:
    code, info = await call(jp_fetch, "GET", "info")
    assert code == 200 and "local" in info["backends"] and "json" in info["targets"]


@pytest.mark.parametrize("path", ["../churn.ipynb", "/etc/passwd", "sub/../../x.ipynb", "~/x.ipynb", "outside.ipynb"])
async def test_paths_outside_the_root_are_refused(jp_fetch, root: Path, tmp_path_factory, path: str) -> None:
    outside = tmp_path_factory.mktemp("outside") / "secret.ipynb"
    shutil.copy(CHURN, outside)
    (root / "outside.ipynb").symlink_to(outside)  # a symlink out of the root
    (root / "sub").mkdir()
    for method, endpoint, body, params in [
        ("POST", "spec", {"path": path}, {}),
        ("GET", "runs", None, {"path": path}),
        ("POST", "runs", {"path": path}, {}),
        ("POST", "export", {"path": path, "target": "json"}, {}),
    ]:
        code, reply = await call(jp_fetch, method, endpoint, body, **params)
        assert code in (403, 404), (endpoint, code, reply)
        assert "steps" not in (reply or {})


async def test_missing_notebook_is_404(jp_fetch, root: Path) -> None:
    code, reply = await call(jp_fetch, "POST", "spec", {"path": "nope.ipynb"})
    assert code == 404 and "nope.ipynb" in reply["message"]


async def test_requests_without_token_or_xsrf_are_refused(
    http_server_client, jp_base_url, jp_serverapp, root: Path
) -> None:
    url = f"{jp_base_url}nbmlops/spec"
    body = json.dumps({"path": "churn.ipynb"})
    anonymous = await http_server_client.fetch(url, method="POST", body=body, raise_error=False)
    assert anonymous.code == 403
    anonymous_get = await http_server_client.fetch(f"{jp_base_url}nbmlops/runs?path=churn.ipynb", raise_error=False)
    assert anonymous_get.code == 403
    # a browser session: the login cookie comes from opening a page with the token, the XSRF cookie with it
    page = await http_server_client.fetch(
        f"{jp_base_url}api/status?token={jp_serverapp.identity_provider.token}", raise_error=False
    )
    cookies = [c.split(";")[0] for c in page.headers.get_list("Set-Cookie")]
    login = await http_server_client.fetch(
        f"{jp_base_url}lab/tree?token={jp_serverapp.identity_provider.token}",
        raise_error=False,
        follow_redirects=False,
        headers={"Cookie": "; ".join(cookies)},
    )
    cookies += [c.split(";")[0] for c in login.headers.get_list("Set-Cookie")]
    jar = dict(c.split("=", 1) for c in cookies)
    assert "_xsrf" in jar
    cookie = "; ".join(f"{k}={v}" for k, v in jar.items())
    no_xsrf = await http_server_client.fetch(
        url, method="POST", body=body, raise_error=False, headers={"Cookie": cookie}
    )
    assert no_xsrf.code == 403
    with_xsrf = await http_server_client.fetch(
        url, method="POST", body=body, raise_error=False, headers={"Cookie": cookie, "X-XSRFToken": jar["_xsrf"]}
    )
    assert with_xsrf.code == 200, with_xsrf.body


async def test_run_in_background_with_live_status_then_listed(jp_fetch, root: Path) -> None:
    code, job = await call(jp_fetch, "POST", "runs", {"path": "churn.ipynb", "backend": "local", "params": {"C": 0.5}})
    assert code == 202 and job["status"] in ("starting", "running")
    seen: set[str] = set()
    deadline = time.monotonic() + 180
    while job["status"] in ("starting", "running"):
        assert time.monotonic() < deadline, job
        await asyncio.sleep(0.2)  # the server's loop keeps answering while the run goes on
        code, job = await call(jp_fetch, "GET", f"jobs/{job['id']}")
        seen |= {s["status"] for s in job["steps"]}
    assert job["status"] == "succeeded", job["error"]
    assert job["run_id"] and all(s["status"] in ("succeeded", "cached") for s in job["steps"])
    assert "succeeded" in seen
    code, runs = await call(jp_fetch, "GET", "runs", path="churn.ipynb")
    assert code == 200
    run = next(r for r in runs["runs"] if r["id"] == job["run_id"])
    assert run["status"] == "succeeded" and run["params"]["C"] == 0.5


async def test_run_refuses_bad_parameters_before_starting(jp_fetch, root: Path) -> None:
    code, reply = await call(jp_fetch, "POST", "runs", {"path": "churn.ipynb", "params": {"nope": 1}})
    assert code == 400 and "nope" in reply["message"]


async def test_failed_step_names_the_cell(jp_fetch, root: Path) -> None:
    nb = json.loads((root / "churn.ipynb").read_text())
    nb["cells"][7]["source"] = "customers = raw.drop_duplicates('customer_id')\nraise ValueError('boom')\n"
    (root / "churn.ipynb").write_text(json.dumps(nb))
    code, job = await call(jp_fetch, "POST", "runs", {"path": "churn.ipynb"})
    deadline = time.monotonic() + 180
    while job["status"] in ("starting", "running"):
        assert time.monotonic() < deadline, job
        await asyncio.sleep(0.2)
        code, job = await call(jp_fetch, "GET", f"jobs/{job['id']}")
    assert job["status"] == "failed"
    assert job["error"]["cell"] == 7 and job["error"]["step"] == "clean" and "boom" in job["error"]["message"]


async def test_export_json_next_to_the_notebook(jp_fetch, root: Path) -> None:
    code, reply = await call(jp_fetch, "POST", "export", {"path": "churn.ipynb", "target": "json"})
    assert code == 200 and reply["written"] == ["churn.pipeline.json"]
    assert json.loads((root / "churn.pipeline.json").read_text())["steps"]
    code, reply = await call(jp_fetch, "POST", "export", {"path": "churn.ipynb", "target": "papermill"})
    assert code == 200 and "churn_papermill/pipeline.json" in reply["written"]
    code, reply = await call(jp_fetch, "POST", "export", {"path": "churn.ipynb", "target": "ray"})
    assert code == 200 and reply["written"] == ["churn_ray.py"]
    assert "@ray.remote" in (root / "churn_ray.py").read_text()


async def test_unknown_job_is_404(jp_fetch, root: Path) -> None:
    code, reply = await call(jp_fetch, "GET", "jobs/abc")
    assert code == 404 and "abc" in reply["message"]
