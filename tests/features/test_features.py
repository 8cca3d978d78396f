"""Feature store: point-in-time joins (= pandas.merge_asof), windows, versions, catalog, cache and lineage."""

from __future__ import annotations

import math
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from features_helpers import T0, entity_rows, make_store, transactions, tx_set

from nbmlops.features import FeatureError, FeatureSet, FeatureVector, Transform, Window, describe, parity

ROW = ["amount", "channel", "big"]


def _asof(
    entity_df: pd.DataFrame,
    events: pd.DataFrame,
    columns: list[str],
    by: str | list[str],
    ttl: pd.Timedelta | None = None,
) -> pd.DataFrame:
    """The reference: pandas merge_asof, backward, exact matches allowed, ties resolved to the last row."""
    left = entity_df.reset_index().sort_values("ts", kind="stable")
    right = events.sort_values("ts", kind="stable")[[*([by] if isinstance(by, str) else by), "ts", *columns]]
    merged = pd.merge_asof(left, right, on="ts", by=by, tolerance=ttl)
    return merged.set_index("index").sort_index()


def _equal(a: pd.Series, b: pd.Series) -> None:
    assert len(a) == len(b)
    for x, y in zip(a.tolist(), b.tolist(), strict=True):
        if isinstance(x, float) and math.isnan(x):
            assert y is None or (isinstance(y, float) and math.isnan(y)), (x, y)
        else:
            assert x == y, (x, y)


@pytest.mark.parametrize("ttl", [None, "12h"])
def test_point_in_time_join_equals_merge_asof(home: Path, ttl: str | None) -> None:
    store = make_store(home)
    events = transactions()
    events.loc[5, "amount"] = np.nan  # a null feature value is a value, not a reason to look further back
    fset = tx_set(ttl=ttl)
    store.ingest(fset, events.iloc[:250])
    store.ingest(fset, events.iloc[250:])  # two ingests read as one
    vector = FeatureVector("churn", [f"transactions.{c}" for c in ROW], label="churned")
    entity_df = entity_rows()
    out = store.get_offline_features(vector, entity_df, "ts")
    assert list(out.columns) == [*entity_df.columns, *ROW]
    pd.testing.assert_frame_equal(out[entity_df.columns], entity_df)  # rows and their order kept
    ref = _asof(
        entity_df, events.assign(big=events.amount > 60), ROW, "customer_id", pd.Timedelta(ttl) if ttl else None
    )
    for column in ROW:
        _equal(out[column], ref[column])
    assert out["amount"].isna().sum() > 0  # rows with no earlier value are kept, as nulls


def test_ties_string_and_multi_entity_keys(home: Path) -> None:
    store = make_store(home)
    events = pd.DataFrame(
        {
            "shop": ["a", "a", "b", "a", "b"],
            "sku": [1, 1, 1, 2, 1],
            "ts": [T0, T0, T0, T0 + pd.Timedelta("1h"), T0 - pd.Timedelta("1h")],
            "price": [1.0, 2.0, 3.0, 4.0, 5.0],
        }
    )
    fset = FeatureSet("prices", ["shop", "sku"], "ts", ["price"])
    store.ingest(fset, events)
    entity_df = pd.DataFrame(
        {
            "shop": ["a", "a", "b", "b", "c"],
            "sku": [1, 2, 1, 1, 1],
            "ts": [T0, T0 + pd.Timedelta("2h"), T0, T0 - pd.Timedelta("2h"), T0],
        }
    )
    out = store.get_offline_features(FeatureVector("p", ["prices.price"]), entity_df, "ts")
    _equal(out["price"], pd.Series([2.0, 4.0, 3.0, np.nan, np.nan]))  # the tie goes to the later arrival
    ref = _asof(entity_df, events, ["price"], ["shop", "sku"])
    _equal(out["price"], ref["price"])


