"""Alerts (drift in k of the last n windows) and the retraining they can start.

Retraining runs the `--on-drift` command (`run NOTEBOOK -p ...`) through the same CLI in a subprocess. Every
model version of the monitored model registered while it ran gets the alias `staging` (a person promotes it), and
lineage edges say why it exists: model_version -> drift_result and run -> drift_result, relation 'triggered_by'.
"""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nbmlops.monitoring.errors import MonitoringError

if TYPE_CHECKING:
    from nbmlops.store import Store

ON = ("dataset", "prediction", "any")
STAGING = "staging"
TRIGGER_ENV = "NBMLOPS_TRIGGER"  # the retraining process sees which drift result started it


@dataclass
class AlertRule:
    """Alert when the drift signal (`on`: dataset drift, prediction drift, or either) holds in at least k of the
    last n stored windows; `on_drift` is the command to run then."""

    k: int = 1
    n: int = 1
    on: str = "dataset"
    on_drift: str | None = None

    def __post_init__(self) -> None:
        if self.k < 1 or self.n < 1 or self.k > self.n:
            raise MonitoringError(
                f"alert needs 1 <= k <= n (drift in k of the last n windows), not k={self.k} n={self.n}"
            )
        if self.on not in ON:
            raise MonitoringError(f"alert 'on' must be one of {', '.join(ON)}, not '{self.on}'")

    def signal(self, dataset_drift: bool, prediction_drift: bool | None) -> bool:
        if self.on == "dataset":
            return bool(dataset_drift)
        if self.on == "prediction":
            return bool(prediction_drift)
        return bool(dataset_drift) or bool(prediction_drift)

    def fires(self, signals_newest_first: Sequence[bool]) -> bool:
        return sum(bool(s) for s in list(signals_newest_first)[: self.n]) >= self.k

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> AlertRule:
        return cls(**{k: data[k] for k in ("k", "n", "on", "on_drift") if k in data})


@dataclass
class Retraining:
    command: str
    returncode: int
    seconds: float
    versions: list[str] = field(default_factory=list)  # "name:N" registered by it, now @staging
    runs: list[str] = field(default_factory=list)


def _command(command: str) -> list[str]:
    args = shlex.split(command)
    if args and args[0] == "nbmlops":
        args = args[1:]
    if not args or args[0] != "run":
        raise MonitoringError(
            f"--on-drift takes an nbmlops run command such as \"run retrain.ipynb -p lr=0.1\", not '{command}'"
        )
    return args


def retrain(
    command: str,
    *,
    model_name: str,
    result_id: str,
    store: Store,
    home: str | Path | None = None,
    capture: bool = False,
) -> Retraining:
    """Run the retraining pipeline; tag what it registered @staging and link it to the drift result."""
    from nbmlops.monitoring.storage import DRIFT_RESULT

    args = _command(command)
    env = dict(os.environ)
    env[TRIGGER_ENV] = f"{DRIFT_RESULT}:{result_id}"
    env["NBMLOPS_HOME"] = str(store.settings.home if home is None else Path(home).resolve())
    started = time.time()
    proc = subprocess.run(
        [sys.executable, "-m", "nbmlops.cli.main", *args], env=env, check=False, capture_output=capture, text=True
    )
    outcome = Retraining(command=command, returncode=proc.returncode, seconds=time.time() - started)
    if proc.returncode != 0:
        return outcome
    from nbmlops.registry import list_model_versions, set_alias

    new = [v for v in list_model_versions(model_name, store=store) if v.created_at >= started]
    for version in sorted(new, key=lambda v: v.version):
        store.add_edge("model_version", version.lineage_id, DRIFT_RESULT, result_id, "triggered_by")
        outcome.versions.append(version.uri)
    if new:
        set_alias(model_name, STAGING, max(v.version for v in new), store=store)
    for run in store.list_runs(check_stale=False, limit=50):
        if run.started_at >= started:
            store.add_edge("run", run.id, DRIFT_RESULT, result_id, "triggered_by")
            outcome.runs.append(run.id)
    return outcome
