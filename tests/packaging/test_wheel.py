"""The wheel users install: built from this tree, it carries the prebuilt JupyterLab extension and the server
extension's config, so a fresh virtualenv gets a working panel from `pip install` alone — no Node.js there.
Slow (a wheel build and an install of JupyterLab into a new virtualenv, a few minutes): one test."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def run(argv: list[str], **kwargs) -> subprocess.CompletedProcess:
    done = subprocess.run(argv, capture_output=True, text=True, timeout=900, **kwargs)
    assert done.returncode == 0, f"{' '.join(argv)}\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return done


def test_the_wheel_installs_a_working_lab_extension_without_node(tmp_path: Path) -> None:
    run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w", str(tmp_path / "dist"), str(ROOT)])
    [wheel] = (tmp_path / "dist").glob("nbmlops-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    data = next(n.split("/")[0] for n in names if ".data/" in n)
    assert f"{data}/data/share/jupyter/labextensions/nbmlops/package.json" in names
    assert any(n.startswith(f"{data}/data/share/jupyter/labextensions/nbmlops/static/remoteEntry.") for n in names)
    assert f"{data}/data/etc/jupyter/jupyter_server_config.d/nbmlops.json" in names
    assert not any("/node_modules/" in n or n.startswith(("tests/", "labextension/")) for n in names)

    venv = tmp_path / "venv"
    run([sys.executable, "-m", "venv", str(venv)])
    python = venv / "bin" / "python"
    run([str(python), "-m", "pip", "install", "--quiet", f"{wheel}[lab]"])
    # a PATH with no Node.js: only the new virtualenv and the system's basic tools, none of which is node
    bare = tmp_path / "bin"
    bare.mkdir()
    for tool in ("sh", "env", "uname"):
        found = shutil.which(tool)
        if found:
            (bare / tool).symlink_to(found)
    env = {"PATH": f"{venv / 'bin'}:{bare}", "HOME": str(tmp_path), "JUPYTER_PLATFORM_DIRS": "1"}
    assert shutil.which("node", path=env["PATH"]) is None
    labs = run([str(venv / "bin" / "jupyter"), "labextension", "list"], env=env, cwd=tmp_path)
    listing = labs.stdout + labs.stderr
    assert "nbmlops" in listing and "enabled" in listing and "OK" in listing, listing
    servers = run([str(venv / "bin" / "jupyter"), "server", "extension", "list"], env=env, cwd=tmp_path)
    assert "nbmlops.server" in servers.stdout + servers.stderr and "enabled" in servers.stdout + servers.stderr
    # the plain install's CLI runs, and says which extra a missing part needs
    cli = subprocess.run(
        [str(venv / "bin" / "nbmlops"), "--version"], env=env, capture_output=True, text=True, timeout=120, cwd=tmp_path
    )
    assert cli.returncode == 0 and "0." in cli.stdout
    assert os.access(venv / "bin" / "nbmlops", os.X_OK)
