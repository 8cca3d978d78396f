"""Feature store benchmark: nbmlops vs Feast (file offline store, SQLite online store), pandas merge_asof and
DuckDB's ASOF JOIN, on the same data in the same run; prints ratios.

    .venv/bin/python bench/bench_features.py [--scale 1.0] [--skip-feast]

Scale 1.0 is the issue's size: a point-in-time join of 1,000,000 entity rows against 2,000,000 feature rows
(100,000 entities, 5 features). Feast and DuckDB run in their own virtualenv, bench/.peers/feast (created here on
first use), driven as subprocesses. Writes only under bench/.work/ and bench/.peers/ (both git-ignored).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pandas as pd

BENCH = Path(__file__).resolve().parent
WORK = BENCH / ".work" / "features"
PEER = BENCH / ".peers" / "feast"
PEER_PY = PEER / "bin" / "python"
T0 = pd.Timestamp("2024-01-01")
FEATURES = [f"f{i}" for i in range(5)]

FEAST_SCRIPT = textwrap.dedent("""
    import json, sys, time, statistics
    from datetime import timedelta
    import pandas as pd
    from feast import Entity, FeatureStore, FeatureView, Field, FileSource
    from feast.repo_config import RepoConfig
    from feast.types import Float64

    work, n_lookups = sys.argv[1], int(sys.argv[2])
    out = {}
    config = RepoConfig(project="bench", registry=f"{work}/feast/registry.db", provider="local",
                        offline_store={"type": "file"},
                        online_store={"type": "sqlite", "path": f"{work}/feast/online.db"},
                        entity_key_serialization_version=3)
    store = FeatureStore(config=config)
    source = FileSource(path=f"{work}/features_feast.parquet", timestamp_field="event_timestamp")
    customer = Entity(name="customer", join_keys=["customer_id"])
    view = FeatureView(name="tx", entities=[customer], ttl=timedelta(days=3650), source=source,
                       schema=[Field(name=f, dtype=Float64) for f in %(features)r])
    store.apply([customer, view])
    refs = [f"tx:{f}" for f in %(features)r]
    entity_df = pd.read_parquet(f"{work}/entities_feast.parquet")
    t = time.perf_counter()
    result = store.get_historical_features(entity_df=entity_df, features=refs).to_df()
    out["pit_s"] = time.perf_counter() - t
    out["pit_rows"] = len(result)
    result.to_parquet(f"{work}/feast_result.parquet")
    t = time.perf_counter()
    start, end = (pd.Timestamp(d, tz="UTC").to_pydatetime() for d in ("2000-01-01", "2030-01-01"))
    store.materialize(start, end)
    out["materialize_s"] = time.perf_counter() - t
    ids = entity_df["customer_id"].drop_duplicates().tolist()
    one = []
    for i in range(n_lookups):
        t = time.perf_counter()
        store.get_online_features(features=refs, entity_rows=[{"customer_id": ids[i %% len(ids)]}]).to_dict()
        one.append(time.perf_counter() - t)
    many = []
    for i in range(10):
        rows = [{"customer_id": ids[(i * 1000 + j) %% len(ids)]} for j in range(1000)]
        t = time.perf_counter()
        store.get_online_features(features=refs, entity_rows=rows).to_dict()
        many.append(time.perf_counter() - t)
    out["online_one"] = one
    out["online_1000"] = many
    print(json.dumps(out))
""") % {"features": FEATURES}

DUCKDB_SCRIPT = textwrap.dedent("""
    import json, sys, time
    import duckdb
    work = sys.argv[1]
    con = duckdb.connect()
    con.execute(f"CREATE TABLE f AS SELECT * FROM '{work}/features.parquet'")
    con.execute(f"CREATE TABLE e AS SELECT * FROM '{work}/entities.parquet'")
    t = time.perf_counter()
    con.execute("CREATE TABLE r AS SELECT e.customer_id, e.ts, e.label, %(cols)s FROM e ASOF LEFT JOIN f "
                "ON e.customer_id = f.customer_id AND e.ts >= f.ts")
    join_s = time.perf_counter() - t
    t = time.perf_counter()
    result = con.execute("SELECT * FROM r").df()
    fetch_s = time.perf_counter() - t
    result.to_parquet(f"{work}/duckdb_result.parquet")
    print(json.dumps({"join_s": join_s, "join_fetch_s": join_s + fetch_s, "rows": len(result)}))
