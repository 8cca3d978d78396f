"""The schedules REST API the Pipeline panel calls, through jupyter_server's own test server: the contract, bad
input naming the field with nothing stored, 404 for unknown names, auth/XSRF, paths inside the root."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

pytest.importorskip("jupyter_server")
pytest_plugins = ["pytest_jupyter.jupyter_server"]

NOTEBOOK = {
    "nbformat": 4,
    "nbformat_minor": 5,
    "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3"}},
    "cells": [
        {
            "cell_type": "code",
            "metadata": {"tags": ["parameters"]},
            "execution_count": None,
            "outputs": [],
            "source": "x = 1",
        },
        {
            "cell_type": "code",
            "metadata": {"tags": ["step:work"]},
            "execution_count": None,
            "outputs": [],
            "source": "y = x * 2",
        },
    ],
}
CONTRACT = {
    "name",
    "notebook",
    "cron",
    "timezone",
    "paused",
    "next_at",
    "last",
    "backend",
    "params",
    "retries",
    "catchup",
    "triggers",
    "last_error",
}


@pytest.fixture
def jp_server_config():
    return {"ServerApp": {"jpserver_extensions": {"nbmlops.server": True}}}


@pytest.fixture
def root(jp_root_dir: Path) -> Path:
    (jp_root_dir / "sub").mkdir()
    (jp_root_dir / "sub" / "job.ipynb").write_text(json.dumps(NOTEBOOK))
    (jp_root_dir / "other.ipynb").write_text(json.dumps(NOTEBOOK))
    return jp_root_dir


async def call(jp_fetch, method: str, endpoint: str, body: dict | None = None, **params):
    kwargs = {"method": method, "raise_error": False}
    if body is not None:
        kwargs["body"] = json.dumps(body)
    if params:
        kwargs["params"] = params
    response = await jp_fetch("nbmlops", *endpoint.split("/"), **kwargs)
    return response.code, json.loads(response.body or b"null")


async def test_add_list_pause_resume_delete(jp_fetch, root: Path) -> None:
    code, reply = await call(
        jp_fetch,
        "POST",
        "schedules",
        {
            "path": "sub/job.ipynb",
            "cron": "0 3 * * *",
            "timezone": "Europe/Berlin",
            "name": "nightly",
            "params": {"x": 4},
            "retries": 2,
            "catchup": "all",
        },
    )
    assert code == 201, reply
    made = reply["schedule"]
    assert set(made) == CONTRACT
    assert made["name"] == "nightly" and made["notebook"] == "sub/job.ipynb" and made["cron"] == "0 3 * * *"
    assert made["timezone"] == "Europe/Berlin" and made["paused"] is False and made["params"] == {"x": 4}
    assert made["retries"] == 2 and made["catchup"] == "all" and made["backend"] == "local"
    assert made["next_at"].endswith(("+01:00", "+02:00")) and made["last"] is None and made["last_error"] is None
    assert made["triggers"] == ["cron 0 3 * * * (Europe/Berlin)"]
    await call(jp_fetch, "POST", "schedules", {"path": "other.ipynb", "cron": "@hourly", "name": "hourly"})

    code, listed = await call(jp_fetch, "GET", "schedules", path="sub/job.ipynb")
    assert code == 200 and [s["name"] for s in listed["schedules"]] == ["nightly"]  # that notebook's only
    code, paused = await call(jp_fetch, "POST", "schedules/nightly/pause", {})
    assert code == 200 and paused["schedule"]["paused"] is True and paused["schedule"]["next_at"] is None
    code, resumed = await call(jp_fetch, "POST", "schedules/nightly/resume", {}, path="sub/job.ipynb")
    assert code == 200 and resumed["schedule"]["paused"] is False and resumed["schedule"]["next_at"]
    response = await jp_fetch("nbmlops", "schedules", "nightly", method="DELETE", raise_error=False)
    assert response.code == 204
    code, listed = await call(jp_fetch, "GET", "schedules", path="sub/job.ipynb")
    assert listed["schedules"] == []
    code, listed = await call(jp_fetch, "GET", "schedules", path="other.ipynb")
    assert [s["name"] for s in listed["schedules"]] == ["hourly"]


async def test_last_occurrence_and_error_are_shown(jp_fetch, root: Path) -> None:
    from nbmlops.scheduling import run_now
    from nbmlops.store import open_store

    await call(jp_fetch, "POST", "schedules", {"path": "sub/job.ipynb", "cron": "0 3 * * *", "name": "n"})
    store = open_store()
    try:
        outcome = run_now(store, "n", echo=False, log=lambda line: None)
    finally:
        store.close()
    code, listed = await call(jp_fetch, "GET", "schedules", path="sub/job.ipynb")
    (shown,) = listed["schedules"]
    assert shown["last"]["run_id"] == outcome.run_id and shown["last"]["status"] == "succeeded"
    assert shown["last"]["at"] and shown["last_error"] is None


@pytest.mark.parametrize(
    ("body", "field", "words"),
    [
        ({"cron": "61 3 * * *"}, "cron", "--cron '61 3 * * *'"),
        ({"cron": "0 3 * * *", "timezone": "Mars/Olympus"}, "timezone", "Mars/Olympus"),
        ({"cron": "0 3 * * *", "params": {"nope": 1}}, "params", "unknown parameter 'nope'"),
        ({"cron": "0 3 * * *", "params": {"x": "abc"}}, "params", "'x'"),
        ({"cron": "0 3 * * *", "params": ["x=1"]}, "params", "expected dict"),
        ({"cron": "0 3 * * *", "retries": "two"}, "retries", "expected int"),
        ({"cron": "0 3 * * *", "retries": -1}, "retries", "--retries '-1'"),
        ({"cron": "0 3 * * *", "catchup": "maybe"}, "catchup", "--catchup 'maybe'"),
        ({"cron": "0 3 * * *", "backend": "slurm"}, "backend", "--backend 'slurm'"),
        ({"cron": "0 3 * * *", "name": "a b"}, "name", "--name 'a b'"),
        ({}, "cron", "cron expression is required"),
    ],
)
async def test_bad_input_is_400_naming_the_field_and_nothing_is_stored(
    jp_fetch, root: Path, body: dict, field: str, words: str
) -> None:
    code, reply = await call(jp_fetch, "POST", "schedules", {"path": "sub/job.ipynb", **body})
    assert code == 400 and reply["field"] == field and words in reply["message"], reply
    code, listed = await call(jp_fetch, "GET", "schedules", path="sub/job.ipynb")
    assert listed["schedules"] == []


async def test_unknown_names_are_404(jp_fetch, root: Path) -> None:
    for action in ("pause", "resume"):
        code, reply = await call(jp_fetch, "POST", f"schedules/ghost/{action}", {})
        assert code == 404 and "ghost" in reply["message"]
    response = await jp_fetch("nbmlops", "schedules", "ghost", method="DELETE", raise_error=False)
    assert response.code == 404


@pytest.mark.parametrize("path", ["../job.ipynb", "/etc/passwd", "sub/../../x.ipynb", "outside.ipynb"])
async def test_paths_outside_the_root_are_refused(jp_fetch, root: Path, tmp_path_factory, path: str) -> None:
    outside = tmp_path_factory.mktemp("outside") / "secret.ipynb"
    shutil.copy(root / "other.ipynb", outside)
    (root / "outside.ipynb").symlink_to(outside)
    code, _ = await call(jp_fetch, "POST", "schedules", {"path": path, "cron": "0 3 * * *"})
    assert code in (403, 404)
    code, _ = await call(jp_fetch, "GET", "schedules", path=path)
    assert code in (403, 404)


async def test_requests_without_token_or_xsrf_are_refused(
    http_server_client, jp_base_url, jp_serverapp, root: Path
) -> None:
    url = f"{jp_base_url}nbmlops/schedules"
    body = json.dumps({"path": "sub/job.ipynb", "cron": "0 3 * * *"})
    assert (await http_server_client.fetch(url, method="POST", body=body, raise_error=False)).code == 403
    assert (await http_server_client.fetch(f"{url}?path=sub/job.ipynb", raise_error=False)).code == 403
    assert (await http_server_client.fetch(f"{url}/x", method="DELETE", raise_error=False)).code == 403
    token = jp_serverapp.identity_provider.token
    page = await http_server_client.fetch(f"{jp_base_url}api/status?token={token}", raise_error=False)
    cookies = [c.split(";")[0] for c in page.headers.get_list("Set-Cookie")]
    login = await http_server_client.fetch(
        f"{jp_base_url}lab/tree?token={token}",
        raise_error=False,
        follow_redirects=False,
        headers={"Cookie": "; ".join(cookies)},
    )
    cookies += [c.split(";")[0] for c in login.headers.get_list("Set-Cookie")]
    jar = dict(c.split("=", 1) for c in cookies)
    cookie = "; ".join(f"{k}={v}" for k, v in jar.items())
    no_xsrf = await http_server_client.fetch(
        url, method="POST", body=body, raise_error=False, headers={"Cookie": cookie}
    )
    assert no_xsrf.code == 403
    with_xsrf = await http_server_client.fetch(
        url, method="POST", body=body, raise_error=False, headers={"Cookie": cookie, "X-XSRFToken": jar["_xsrf"]}
    )
    assert with_xsrf.code == 201, with_xsrf.body


async def test_schedules_live_in_the_notebooks_project(
    jp_fetch, jp_serverapp, root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("NBMLOPS_HOME")  # homes as the server finds them for runs: the nearest inside the root
    code, _ = await call(jp_fetch, "POST", "schedules", {"path": "sub/job.ipynb", "cron": "0 3 * * *", "name": "n"})
    assert code == 201 and (root / "sub" / ".nbmlops").is_dir() and not (root / ".nbmlops").exists()
    code, paused = await call(jp_fetch, "POST", "schedules/n/pause", {})  # found where it was added
    assert code == 200 and paused["schedule"]["paused"] is True
    jp_serverapp.web_app.settings["nbmlops_schedule_homes"].clear()  # a restarted server: the panel names the path
    code, _ = await call(jp_fetch, "POST", "schedules/n/resume", {})
    assert code == 404
    code, resumed = await call(jp_fetch, "POST", "schedules/n/resume", {}, path="sub/job.ipynb")
    assert code == 200 and resumed["schedule"]["paused"] is False
    code, listed = await call(jp_fetch, "GET", "schedules", path="sub/job.ipynb")  # listing remembers it again
    response = await jp_fetch("nbmlops", "schedules", "n", method="DELETE", raise_error=False)
    assert response.code == 204
