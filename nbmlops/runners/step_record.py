"""What a finished run says about each of its steps: the step's status.json (written by the orchestrator, read
back by `nbmlops runs show`, the panel and the widgets) with typed names for the fields readers use.

A dict underneath, so `result.steps["train"]["status"]` and `json.dumps(result.steps)` keep working for code
written against the plain records; new code reads `record.status`, `record.seconds`, `record.origin` ...
"""

from __future__ import annotations

from typing import Any

from nbmlops.status import StepStatus


class StepRecord(dict[str, Any]):
    """One step's status.json. Fields a step may lack read as their empty value."""

    __slots__ = ()

    @property
    def status(self) -> StepStatus:
        return StepStatus(self["status"])

    @property
    def seconds(self) -> float:
        return float(self.get("duration") or 0.0)

    @property
    def attempts(self) -> int:
        return int(self.get("attempts") or 0)

    @property
    def outputs(self) -> dict[str, dict[str, Any]]:
        """Output name -> its stored value's record (file, sha256, ...)."""
        return self.get("outputs") or {}

    @property
    def cached(self) -> bool:
        return bool(self.get("cached"))

    @property
    def origin(self) -> str | None:
        """The run a cached or resumed step's values came from."""
        return self.get("cached_from") or self.get("reused_from")

    @property
    def reason(self) -> str:
        """Why the step ran (or was taken from where it was)."""
        return self.get("reason") or ""

    @property
    def error(self) -> str | None:
        return self.get("error")
