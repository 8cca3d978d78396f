"""Runs one notebook through nbmlops in its own process and writes what the test compares, as JSON.

    python driver.py NOTEBOOK BACKEND HOME RESULT_JSON

The notebook is compiled and run with the public API (`compile_notebook`, `run_pipeline`) in a process of its
own: the local backend runs the notebook's code in-process, and a third-party notebook changes process state
(sys.meta_path, library configuration, the working directory) that must not reach the test session. The values
each step handed on are then loaded from the run folder and fingerprinted (corpus_fingerprint.py).
"""

from __future__ import annotations

import json
import sys
import traceback
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from corpus_fingerprint import MAX_NODES, fingerprint  # noqa: E402 - this folder is put on sys.path first


def first_lines(text: str, count: int = 12) -> str:
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return "\n".join(lines[:count] + (["..."] if len(lines) > count else []))


def load_outputs(status: dict[str, Any], outputs_dir: Path) -> dict[str, Any]:
    from nbmlops.runners import StoredValue, load_value

    found: dict[str, Any] = {}
    for name, record in (status.get("outputs") or {}).items():
        try:
            value = load_value(StoredValue(**record), outputs_dir)
        except Exception as exc:  # noqa: BLE001 - an output that can't be loaded is a finding, not a crash
            found[name] = {"unloadable": f"{type(exc).__name__}: {exc}", "format": record.get("format")}
            continue
        try:
            parts = fingerprint(value)
        except Exception as exc:  # noqa: BLE001
            found[name] = {"uncomparable": f"fingerprinting raised {type(exc).__name__}: {exc}"}
            continue
        found[name] = {"parts": parts} if parts is not None else {"uncomparable": f"more than {MAX_NODES} objects"}
        found[name]["format"] = record.get("format")
    return found


def run(notebook: str, backend: str, home: str) -> dict[str, Any]:
    from nbmlops.errors import NbmlopsError
    from nbmlops.pipeline import compile_notebook
    from nbmlops.runners import run_pipeline

    result: dict[str, Any] = {"compiled": False, "run_status": None, "error": None, "warnings": [], "steps": []}
    try:
        spec = compile_notebook(notebook)
    except NbmlopsError as exc:
        result["error"] = f"compile failed: {exc}"
        return result
    result["compiled"] = True
    result["warnings"] = list(spec.warnings)
    run_id = None
    try:
        ran = run_pipeline(spec, home=home, backend=backend, use_cache=False)
        run_id, result["run_status"] = ran.run_id, ran.status
    except NbmlopsError as exc:  # StepFailed and its kin: the run folder still says what happened
        run_id = getattr(exc, "run_id", None)
        result["run_status"] = "failed"
        result["error"] = first_lines(str(exc))
    except Exception as exc:  # noqa: BLE001 - an nbmlops crash is reported with its traceback
        result["run_status"] = "crashed"
        result["error"] = first_lines(traceback.format_exc(), 30)
        result["exception"] = type(exc).__name__
    run_dir = Path(home) / "runs" / run_id if run_id else None
    for step in spec.steps:
        entry: dict[str, Any] = {
            "name": step.name,
            "last_cell": step.cells[-1].index,
            "cells": [c.index for c in step.cells],
            "outputs_expected": list(step.outputs),
            "status": "not run",
            "error": None,
            "outputs": {},
        }
        status_path = run_dir / "steps" / step.name / "status.json" if run_dir else None
        if status_path is not None and status_path.is_file():
            status = json.loads(status_path.read_text())
            entry["status"] = status.get("status")
            if status.get("status") == "failed":
                entry["error"] = first_lines(str(status.get("error") or "")) or first_lines(
                    str(status.get("traceback") or "")
                )
            elif status.get("status") == "succeeded":
                entry["outputs"] = load_outputs(status, status_path.parent / "outputs")
        result["steps"].append(entry)
    return result


def main(argv: list[str]) -> int:
    notebook, backend, home, result_path = argv
    result = run(notebook, backend, home)
    Path(result_path).write_text(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