def _brute_window(
    events: list[tuple], t: pd.Timestamp, column: str | None, agg: str, window: pd.Timedelta
) -> float | str | None:
    """One entity's events [(ts, amount, channel)] in arrival order; the plain definition of a window."""
    seen = [e for e in events if e[0] <= t]
    if not seen:
        return None
    inside = sorted((e for e in seen if e[0] > t - window), key=lambda e: e[0])  # stable: ties by arrival
    if column is None:
        return float(len(inside))
    values = [e[1] if column == "amount" else e[2] for e in inside]
    present = [v for v in values if not (isinstance(v, float) and math.isnan(v))]
    if agg == "count":
        return float(len(present))
    if agg == "sum":
        return float(sum(present))
    if agg == "distinct":
        return float(len(set(present)))
    if agg == "last":
        return values[-1] if values else None
    if not present:
        return None
    return {"mean": sum(present) / len(present), "min": min(present), "max": max(present)}[agg]


def test_window_features_match_brute_force(home: Path) -> None:
    store = make_store(home)
    events = transactions(n=300, entities=8)
    fset = tx_set()
    store.ingest(fset, events)
    names = [w.name for w in fset.windows]
    entity_df = entity_rows(n=120, entities=10)
    out = store.get_offline_features(FeatureVector("w", [f"transactions.{n}" for n in names]), entity_df, "ts")
    by_entity: dict[int, list[tuple]] = {}
    for row in events.itertuples():
        by_entity.setdefault(row.customer_id, []).append((row.ts, row.amount, row.channel))
    for w in fset.windows:
        window = pd.Timedelta(w.window_ns, "ns")
        for i, row in entity_df.iterrows():
            expected = _brute_window(by_entity.get(row.customer_id, []), row.ts, w.column, w.agg, window)
            got = out.loc[i, w.name]
            if expected is None:
                assert got is None or (isinstance(got, float) and math.isnan(got)), (w.name, i, got)
            elif isinstance(expected, str):
                assert got == expected, (w.name, i)
            else:
                assert got == pytest.approx(expected, rel=1e-9, abs=1e-9), (w.name, i, got, expected)


@pytest.mark.parametrize("kind", ["sqlite", "redis"])
def test_online_values_freshness_and_parity(home: Path, kind: str) -> None:
    store = make_store(home, kind)
    events = transactions()
    fset = tx_set()
    store.ingest(fset, events)
    names = fset.feature_names
    vector = FeatureVector("all", [f"transactions.{n}" for n in names])
    as_of = events.ts.max()
    got = store.get_online_features(vector, [{"customer_id": 3}, {"customer_id": 9999}], as_of=as_of)
    assert all(got[1][n] is None for n in names) and all(v is None for v in got.freshness[1].values())
    latest = events[events.customer_id == 3].sort_values("ts", kind="stable").iloc[-1]
    assert got[0]["amount"] == latest.amount and got[0]["channel"] == latest.channel
    assert got.freshness[0]["amount"] == pytest.approx((as_of - latest.ts).total_seconds())
    offline = store.get_offline_features(vector, pd.DataFrame({"customer_id": [3], "ts": [as_of]}), "ts")
    for n in names:
        _equal(offline[n], pd.Series([got[0][n]], dtype=object))
    report = parity(vector, sample=50, store=store)
    assert report.rows == 20 and report.ok and report.skew == 0
    assert set(report.features) == set(names)


@pytest.mark.parametrize("kind", ["sqlite", "redis"])
def test_push_goes_online_now_and_offline_on_flush(home: Path, kind: str) -> None:
    store = make_store(home, kind)
    fset = tx_set()
    events = transactions(n=60, entities=4)
    store.push(fset, events.iloc[0].to_dict())
    store.push_many(fset, events.iloc[1:30])
    store.push_many(fset, events.iloc[30:].to_dict("records"))
    vector = FeatureVector("v", [f"transactions.{n}" for n in fset.feature_names])
    assert store.offline.ingests("transactions", 1) == []
    store.flush()
    assert sum(r.rows for r in store.offline.ingests("transactions", 1)) == 60
    assert parity(vector, store=store).ok
    # late events: older than every window of their entity, they change nothing online; in windows they count
    late = events.iloc[:3].assign(ts=events.ts.min() - pd.Timedelta(days=30), amount=1e6)
    store.push_many(fset, late)
    assert parity(vector, store=store).ok


