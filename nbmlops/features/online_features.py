"""OnlineFeatures: what an online lookup returns (serving.read_online builds it, FeatureStore hands it out)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pandas as pd


@dataclass
class OnlineFeatures:
    """Rows (entity columns + features; null for unknown entities) and, per row, each feature's age in seconds
    (time from its newest event to the read time; None where there is no value)."""

    rows: list[dict[str, Any]]
    freshness: list[dict[str, float | None]]

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, i: int) -> dict[str, Any]:
        return self.rows[i]

    def to_df(self) -> pd.DataFrame:
        return pd.DataFrame(self.rows)
