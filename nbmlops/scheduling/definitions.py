"""What a schedule is (the `Schedule` value object, as stored) and how one is built from what a user typed:
every field checked before anything is stored, each error naming its field.

Triggers besides time are dicts: {"kind": "files", "glob": "data/*.parquet", "param": "new_files"} (the glob is
relative to the project folder, the one holding .nbmlops), {"kind": "drift", "model": "churn@production"},
{"kind": "after", "name": "etl"} (a schedule or pipeline name whose successful runs start this one).
"""

from __future__ import annotations

import json
import re
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from nbmlops.errors import NbmlopsError
from nbmlops.names import name_problem
from nbmlops.scheduling.cron import check_cron, parse_time, zone
from nbmlops.scheduling.errors import ScheduleError

CATCHUP = ("skip", "once", "all")
MODEL_URI = re.compile(r"^[A-Za-z0-9][\w.-]*(?:@[\w.-]+|:\d+)?$")
GLOB_CHARS = re.compile(r"[*?\[]")
DEFAULT_FILES_PARAM = "new_files"
DEFAULT_RETRY_DELAY_S = 60.0


@dataclass
class Schedule:
    name: str
    target: str  # absolute path of the notebook or pipeline.json
    cron: str | None
    timezone: str = "UTC"
    params: dict[str, Any] = field(default_factory=dict)
    backend: str = "local"
    catchup: str = "once"
    retries: int = 0
    retry_delay: float = DEFAULT_RETRY_DELAY_S
    paused: bool = False
    triggers: list[dict[str, Any]] = field(default_factory=list)
    state: dict[str, Any] = field(default_factory=dict)
    cron_cursor: float = 0.0
    last_error: str | None = None
    created_at: float = 0.0
    updated_at: float = 0.0

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> Schedule:
        data = dict(row)
        for key in ("params", "triggers", "state"):
            data[key] = json.loads(data[key]) if data.get(key) else ({} if key != "triggers" else [])
        data["paused"] = bool(data["paused"])  # SQLite hands back 0/1
        return cls(**data)

    def to_row(self) -> dict[str, Any]:
        row = asdict(self)
        for key in ("params", "triggers", "state"):
            row[key] = json.dumps(row[key], sort_keys=True, default=str)
        return row

    def trigger(self, kind: str) -> dict[str, Any] | None:
        return next((t for t in self.triggers if t["kind"] == kind), None)

    def describe_triggers(self) -> list[str]:
        """One readable line per trigger, time included: what `schedule ls` and the lab panel show."""
        lines = [f"cron {self.cron} ({self.timezone})"] if self.cron else []
        for t in self.triggers:
            if t["kind"] == "files":
                lines.append(f"new files {t['glob']} -> {t['param']}")
            elif t["kind"] == "drift":
                lines.append(f"drift of {t['model']}")
            else:
                lines.append(f"after {t['name']} succeeds")
        return lines


def project_root(home: Path) -> Path:
    """The project folder: the one holding the .nbmlops home (globs and relative paths are read from there)."""
    return home.resolve().parent


def check_name(name: str) -> str:
    """The one name rule (nbmlops.names): a schedule's name is also a systemd unit's and a log file's."""
    problem = name_problem(name)
    if problem is not None:
        raise ScheduleError(f"--name {name!r}: a schedule name {problem}")
    return name


def check_glob(pattern: str, root: Path) -> str:
    """The glob, relative to the project folder; a ScheduleError when it reaches outside it."""
    if not pattern or not pattern.strip():
        raise ScheduleError("--on-new-files: give a glob such as 'data/*.parquet'")
    path = Path(pattern)
    fixed = (
        Path(
            *[
                p
                for p in path.parts[
                    : next((i for i, p in enumerate(path.parts) if GLOB_CHARS.search(p)), len(path.parts))
                ]
            ]
        )
        if path.parts
        else Path()
    )
    base = (fixed if fixed.is_absolute() else root / fixed).resolve()
    if ".." in path.parts or not base.is_relative_to(root):
        raise ScheduleError(f"--on-new-files '{pattern}': the glob reaches outside the project {root}")
    return str(path.relative_to(root)) if path.is_absolute() else str(path)