def test_text_transform_same_on_batch_and_event(home: Path) -> None:
    from sklearn.feature_extraction.text import HashingVectorizer

    hashing = HashingVectorizer(n_features=8, alternate_sign=False, norm=None)
    outputs = [f"text_h{i}" for i in range(8)]

    def hash_text(df: pd.DataFrame) -> pd.DataFrame:
        return pd.DataFrame(hashing.transform(df["text"].fillna("")).toarray(), columns=outputs, index=df.index)

    fset = FeatureSet(
        "tickets",
        ["customer_id"],
        "ts",
        [Transform(hash_text, outputs, inputs=("text",)), Window("text_h0", ["sum"], ["7d"])],
    )
    texts = ["card declined again", "refund please", "love the app", "declined declined"]
    frame = pd.DataFrame(
        {"customer_id": [1, 2, 1, 2], "ts": [T0 + pd.Timedelta(hours=h) for h in range(4)], "text": texts}
    )
    batch, live = make_store(home / "a"), make_store(home / "b")
    batch.ingest(fset, frame)
    for event in frame.to_dict("records"):
        live.push(fset, event)
    vector = FeatureVector("t", [f"tickets.{c}" for c in [*outputs, "text_h0_sum_7d"]])
    rows = [{"customer_id": 1}, {"customer_id": 2}]
    as_of = T0 + pd.Timedelta(hours=5)
    assert (
        batch.get_online_features(vector, rows, as_of=as_of).rows
        == live.get_online_features(vector, rows, as_of=as_of).rows
    )
    assert parity(vector, store=live).ok


def test_versions_never_mix(home: Path) -> None:
    store = make_store(home)
    events = transactions(n=50)
    v1 = store.ingest(tx_set(), events)
    assert v1.version == 1
    assert store.register(tx_set(description="new words", owner="someone")).version == 1  # metadata only
    changed = tx_set(features=["amount", Window("amount", ["sum"], ["2d"])])
    assert store.ingest(changed, events.iloc[:10]).version == 2
    vector = FeatureVector("v2", ["transactions.amount_sum_2d"])
    out = store.get_offline_features(
        vector, pd.DataFrame({"customer_id": events.customer_id[:10], "ts": events.ts[:10]}).drop_duplicates(), "ts"
    )
    assert out["amount_sum_2d"].notna().all()
    info = describe("transactions", store)
    assert (info.version, info.versions, info.rows) == (2, [1, 2], 10)  # v1's 50 rows stay in v1
    with pytest.raises(FeatureError, match="unknown feature 'transactions.amount_sum_1d'.*v2"):
        store.get_offline_features(FeatureVector("old", ["transactions.amount_sum_1d"]), out, "ts")


def test_catalog_statistics_freshness_vectors_models(home: Path) -> None:
    from nbmlops.tracking import start_run

    store = make_store(home)
    events = transactions(n=200)
    events.loc[:9, "amount"] = np.nan
    store.ingest(store and tx_set(), events)
    vector = FeatureVector("churn", ["transactions.amount", "transactions.amount_sum_1d"], label="churned")
    with start_run("train") as run:
        train = store.get_offline_features(vector, entity_rows(), "ts")
        run.store.add_edge("model_version", "churn:1", "run", run.id, "trained_by")
    info = describe("transactions", store)
    stats = {f.name: f.stats for f in info.features}
    amount = stats["amount"]
    present = events.amount.dropna()
    assert (amount["count"], amount["nulls"]) == (190, 10)
    assert amount["min"] == present.min() and amount["max"] == present.max()
    assert amount["mean"] == pytest.approx(present.mean()) and amount["distinct"] == present.nunique()
    assert sum(amount["histogram"]["counts"]) == 190
    assert stats["channel"]["distinct"] == 3 and stats["amount_count_1h"]["count"] == 200
    assert info.owner == "risk-team" and info.description == "card transactions"
    assert info.vectors == ["churn"] and info.models == ["churn:1"]
    assert info.freshness_s is not None and info.freshness_s > 0 and info.online_entities == 20
    edges = run.store.edges("run", run.id, "out")
    assert any(e.to_kind == "training_set" and e.to_id == train.attrs["training_set"] for e in edges)


