"""Shared builders for the feature-store tests."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from nbmlops.features import Expr, FeatureSet, FeatureStore, Window

REDIS_URL = os.environ.get("NBMLOPS_TEST_REDIS_URL")
REQUIRE_REDIS = os.environ.get("NBMLOPS_REQUIRE_REDIS") == "1"
T0 = pd.Timestamp("2024-03-01")


def online_url(kind: str) -> str | None:
    """None (the SQLite default) or the test Redis; skips (or fails under NBMLOPS_REQUIRE_REDIS=1) without one."""
    if kind == "sqlite":
        return None
    if not REDIS_URL:
        if REQUIRE_REDIS:
            pytest.fail("NBMLOPS_REQUIRE_REDIS=1 but NBMLOPS_TEST_REDIS_URL is not set (run .ci/redis.sh)")
        pytest.skip("NBMLOPS_TEST_REDIS_URL not set (export NBMLOPS_TEST_REDIS_URL=$(.ci/redis.sh))")
    return REDIS_URL


def make_store(home: Path, kind: str = "sqlite") -> FeatureStore:
    return FeatureStore(home, online_url=online_url(kind))


def transactions(n: int = 400, entities: int = 20, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "customer_id": rng.integers(0, entities, n),
            "ts": T0 + pd.to_timedelta(rng.integers(0, 5 * 86400, n), "s"),
            "amount": rng.normal(50, 20, n).round(2),
            "channel": rng.choice(["web", "shop", "app"], n),
        }
    )


def tx_set(**kwargs: object) -> FeatureSet:
    args: dict = {
        "name": "transactions",
        "entities": ["customer_id"],
        "timestamp": "ts",
        "features": [
            "amount",
            "channel",
            Expr("big", "amount > 60"),
            Window("amount", ["count", "sum", "mean", "min", "max", "last"], ["1h", "1d"]),
            Window("channel", ["distinct", "last"], ["1d"]),
            Window(None, ["count"], ["6h"]),
        ],
        "description": "card transactions",
        "owner": "risk-team",
    }
    args.update(kwargs)
    return FeatureSet(**args)


def entity_rows(n: int = 300, entities: int = 25, seed: int = 1) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {
            "customer_id": rng.integers(0, entities, n),  # some ids never seen: their rows keep nulls
            "ts": T0 + pd.to_timedelta(rng.integers(-86400, 6 * 86400, n), "s"),
            "churned": rng.integers(0, 2, n),
        }
    )
    return frame.drop_duplicates(["customer_id", "ts"]).reset_index(drop=True)


def write_json_catalog(
    root: Path,
    records: list[dict],
    *,
    current: dict[str, int] | None = None,
    vectors: list[dict] | None = None,
    claim_inferred: bool = True,
) -> None:
    """A catalog as nbmlops wrote it before migration 0007, under the artifact root: v<N>.json per version,
    the inferred columns in inferred-v<N>.json (the claim file, which decided them: left out of v<N>.json when
    claim_inferred), current.json per set, and vectors/<name>.json."""
    import json

    for record in records:
        folder = root / "features" / "catalog" / record["name"]
        folder.mkdir(parents=True, exist_ok=True)
        body = dict(record)
        if claim_inferred and body.get("inferred") is not None:
            columns = body.pop("inferred")
            (folder / f"inferred-v{record['version']}.json").write_text(json.dumps({"columns": columns, "at": 0}))
        (folder / f"v{record['version']}.json").write_text(json.dumps(body, indent=1, sort_keys=True))
    for name, version in (current or {}).items():
        (root / "features" / "catalog" / name / "current.json").write_text(json.dumps({"version": version}))
    for vector in vectors or []:
        folder = root / "features" / "vectors"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"{vector['name']}.json").write_text(json.dumps(vector))
