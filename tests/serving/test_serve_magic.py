"""`%nbmlops serve` in a real kernel: a Graph variable of the notebook served in the background of the kernel,
answering over HTTP while the kernel stays usable; `list`, `stop`, and the server ends with the kernel."""

from __future__ import annotations

import os
import re
from pathlib import Path

import httpx
import pytest


class Kernel:
    def __init__(self, client) -> None:  # noqa: ANN001
        self.client = client

    def run(self, code: str, timeout: float = 120) -> tuple[str, str, str]:
        """(stdout, stderr, reply status) of one cell."""
        msg_id = self.client.execute(code)
        out, err = [], []
        while True:
            message = self.client.get_iopub_msg(timeout=timeout)
            if message["parent_header"].get("msg_id") != msg_id:
                continue
            kind, content = message["msg_type"], message["content"]
            if kind == "stream":
                (out if content["name"] == "stdout" else err).append(content["text"])
            elif kind == "error":
                err.append("\n".join(content["traceback"]))
            elif kind == "status" and content["execution_state"] == "idle":
                break
        reply = self.client.get_shell_msg(timeout=timeout)
        return "".join(out), "".join(err), reply["content"]["status"]


@pytest.fixture
def kernel(churn, home: Path, tmp_path: Path):
    from jupyter_client import KernelManager

    manager = KernelManager(kernel_name="python3")
    manager.start_kernel(cwd=str(tmp_path), env={**os.environ, "NBMLOPS_HOME": str(home)})
    client = manager.client()
    client.start_channels()
    try:
        client.wait_for_ready(timeout=120)
        kernel = Kernel(client)
        assert kernel.run("%load_ext nbmlops")[2] == "ok"
        yield kernel, manager
    finally:
        client.stop_channels()
        if manager.is_alive():
            manager.shutdown_kernel(now=True)


def test_serve_a_notebook_graph_from_the_kernel(kernel, churn) -> None:
    shell, manager = kernel
    out, err, status = shell.run(
        "from nbmlops.serving import Graph\n"
        "graph = Graph().model('churn@production').post(lambda p, rows: [int(x) * 10 for x in p])"
    )
    assert status == "ok", err
    out, err, status = shell.run("server = %nbmlops serve graph --no-log")
    assert status == "ok", err
    url = re.search(r"on (http://127\.0\.0\.1:\d+)", out).group(1)
    X = churn["X"].head(5)
    body = httpx.post(f"{url}/predict", json={"rows": X.to_dict("records")}, timeout=60).json()
    assert body["predictions"] == [int(x) * 10 for x in churn[1].predict(X)]
    assert shell.run("1 + 1")[2] == "ok"  # the kernel is free while it serves
    listed = shell.run("%nbmlops serve list")[0]
    assert url in listed and "churn:1" in listed
    port = url.rsplit(":", 1)[1]
    stopped = shell.run(f"%nbmlops serve stop {port}")[0]
    assert f"stopped {url}" in stopped
    with pytest.raises(httpx.TransportError):
        httpx.get(f"{url}/health", timeout=5)
    missing = shell.run("%nbmlops serve stop 1")[1]
    assert "no server of this kernel on port 1" in missing

    out, err, status = shell.run("%nbmlops serve churn@production --token k")
    assert status == "ok", err
    url = re.search(r"on (http://127\.0\.0\.1:\d+)", out).group(1)
    assert httpx.get(f"{url}/ready", timeout=30).status_code == 401
    assert httpx.get(f"{url}/ready", headers={"authorization": "Bearer k"}, timeout=30).status_code == 200
    manager.shutdown_kernel(now=False)  # the server stops with the kernel
    with pytest.raises(httpx.TransportError):
        httpx.get(f"{url}/health", timeout=5)