def test_training_sets_are_cached_by_definitions_data_and_rows(home: Path) -> None:
    store = make_store(home)
    events = transactions(n=2000, entities=200)
    store.ingest(tx_set(), events)
    vector = FeatureVector("v", ["transactions.amount", "transactions.amount_sum_1d"])
    entity_df = entity_rows(n=2000, entities=200)
    first = store.get_offline_features(vector, entity_df, "ts")
    started = time.perf_counter()
    again = store.get_offline_features(vector, entity_df, "ts")
    assert time.perf_counter() - started < 5
    pd.testing.assert_frame_equal(first, again)
    assert again.attrs["training_set"] == first.attrs["training_set"]
    other = store.get_offline_features(vector, entity_df.iloc[:-1], "ts")
    assert other.attrs["training_set"] != first.attrs["training_set"]
    store.ingest(tx_set(), transactions(n=5, seed=9))
    assert store.get_offline_features(vector, entity_df, "ts").attrs["training_set"] != first.attrs["training_set"]


def test_ingest_from_parquet_path(home: Path, tmp_path: Path) -> None:
    store = make_store(home)
    path = tmp_path / "tx.parquet"
    transactions(n=30).to_parquet(path)
    record = store.ingest(tx_set(), path)
    assert record.rows == 30 and record.source == str(path) and len(record.sha256) == 64
    assert all(f["path"].split("/")[-2].startswith("date=") for f in record.files)


def _state(store) -> tuple[list[str], int]:  # noqa: ANN001
    return [r.id for r in store.offline.ingests("transactions", 1)], store.online.count("transactions:v1")


def test_bad_input_names_the_column_and_changes_nothing(home: Path) -> None:
    store = make_store(home)
    events = transactions(n=40)
    store.ingest(tx_set(), events)
    before = _state(store)
    bad = {
        "missing entity column 'customer_id'": events.drop(columns="customer_id"),
        "missing timestamp column 'ts'": events.drop(columns="ts"),
        "1 row\\(s\\) have no timestamp": events.assign(ts=events.ts.where(events.index != 3, None)),
        "entity column 'customer_id' has 1 null": events.assign(
            customer_id=events.customer_id.astype(float).where(events.index != 2, None)
        ),
        "column 'channel' holds number values but the stored feature is str": events.assign(channel=3.5),
        "expression 'amount > 60' of feature 'big' failed": events.assign(amount="lots"),
        "missing feature column 'channel'": events.drop(columns="channel"),
        "entity column 'customer_id' holds str keys": events.assign(customer_id=events.customer_id.astype(str)),
    }
    for message, frame in bad.items():
        with pytest.raises(FeatureError, match=message):
            store.ingest(tx_set(), frame)
        assert _state(store) == before
    with pytest.raises(FeatureError, match="no timestamp|missing timestamp column 'ts'"):
        store.push(tx_set(), {"customer_id": 1, "amount": 3.0, "channel": "web"})
    with pytest.raises(FeatureError, match="timestamps must be datetimes"):
        store.push(tx_set(), {"customer_id": 1, "ts": 12, "amount": 3.0, "channel": "web"})
    assert _state(store) == before

    vector = FeatureVector("v", ["transactions.amount"])
    rows = entity_rows(n=10)
    with pytest.raises(FeatureError, match="unknown feature 'transactions.nope'"):
        store.get_offline_features(FeatureVector("x", ["transactions.nope"]), rows, "ts")
    with pytest.raises(FeatureError, match="unknown feature set 'nosuch'"):
        store.get_offline_features(FeatureVector("x", ["nosuch.f"]), rows, "ts")
    with pytest.raises(FeatureError, match="missing timestamp column 'when'"):
        store.get_offline_features(vector, rows, "when")
    with pytest.raises(FeatureError, match="missing entity column 'customer_id'"):
        store.get_offline_features(vector, rows.drop(columns="customer_id"), "ts")
    with pytest.raises(FeatureError, match="1 duplicate row\\(s\\) of \\(customer_id, ts\\)"):
        store.get_offline_features(vector, pd.concat([rows, rows.iloc[:1]]), "ts")
    with pytest.raises(FeatureError, match="entity column 'customer_id' has 1 null"):
        store.get_offline_features(
            vector, rows.assign(customer_id=rows.customer_id.astype(float).where(rows.index != 0, None)), "ts"
        )
    with pytest.raises(FeatureError, match="holds str keys but feature set 'transactions' keys are int"):
        store.get_offline_features(vector, rows.assign(customer_id=rows.customer_id.astype(str)), "ts")
    with pytest.raises(FeatureError, match="entity row without column 'customer_id'"):
        store.get_online_features(vector, [{"id": 1}])
    with pytest.raises(FeatureError, match="feature 'x_sum_1d' needs numbers but column 'x' holds str"):
        store.ingest(FeatureSet("s", ["customer_id"], "ts", [Window("x", ["sum"], ["1d"])]), events.assign(x="text"))
    with pytest.raises(FeatureError, match="unknown aggregation 'median' on 'amount'"):
        Window("amount", ["median"]) and FeatureSet("s", ["customer_id"], "ts", [Window("amount", ["median"])])
    with pytest.raises(FeatureError, match="'3 days' is not a duration"):
        FeatureSet("s", ["customer_id"], "ts", [Window("amount", ["sum"], ["3 days"])])