def matching_files(pattern: str, root: Path) -> dict[str, float]:
    """{absolute path: mtime} of the files the glob matches now (folders left out)."""
    found: dict[str, float] = {}
    for path in root.glob(pattern):
        try:
            if path.is_file():
                found[str(path.resolve())] = path.stat().st_mtime
        except OSError:  # vanished between the listing and the stat: not there
            continue
    return found


def build_schedule(
    target: str,
    *,
    home: Path,
    cron: str | None = None,
    timezone: str = "UTC",
    name: str | None = None,
    params: list[str] | dict[str, Any] | None = None,
    backend: str = "local",
    catchup: str = "once",
    retries: int = 0,
    retry_delay: float = DEFAULT_RETRY_DELAY_S,
    start: str | None = None,
    on_new_files: str | None = None,
    files_param: str = DEFAULT_FILES_PARAM,
    on_drift: str | None = None,
    after: str | None = None,
    now: float | None = None,
) -> Schedule:
    """A checked Schedule (not stored yet). The notebook is compiled and the parameters parsed to its types."""
    from nbmlops.pipeline import load_pipeline, resolve_parameters
    from nbmlops.runners import BACKENDS

    now = time.time() if now is None else now
    root = project_root(home)
    path = Path(target).expanduser()
    path = (path if path.is_absolute() else Path.cwd() / path).resolve()
    if not path.is_file():
        raise ScheduleError(f"NOTEBOOK '{target}': no such file")
    try:
        spec = load_pipeline(str(path))
    except NbmlopsError as exc:
        raise ScheduleError(f"NOTEBOOK '{target}' does not compile: {exc}") from None
    if not (cron or on_new_files or on_drift or after):
        raise ScheduleError("--cron: give a cron expression, or a trigger (--on-new-files, --on-drift, --after)")
    zone(timezone)
    cron = check_cron(cron, timezone) if cron else None
    if backend not in BACKENDS:
        raise ScheduleError(f"--backend '{backend}': one of {', '.join(BACKENDS)}")
    if catchup not in CATCHUP:
        raise ScheduleError(f"--catchup '{catchup}': one of {', '.join(CATCHUP)}")
    if not isinstance(retries, int) or isinstance(retries, bool) or retries < 0:
        raise ScheduleError(f"--retries '{retries}': a whole number >= 0")
    if not isinstance(retry_delay, int | float) or retry_delay < 0:
        raise ScheduleError(f"--retry-delay '{retry_delay}': seconds >= 0")
    given = params or {}
    try:
        values = resolve_parameters(spec, given)
    except NbmlopsError as exc:
        raise ScheduleError(f"-p: {exc}") from None
    keys = list(given) if isinstance(given, dict) else [item.partition("=")[0].strip() for item in given]
    chosen = {k: list(values[k]) if isinstance(values[k], tuple) else values[k] for k in keys}
    try:
        json.dumps(chosen)
    except TypeError as exc:
        raise ScheduleError(f"-p: a value that can't be stored as JSON ({exc})") from None
    triggers: list[dict[str, Any]] = []
    state: dict[str, Any] = {}
    if on_new_files:
        pattern = check_glob(on_new_files, root)
        if files_param not in spec.defaults:
            known = ", ".join(spec.defaults) or "none: the notebook has no parameters cell"
            raise ScheduleError(
                f"--files-param '{files_param}': the notebook has no such parameter to receive "
                f"the new files (parameters: {known})"
            )
        triggers.append({"kind": "files", "glob": pattern, "param": files_param})
        state["files_seen"] = matching_files(pattern, root)  # what is there now is not new
    if on_drift:
        if not MODEL_URI.match(on_drift):
            raise ScheduleError(f"--on-drift '{on_drift}': a model such as churn, churn@production or churn:3")
        triggers.append({"kind": "drift", "model": on_drift})
        state["drift_since"] = now
    if after:
        triggers.append({"kind": "after", "name": after})
        state["after_since"] = now
    chosen_name = check_name(name or spec.name or path.stem)
    if after == chosen_name:
        raise ScheduleError(f"--after '{after}': a schedule can't wait for itself")
    cursor = parse_time(start, "--start") if start else now
    return Schedule(
        name=chosen_name,
        target=str(path),
        cron=cron,
        timezone=timezone,
        params=chosen,
        backend=backend,
        catchup=catchup,
        retries=retries,
        retry_delay=float(retry_delay),
        triggers=triggers,
        state=state,
        cron_cursor=cursor,
        created_at=now,
        updated_at=now,
    )
