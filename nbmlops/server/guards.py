"""Limits on what a request may ask of the server, each answered with a 4xx naming what was refused:

- a body over MAX_BODY_BYTES is 413; a body that is not a JSON object, or nested deeper than Python can parse, 400;
- a query argument that should be a bounded whole number (`limit`) is parsed as the CLI parses it, 400 naming it;
- more than `max_run_workers` runs at once from this server (default MAX_RUN_WORKERS, or the environment's
  NBMLOPS_MAX_RUN_WORKERS) is 429: each run is a worker process, and ten POSTs must not start ten;
- messages name files relative to the server root, as JupyterLab shows them, never the server's absolute paths.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable
from typing import Any

from tornado.web import HTTPError

MAX_BODY_BYTES = 64 * 1024 * 1024  # a notebook posted with its outputs (the panel sends the editor's content)
MAX_RUN_WORKERS = 4
MAX_LIMIT = 10_000  # rows one listing returns


def parse_body(raw: bytes | None) -> dict[str, Any]:
    """The JSON object of a request body; 413 / 400 otherwise."""
    if raw and len(raw) > MAX_BODY_BYTES:
        raise HTTPError(413, f"the request body is {len(raw):,} bytes; at most {MAX_BODY_BYTES:,}")
    try:
        data = json.loads(raw or b"{}")
    except (ValueError, UnicodeDecodeError):
        raise HTTPError(400, "the request body is not JSON") from None
    except RecursionError:
        raise HTTPError(400, "the request body is nested too deep") from None
    if not isinstance(data, dict):
        raise HTTPError(400, "the request body must be a JSON object")
    return data


def bounded_int(text: str, name: str, low: int = 1, high: int = MAX_LIMIT) -> int:
    """`text` as a whole number from `low` to `high`, or 400 naming the parameter."""
    value = text.strip()
    if not value.isascii() or not value.lstrip("-").isdigit() or len(value) > 12 or not low <= int(value) <= high:
        shown = value if len(value) <= 30 else value[:30] + "…"
        raise HTTPError(400, f"{name} must be a whole number from {low} to {high:,}, not '{shown}'")
    return int(value)


def relative_message(message: str, root_dir: str) -> str:
    """`message` with the server root's absolute path taken out of every path it names (`/srv/root/a/b.ipynb`
    becomes `a/b.ipynb`), whichever spelling of the root (as configured, or with symlinks resolved) it uses."""
    for root in sorted({root_dir.rstrip("/"), os.path.realpath(root_dir)}, key=len, reverse=True):
        if root and root != "/":
            message = message.replace(root + "/", "")
            message = re.sub(re.escape(root) + r"(?=$|[\s:'\",;)])", ".", message)  # the root itself
    return message


def max_run_workers(settings: dict[str, Any]) -> int:
    configured = settings.get("nbmlops_max_run_workers") or os.environ.get("NBMLOPS_MAX_RUN_WORKERS")
    try:
        return max(1, int(configured)) if configured else MAX_RUN_WORKERS
    except ValueError:
        return MAX_RUN_WORKERS


class RunSlots:
    """How many run workers this server has going. A slot is taken before the first `await` of a POST (so ten
    POSTs at once can't all pass the check) and held by the job it starts until that job is no longer active."""

    def __init__(self) -> None:
        self.reserved = 0
        self.jobs: set[str] = set()

    def take(self, limit: int, active: Callable[[str], bool]) -> None:
        self.jobs = {job_id for job_id in self.jobs if active(job_id)}
        if len(self.jobs) + self.reserved >= limit:
            raise HTTPError(429, f"{limit} runs are going already (the server's limit); wait for one to finish")
        self.reserved += 1

    def started(self, job_id: str | None) -> None:
        self.reserved -= 1
        if job_id:
            self.jobs.add(job_id)