def test_rejected_online_half_rolls_back_the_offline_write(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    store = make_store(home)
    store.ingest(tx_set(), transactions(n=20))
    before = _state(store)

    def broken(*_args: object, **_kwargs: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(store.online, "update", broken)
    with pytest.raises(OSError, match="disk full"):
        store.ingest(tx_set(), transactions(n=20, seed=5))
    assert _state(store) == before


def test_many_point_in_time_lookups_match_searchsorted() -> None:
    """Above 10,000 queries the lookups are searched in sorted order; the answers must not change."""
    from nbmlops.features.pit import _search_right

    rng = np.random.default_rng(3)
    keys = np.sort(rng.integers(0, 50_000, 200_000))
    queries = rng.integers(-10, 50_010, 60_000)
    assert np.array_equal(_search_right(keys, queries), np.searchsorted(keys, queries, side="right"))


OPEN_ONLINE = """
import sys, time
from pathlib import Path
from nbmlops.features.online import SQLiteOnline

work, who, at, rounds = Path(sys.argv[1]), sys.argv[2], float(sys.argv[3]), int(sys.argv[4])
for k in range(rounds):  # every process opens store k at the same instant (to a few ms)
    time.sleep(max(0.0, at + 0.1 * k - time.time()))
    SQLiteOnline(work / f"online{k}.db").put_latest("t", [(who, 1, [who])])
"""


def test_processes_opening_one_new_online_store_at_once_all_succeed(tmp_path: Path) -> None:
    """Switching a new SQLite file to WAL can fail at once (no busy wait) while another process opens it."""
    import subprocess
    import sys

    from nbmlops.features.online import SQLiteOnline

    n, rounds = 6, 15
    at = str(time.time() + 6)  # after every process has imported
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", OPEN_ONLINE, str(tmp_path), str(i), at, str(rounds)],
            stderr=subprocess.PIPE,
            text=True,
        )
        for i in range(n)
    ]
    errors = [p.communicate(timeout=120)[1] for p in procs]
    assert [p.returncode for p in procs] == [0] * n, "\n".join(errors)[-3000:]
    assert [SQLiteOnline(tmp_path / f"online{k}.db").count("t") for k in range(rounds)] == [n] * rounds
