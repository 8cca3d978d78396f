"""Online/offline parity: replay sampled entities through both paths at one time and compare every feature.
Features defined once must show zero skew; anything else is a bug (or events pushed but not yet flushed
offline by another process). The store to check is an argument (api.parity defaults it to the project's).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from nbmlops.features.errors import FeatureError
from nbmlops.features.vectors import FeatureVector

if TYPE_CHECKING:
    from nbmlops.features.store import FeatureStore

TS = "__parity_ts"


@dataclass
class FeatureSkew:
    compared: int = 0
    mismatches: int = 0
    max_abs_diff: float = 0.0
    examples: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class ParityReport:
    vector: str
    rows: int
    as_of: pd.Timestamp | None
    features: dict[str, FeatureSkew]

    @property
    def ok(self) -> bool:
        return all(s.mismatches == 0 for s in self.features.values())

    @property
    def skew(self) -> int:
        return sum(s.mismatches for s in self.features.values())


def _same(a: Any, b: Any) -> tuple[bool, float]:
    a_null = a is None or (isinstance(a, float) and math.isnan(a)) or a is pd.NaT
    b_null = b is None or (isinstance(b, float) and math.isnan(b)) or b is pd.NaT
    if a_null or b_null:
        return a_null == b_null, 0.0 if a_null == b_null else math.inf
    if (
        isinstance(a, int | float | np.number)
        and isinstance(b, int | float | np.number)
        and not isinstance(a, bool)
        and not isinstance(b, bool)
    ):
        return float(a) == float(b), abs(float(a) - float(b))
    return a == b, 0.0 if a == b else math.inf


def parity(
    vector: FeatureVector | str, sample: int = 100, *, seed: int = 0, as_of: Any = None, store: FeatureStore
) -> ParityReport:
    """Replay `sample` entities of the vector (or a vector name the catalog knows) through both paths of
    `store` at one time (`as_of`, default the newest event) and count the values that differ."""
    from nbmlops.features.transform import timestamps_ns

    store.flush()
    if isinstance(vector, str):
        record = store.catalog.vector(vector)
        vector = FeatureVector(record["name"], record["features"], record.get("label"))
    online_vector = FeatureVector(vector.name, vector.features)  # labels aren't served online
    resolved = store.resolve(online_vector)
    first = resolved.groups[0].spec
    missing = [e for e in resolved.entities if e not in first.entities]
    if missing:
        raise FeatureError(
            f"feature vector '{vector.name}': parity samples entities from set '{first.name}', "
            f"which lacks {', '.join(missing)}"
        )
    entities = store.offline.read(first, columns=list(first.entities)).to_pandas().drop_duplicates()
    picked = entities.sample(n=min(sample, len(entities)), random_state=seed).reset_index(drop=True)
    if as_of is None:
        newest = [
            r.max_ts
            for g in resolved.groups
            for r in store.offline.ingests(g.spec.name, g.spec.version)
            if r.max_ts is not None
        ]
        as_of_ns = max(newest) if newest else None
    else:
        as_of_ns = int(timestamps_ns(pd.Series([as_of]), where="as_of")[0])
    report = ParityReport(
        vector.name,
        len(picked),
        None if as_of_ns is None else pd.Timestamp(as_of_ns),
        {c: FeatureSkew() for c in resolved.columns},
    )
    if not len(picked) or as_of_ns is None:
        return report
    entity_df = picked.assign(**{TS: pd.Timestamp(as_of_ns)})
    offline = store.get_offline_features(online_vector, entity_df, TS, cache=False)
    online = store.get_online_features(online_vector, picked.to_dict("records"), as_of=pd.Timestamp(as_of_ns))
    for column, skew in report.features.items():
        for i in range(len(picked)):
            a, b = offline[column].iloc[i], online.rows[i][column]
            same, diff = _same(a, b)
            skew.compared += 1
            if not same:
                skew.mismatches += 1
                skew.max_abs_diff = max(skew.max_abs_diff, diff)
                if len(skew.examples) < 3:
                    skew.examples.append({**picked.iloc[i].to_dict(), "offline": a, "online": b})
    return report
