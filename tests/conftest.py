"""Shared fixtures: build real .ipynb files from a list of cells."""

from __future__ import annotations

import json
import os
import secrets
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

PG_URL = os.environ.get("NBMLOPS_TEST_PG_URL")
REQUIRE_PG = os.environ.get("NBMLOPS_REQUIRE_PG") == "1"


def notebook_json(cells: list, kernel: str = "python3") -> dict:
    """cells: a source string (code cell), ("md", text), or (source, [tags]) / (source, "tag,tag")."""
    out = []
    for cell in cells:
        if isinstance(cell, tuple) and cell[0] == "md":
            out.append({"cell_type": "markdown", "metadata": {}, "source": cell[1]})
            continue
        source, tags = (cell, []) if isinstance(cell, str) else cell
        if isinstance(tags, str):
            tags = [t for t in tags.split(",") if t] if "," in tags and ":" not in tags else [tags]
        out.append(
            {
                "cell_type": "code",
                "execution_count": None,
                "metadata": {"tags": list(tags)},
                "outputs": [],
                "source": source,
            }
        )
    return {
        "nbformat": 4,
        "nbformat_minor": 5,
        "cells": out,
        "metadata": {
            "kernelspec": {"name": kernel, "display_name": "Python 3", "language": "python"},
            "language_info": {"name": "python"},
        },
    }


@pytest.fixture(scope="session")
def notebook_json_of():
    """notebook_json for fixtures of a wider scope than make_notebook's (a module's kernel and folder)."""
    return notebook_json


@pytest.fixture
def make_notebook(tmp_path: Path):
    """make_notebook(cells, name="nb.ipynb") -> Path of a real notebook file in a temporary folder."""

    def make(cells: list, name: str = "nb.ipynb") -> Path:
        path = tmp_path / name
        path.write_text(json.dumps(notebook_json(cells), indent=1))
        return path

    return make


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An isolated project home (NBMLOPS_HOME) so tests never touch the developer's .nbmlops."""
    path = tmp_path / ".nbmlops"
    monkeypatch.setenv("NBMLOPS_HOME", str(path))
    monkeypatch.chdir(tmp_path)
    return path


@pytest.fixture(autouse=True)
def _no_user_home(monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory) -> None:
    if "NBMLOPS_HOME" not in os.environ:
        monkeypatch.setenv("NBMLOPS_HOME", str(tmp_path_factory.mktemp("home") / ".nbmlops"))


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path):
    """A database URL: SQLite, and a real PostgreSQL (NBMLOPS_TEST_PG_URL, started by .ci/postgres.sh).
    With NBMLOPS_REQUIRE_PG=1 (CI) a missing or unreachable PostgreSQL fails the test instead of skipping it."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'db' / 'nbmlops.db'}"
        return
    if not PG_URL:
        if REQUIRE_PG:
            pytest.fail("NBMLOPS_REQUIRE_PG=1 but NBMLOPS_TEST_PG_URL is not set (run .ci/postgres.sh)")
        pytest.skip("NBMLOPS_TEST_PG_URL not set (export NBMLOPS_TEST_PG_URL=$(.ci/postgres.sh))")
    import sqlalchemy as sa

    schema = f"t_{secrets.token_hex(6)}"  # a schema per test: independent, and dropped afterwards
    admin = sa.create_engine(PG_URL)
    try:
        with admin.begin() as conn:
            conn.exec_driver_sql(f"CREATE SCHEMA {schema}")
    except sa.exc.OperationalError as exc:
        pytest.fail(f"PostgreSQL at NBMLOPS_TEST_PG_URL is unreachable: {exc}")
    url = sa.engine.make_url(PG_URL).update_query_dict({"options": f"-csearch_path={schema}"})
    yield url.render_as_string(hide_password=False)
    with admin.begin() as conn:
        conn.exec_driver_sql(f"DROP SCHEMA {schema} CASCADE")
    admin.dispose()


@pytest.fixture
def store(db_url: str, home: Path):
    from nbmlops.store import open_store

    s = open_store(home, db_url=db_url)
    yield s
    s.close()


# an S3 API server for artifact roots on object storage (tests/store, tests/cluster): moto's standalone server
S3_START_TIMEOUT_S = 120
S3_CREDENTIALS = {  # moto takes any; what each machine's own credentials would be
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_EC2_METADATA_DISABLED": "true",
}


@pytest.fixture(scope="session")
def s3_credentials() -> dict[str, str]:
    return dict(S3_CREDENTIALS)


@pytest.fixture(scope="session")
def s3_server() -> Iterator[int]:
    """moto's S3 server on a free port of 127.0.0.1 (its port), for the session."""
    pytest.importorskip("moto")
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = int(sock.getsockname()[1])
    server = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + S3_START_TIMEOUT_S
    try:
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline or server.poll() is not None:
                    pytest.fail(f"moto's S3 server did not start on port {port}")
                time.sleep(0.2)
        yield port
    finally:
        server.terminate()
        server.wait(timeout=30)


@pytest.fixture
def s3_bucket(s3_server: int, monkeypatch: pytest.MonkeyPatch) -> str:
    """A fresh bucket; returns the artifact root URL for it (set as NBMLOPS_ARTIFACT_ROOT, credentials too)."""
    pafs = pytest.importorskip("pyarrow.fs")
    for key, value in S3_CREDENTIALS.items():
        monkeypatch.setenv(key, value)
    name = f"b{os.urandom(5).hex()}"
    options = f"endpoint_override=127.0.0.1:{s3_server}&scheme=http&region=us-east-1"
    fs, _ = pafs.FileSystem.from_uri(f"s3://{name}?{options}&allow_bucket_creation=true")
    fs.create_dir(name)
    url = f"s3://{name}/artifacts?{options}"
    monkeypatch.setenv("NBMLOPS_ARTIFACT_ROOT", url)
    return url
