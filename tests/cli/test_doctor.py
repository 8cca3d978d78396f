"""`nbmlops doctor` as a user runs it: one line per configured part, exit 2 naming what is wrong and where."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

NBMLOPS = str(Path(sys.executable).with_name("nbmlops"))
REDIS_URL = os.environ.get("NBMLOPS_TEST_REDIS_URL")


def doctor(tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("NBMLOPS_")}
    return subprocess.run(
        [NBMLOPS, "doctor"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        env={**base, "NBMLOPS_HOME": str(tmp_path / ".nbmlops"), **env},
    )


def lines(done: subprocess.CompletedProcess[str]) -> dict[str, str]:
    out = {}
    for line in done.stdout.strip().splitlines():
        verdict, rest = line[:3].strip(), line[3:].strip()
        part = next(p for p in ("database", "artifact root", "ray", "online store") if rest.startswith(p))
        out[part] = f"{verdict} {rest[len(part) :].strip()}"
    return out


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])  # closed again when this returns: nothing listens there


def test_a_fresh_project_is_healthy(tmp_path: Path) -> None:
    done = doctor(tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    found = lines(done)
    assert set(found) == {"database", "artifact root", "ray", "online store"}
    assert all(text.startswith("ok") for text in found.values())
    assert not list((tmp_path / ".nbmlops" / "artifacts").iterdir())  # the probe file is gone again


def test_each_broken_part_is_one_line_and_exit_2(tmp_path: Path) -> None:
    blocked = tmp_path / "not-a-folder"
    blocked.write_text("a file where the artifact root should be")
    done = doctor(
        tmp_path,
        NBMLOPS_DB_URL=f"postgresql+psycopg://x:y@127.0.0.1:{closed_port()}/none",
        NBMLOPS_ARTIFACT_ROOT=str(blocked / "artifacts"),
        NBMLOPS_RAY_ADDRESS=f"127.0.0.1:{closed_port()}",
        NBMLOPS_ONLINE_STORE=f"redis://127.0.0.1:{closed_port()}/0",
    )
    assert done.returncode == 2 and "Traceback" not in done.stderr
    found = lines(done)
    assert all(text.startswith("BAD") for text in found.values()), found
    assert "unreachable" in found["database"] and "***" in found["database"]  # the password stays hidden
    assert "not writable" in found["artifact root"] and str(blocked) in found["artifact root"]
    assert "unreachable" in found["ray"] and "unreachable" in found["online store"]


@pytest.mark.skipif(not REDIS_URL, reason="NBMLOPS_TEST_REDIS_URL not set")
@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)  # a schema of its own in the test PostgreSQL
def test_a_team_setup_that_works(tmp_path: Path, db_url: str) -> None:
    from nbmlops.store import open_store

    open_store(tmp_path / ".nbmlops", db_url=db_url).close()  # migrated to head
    done = doctor(tmp_path, NBMLOPS_DB_URL=db_url, NBMLOPS_ONLINE_STORE=REDIS_URL)
    assert done.returncode == 0, done.stdout
    assert "schema at" in lines(done)["database"] and "answers" in lines(done)["online store"]