""") % {"cols": ", ".join(f"f.{f}" for f in FEATURES)}


def make_data(scale: float, seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
    rng = np.random.default_rng(seed)
    n_entities, n_features, n_rows = int(100_000 * scale), int(2_000_000 * scale), int(1_000_000 * scale)
    span = 30 * 86400
    features = pd.DataFrame(
        {
            "customer_id": rng.integers(0, n_entities, n_features),
            "ts": T0 + pd.to_timedelta(rng.integers(0, span, n_features), "s"),
        }
    )
    for name in FEATURES:
        features[name] = rng.normal(0, 1, n_features)
    entities = pd.DataFrame(
        {
            "customer_id": rng.integers(0, n_entities, n_rows),
            "ts": T0 + pd.to_timedelta(rng.integers(0, span, n_rows), "s"),
        }
    )
    entities = entities.drop_duplicates(["customer_id", "ts"]).reset_index(drop=True)
    entities["label"] = rng.integers(0, 2, len(entities))
    for frame in (features, entities):
        frame["ts"] = frame["ts"].astype("datetime64[ns]")
    return features, entities


def ensure_peer() -> None:
    if PEER_PY.exists():
        return
    print(f"creating {PEER} (feast, duckdb) ...", flush=True)
    subprocess.run([sys.executable, "-m", "venv", str(PEER)], check=True)
    subprocess.run([str(PEER_PY), "-m", "pip", "install", "-q", "feast", "duckdb"], check=True)


def run_peer(script: str, name: str, *args: str) -> dict:
    path = WORK / f"{name}.py"
    path.write_text(script)
    done = subprocess.run([str(PEER_PY), str(path), str(WORK), *args], capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"{name} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def timed(fn, *args, **kwargs):  # noqa: ANN001, ANN002, ANN003, ANN201
    started = time.perf_counter()
    value = fn(*args, **kwargs)
    return time.perf_counter() - started, value


def same_values(ours: pd.DataFrame, theirs: pd.DataFrame, *, keep_ours_missing: bool = False) -> tuple[int, int]:
    """(rows compared, rows differing) joined on (customer_id, ts); NaN equals NaN."""
    left = ours[["customer_id", "ts", *FEATURES]]
    right = theirs[["customer_id", "ts", *FEATURES]]
    merged = left.merge(right, on=["customer_id", "ts"], suffixes=("", "_p"), how="inner")
    differ = np.zeros(len(merged), dtype=bool)
    for f in FEATURES:
        a, b = merged[f].to_numpy(), merged[f + "_p"].to_numpy()
        differ |= ~((a == b) | (np.isnan(a) & np.isnan(b)))
    return len(merged), int(differ.sum())


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--skip-feast", action="store_true")
    parser.add_argument("--lookups", type=int, default=2000)
    args = parser.parse_args()
    WORK.mkdir(parents=True, exist_ok=True)
    home = WORK / "home" / ".nbmlops"
    if home.parent.exists():
        import shutil

        shutil.rmtree(home.parent)
    os.environ["NBMLOPS_HOME"] = str(home)
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs; scale {args.scale}", flush=True)

    features, entities = make_data(args.scale)
    print(
        f"{len(entities):,} entity rows x {len(features):,} feature rows "
        f"({features.customer_id.nunique():,} entities, {len(FEATURES)} features)",
        flush=True,
    )
    features.to_parquet(WORK / "features.parquet")
    entities.to_parquet(WORK / "entities.parquet")
    results: dict[str, float] = {}

    # -- nbmlops ---------------------------------------------------------------------------------------------
    from nbmlops.features import FeatureSet, FeatureStore, FeatureVector

    store = FeatureStore(home)
    fset = FeatureSet("tx", ["customer_id"], "ts", FEATURES)
    vector = FeatureVector("bench", [f"tx.{f}" for f in FEATURES], label="label")
    results["ingest_s"], _ = timed(store.ingest, fset, features)
    results["pit_s"], ours = timed(store.get_offline_features, vector, entities, "ts", cache=False)
    results["pit_cached_cold_s"], _ = timed(store.get_offline_features, vector, entities, "ts")
    results["pit_cache_hit_s"], _ = timed(store.get_offline_features, vector, entities, "ts")
    ids = entities.customer_id.drop_duplicates().tolist()
    one = []
    for i in range(args.lookups):
        started = time.perf_counter()
        store.get_online_features(vector, [{"customer_id": ids[i % len(ids)]}])
        one.append(time.perf_counter() - started)
    many = []
    for i in range(10):
        rows = [{"customer_id": ids[(i * 1000 + j) % len(ids)]} for j in range(1000)]
        started = time.perf_counter()
        store.get_online_features(vector, rows)
        many.append(time.perf_counter() - started)
    live = FeatureStore(WORK / "live" / ".nbmlops")
    events = features.iloc[:3000].to_dict("records")
    results["push_s"], _ = timed(lambda: [live.push(fset, e, offline=False) for e in events])
    batch_events = features.iloc[:100_000]
    results["push_many_s"], _ = timed(live.push_many, fset, batch_events, offline=False)

    # -- pandas merge_asof (sort both sides, as the caller must) ----------------------------------------------
    def merge_asof() -> pd.DataFrame:
        return pd.merge_asof(entities.sort_values("ts"), features.sort_values("ts"), on="ts", by="customer_id")

    results["merge_asof_s"], reference = timed(merge_asof)
    compared, differing = same_values(ours, reference)
    missing = int(ours[FEATURES[0]].isna().sum())

    # -- peers in their own virtualenv --------------------------------------------------------------------------
    ensure_peer()
    duck = run_peer(DUCKDB_SCRIPT, "peer_duckdb")
    duck_compared, duck_differ = same_values(ours, pd.read_parquet(WORK / "duckdb_result.parquet"))
    feast = None
    if not args.skip_feast:
        for frame, name in ((features, "features_feast"), (entities, "entities_feast")):
            utc = frame.rename(columns={"ts": "event_timestamp"})
            utc["event_timestamp"] = utc["event_timestamp"].dt.tz_localize("UTC")
            utc.to_parquet(WORK / f"{name}.parquet")
        print("running Feast (minutes at scale 1) ...", flush=True)
        feast = run_peer(FEAST_SCRIPT, "peer_feast", str(min(args.lookups, 1000)))
        theirs = pd.read_parquet(WORK / "feast_result.parquet").rename(columns={"event_timestamp": "ts"})
        theirs["ts"] = theirs["ts"].dt.tz_convert("UTC").dt.tz_localize(None).astype("datetime64[ns]")
        feast_compared, feast_differ = same_values(ours, theirs)

    # -- report ----------------------------------------------------------------------------------------------------
    p = lambda xs, q: float(np.percentile(xs, q)) * 1000  # noqa: E731
    print()
    print(f"point-in-time join ({len(entities):,} x {len(features):,}):")
    print(
        f"  nbmlops get_offline_features    {results['pit_s']:8.2f} s  (cache off; {missing:,} rows without an "
        f"earlier value kept as nulls)"
    )
    print(
        f"  nbmlops, first call caching it  {results['pit_cached_cold_s']:8.2f} s;  asked again: "
        f"{results['pit_cache_hit_s']:.2f} s"
    )
    print(
        f"  pandas merge_asof (with sorts)  {results['merge_asof_s']:8.2f} s  equal on {compared:,} rows, "
        f"{differing} differ"
    )
    print(
        f"  DuckDB ASOF LEFT JOIN           {duck['join_s']:8.2f} s  ({duck['join_fetch_s']:.2f} s with fetch to "
        f"pandas); equal on {duck_compared:,} rows, {duck_differ} differ"
    )
    fastest = min(results["merge_asof_s"], duck["join_fetch_s"])
    print(f"  nbmlops / fastest in-process ({fastest:.2f} s): {results['pit_s'] / fastest:.2f}x (target <= 1.5x)")
    if feast:
        print(
            f"  Feast get_historical_features   {feast['pit_s']:8.2f} s  kept {feast['pit_rows']:,} of "
            f"{len(entities):,} rows; equal on {feast_compared:,} rows, {feast_differ} differ"
        )
        print(f"  Feast / nbmlops: {feast['pit_s'] / results['pit_s']:.1f}x faster (target >= 10x)")
    print("online lookups:")
    print(
        f"  nbmlops 1 entity   p50 {p(one, 50):.3f} ms  p99 {p(one, 99):.3f} ms; 1,000 entities "
        f"{statistics.median(many) * 1000:.1f} ms (median of 10)"
    )
    if feast:
        print(
            f"  Feast   1 entity   p50 {p(feast['online_one'], 50):.3f} ms  p99 {p(feast['online_one'], 99):.3f} "
            f"ms; 1,000 entities {statistics.median(feast['online_1000']) * 1000:.1f} ms"
        )
        print(
            f"  Feast / nbmlops: 1 entity {p(feast['online_one'], 50) / p(one, 50):.1f}x (target >= 3x), "
            f"1,000 entities {statistics.median(feast['online_1000']) / statistics.median(many):.1f}x "
            "(target >= 10x)"
        )
    print("writes:")
    print(
        f"  nbmlops ingest (offline + online)  {len(features) / results['ingest_s']:12,.0f} rows/s "
        f"({results['ingest_s']:.2f} s)"
    )
    if feast:
        print(
            f"  Feast materialize to SQLite        {len(features) / feast['materialize_s']:12,.0f} rows/s "
            f"({feast['materialize_s']:.2f} s; its offline store is the Parquet file itself)"
        )
    print(f"  nbmlops push, one event per call   {len(events) / results['push_s']:12,.0f} events/s")
    print(f"  nbmlops push_many (100,000 events) {len(batch_events) / results['push_many_s']:12,.0f} events/s")
    print(f"load average at the end {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
