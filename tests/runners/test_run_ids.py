"""Run ids stay unique when many runs start in the same second, from threads or processes."""

from __future__ import annotations

import re
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from nbmlops.runners.rundir import RunDir, new_run_id


def test_a_thousand_run_folders_in_one_go_get_a_thousand_ids(tmp_path: Path) -> None:
    with ThreadPoolExecutor(8) as pool:
        made = list(pool.map(lambda _: RunDir.create(tmp_path).run_id, range(1000)))
    assert len(set(made)) == 1000 == len(list((tmp_path / "runs").iterdir()))
    assert all(re.fullmatch(r"\d{8}-\d{6}-[0-9a-f]{8}", run_id) for run_id in made)


def test_a_taken_id_is_drawn_again(tmp_path: Path, monkeypatch) -> None:
    taken = new_run_id()
    (tmp_path / "runs" / taken).mkdir(parents=True)
    draws = iter([taken, taken, "20261203-000000-0000abcd"])
    monkeypatch.setattr("nbmlops.runners.rundir.new_run_id", lambda: next(draws))
    assert RunDir.create(tmp_path).run_id == "20261203-000000-0000abcd"
