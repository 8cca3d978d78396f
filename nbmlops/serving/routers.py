"""Routers: steps that split a request between model versions where a graph has one model step.

- Canary(stable, candidate, percent=10): that share of requests goes to the candidate, chosen by a hash of the
  request id (so a retried request with the same id goes the same way); the answer names the version used.
- Shadow(main, shadow): the main model answers; the shadow sees the same rows off the request path, its
  predictions are logged under '<name>@shadow' and compared with the main's, never returned.
- Ensemble([a, b, ...], how="mean"|"vote"): every model predicts; the mean, or the most common answer per row.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Sequence
from typing import Any

import numpy as np

from nbmlops.serving.errors import GraphError
from nbmlops.serving.model_step import Answer, Model
from nbmlops.serving.rows import Rows


def as_model(step: Model | str) -> Model:
    if isinstance(step, Model):
        return step
    if isinstance(step, str):
        return Model(step)
    raise GraphError(f"a router takes model steps or model URIs ('churn:3'), not {type(step).__name__}")


def share_of(request_id: str) -> float:
    """A stable number in [0, 1) from the request id."""
    digest = hashlib.blake2b(request_id.encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2**64


class Canary:
    def __init__(self, stable: Model | str, candidate: Model | str, percent: float = 10.0) -> None:
        if not 0 <= float(percent) <= 100:
            raise GraphError(f"Canary: percent must be between 0 and 100, not {percent}")
        self.stable, self.candidate, self.percent = as_model(stable), as_model(candidate), float(percent)

    def models(self) -> list[Model]:
        return [self.stable, self.candidate]

    def label(self) -> str:
        return f"canary {self.percent:g}%"

    def branches(self) -> list[tuple[str, Model]]:
        return [(f"{100 - self.percent:g}%", self.stable), (f"{self.percent:g}%", self.candidate)]

    def describe(self) -> dict[str, Any]:
        return {
            "step": "canary",
            "percent": self.percent,
            "stable": self.stable.describe(),
            "candidate": self.candidate.describe(),
        }

    def predict(self, rows: Rows, *, allow_extra: bool, request_id: str) -> Answer:
        chosen = self.candidate if share_of(request_id) * 100 < self.percent else self.stable
        return chosen.predict(rows, allow_extra=allow_extra, request_id=request_id)


class Shadow:
    def __init__(self, main: Model | str, shadow: Model | str) -> None:
        self.main, self.shadow = as_model(main), as_model(shadow)

    def models(self) -> list[Model]:
        return [self.main, self.shadow]

    def label(self) -> str:
        return "shadow"

    def branches(self) -> list[tuple[str, Model]]:
        return [("answers", self.main), ("shadow, logged", self.shadow)]

    def describe(self) -> dict[str, Any]:
        return {"step": "shadow", "main": self.main.describe(), "shadow": self.shadow.describe()}

    def predict(self, rows: Rows, *, allow_extra: bool, request_id: str) -> Answer:
        answer = self.main.predict(rows, allow_extra=allow_extra, request_id=request_id)
        answer.shadows.append((self.shadow, rows))
        return answer


class Ensemble:
    def __init__(self, models: Sequence[Model | str], how: str = "mean") -> None:
        if how not in ("mean", "vote"):
            raise GraphError(f"Ensemble: how must be 'mean' or 'vote', not '{how}'")
        self.members = [as_model(m) for m in models]
        if len(self.members) < 2:
            raise GraphError("Ensemble: give at least two models")
        self.how = how

    def models(self) -> list[Model]:
        return list(self.members)

    def label(self) -> str:
        return f"ensemble ({self.how})"

    def branches(self) -> list[tuple[str, Model]]:
        return [("", m) for m in self.members]

    def describe(self) -> dict[str, Any]:
        return {"step": "ensemble", "how": self.how, "models": [m.describe() for m in self.members]}

    def predict(self, rows: Rows, *, allow_extra: bool, request_id: str) -> Answer:
        answers = [m.predict(rows, allow_extra=allow_extra, request_id=request_id) for m in self.members]
        stacked = [np.asarray(a.predictions) for a in answers]
        if self.how == "mean":
            combined = np.mean(np.stack([s.astype(float) for s in stacked]), axis=0)
        else:
            combined = np.asarray(
                [Counter(column).most_common(1)[0][0] for column in zip(*(s.tolist() for s in stacked), strict=True)]
            )
        version = "ensemble(" + ",".join(a.model_version for a in answers) + ")"
        return Answer(combined, version, answers[0].log_name, answers[0].inputs, answers[0].columns)


ROUTERS = (Canary, Shadow, Ensemble)
