"""The run folder `.nbmlops/runs/<run_id>/`: the spec, run.json, and per step its status, logs and outputs."""

from __future__ import annotations

import json
import os
import threading
import time
from pathlib import Path
from typing import Any, NamedTuple

from nbmlops.errors import RunError
from nbmlops.runners.marshal import StoredValue


def new_run_id() -> str:
    """UTC time + 32 random bits (secrets: a 5 ms import): sortable, and a sweep starting a thousand runs in one
    second collides about once in ten thousand such seconds; RunDir.create draws again when it does."""
    return time.strftime("%Y%m%d-%H%M%S", time.gmtime()) + "-" + os.urandom(4).hex()


def write_json(path: Path, data: dict[str, Any], indent: int | None = None) -> None:
    """Write JSON atomically: a reader (or a crash) never sees half a file. Compact by default: json's C
    encoder only runs without indent, and a step writes several of these."""
    # pid and thread in the name: a sweep's children write the same cache entries from several threads
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}-{threading.get_ident()}")
    with open(tmp, "w") as handle:
        handle.write(json.dumps(data, indent=indent, default=str))
    os.replace(tmp, path)


class RunDir(NamedTuple):  # a NamedTuple: cheaper than a dataclass to create at import
    root: Path

    @property
    def run_id(self) -> str:
        return self.root.name

    @classmethod
    def create(cls, home: Path, run_id: str | None = None) -> RunDir:
        if run_id is not None:
            root = home / "runs" / run_id
            root.mkdir(parents=True, exist_ok=False)
            return cls(root)
        (home / "runs").mkdir(parents=True, exist_ok=True)
        for _ in range(8):  # mkdir is the claim: two processes drawing the same id can't both make the folder
            root = home / "runs" / new_run_id()
            try:
                root.mkdir()
            except FileExistsError:
                continue
            return cls(root)
        raise RunError(f"could not find a free run id under {home / 'runs'}")

    @classmethod
    def open(cls, home: Path, run_id: str) -> RunDir:
        root = home / "runs" / run_id
        if not (root / "run.json").is_file():
            known = sorted(p.name for p in (home / "runs").glob("*") if (p / "run.json").is_file())[-5:]
            hint = f" (latest: {', '.join(known)})" if known else ""
            raise RunError(f"no run '{run_id}' in {home / 'runs'}{hint}")
        return cls(root)

    def step_dir(self, step: str) -> Path:
        return self.root / "steps" / step

    def outputs_dir(self, step: str) -> Path:
        return self.step_dir(step) / "outputs"

    def write_run(self, data: dict[str, Any]) -> None:
        write_json(self.root / "run.json", data, indent=1)  # the file a person opens: written twice a run

    def read_run(self) -> dict[str, Any]:
        return json.loads((self.root / "run.json").read_text())

    def write_status(self, step: str, data: dict[str, Any]) -> None:
        path = self.step_dir(step) / "status.json"
        try:
            write_json(path, data)
        except FileNotFoundError:  # the step's first record: make its folder (not one mkdir per write)
            path.parent.mkdir(parents=True, exist_ok=True)
            write_json(path, data)

    def read_status(self, step: str) -> dict[str, Any] | None:
        path = self.step_dir(step) / "status.json"
        return json.loads(path.read_text()) if path.is_file() else None

    def stored_outputs(self, step: str) -> dict[str, StoredValue]:
        status = self.read_status(step) or {}
        return {name: StoredValue(**record) for name, record in (status.get("outputs") or {}).items()}
