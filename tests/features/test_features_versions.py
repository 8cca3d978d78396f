"""Feature-set schemas inferred at the first ingest, and versions: 'set.feature' reads the version last ingested,
'set@vN.feature' pins one, online and offline; nothing stored in one version is lost by switching to another."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from features_helpers import T0, entity_rows, make_store, transactions

from nbmlops.features import Expr, FeatureError, FeatureSet, FeatureStore, FeatureVector, Window, describe, parity
from nbmlops.features import store as store_module


def _asof(entity_df: pd.DataFrame, events: pd.DataFrame, column: str) -> pd.Series:
    """Reference point-in-time join (pandas.merge_asof, ties to the later row), in entity_df's order."""
    left = entity_df.reset_index().sort_values("ts", kind="stable")
    right = events.sort_values("ts", kind="stable")[["customer_id", "ts", column]]
    return pd.merge_asof(left, right, on="ts", by="customer_id").set_index("index").sort_index()[column]


def _same(got: pd.Series, expected: pd.Series) -> None:
    pd.testing.assert_series_equal(
        got.reset_index(drop=True).astype(object).where(got.notna().to_numpy(), None),
        expected.reset_index(drop=True).astype(object).where(expected.notna().to_numpy(), None),
        check_names=False,
    )


def _latest(events: pd.DataFrame, customer: int, column: str) -> object:
    return events[events.customer_id == customer].sort_values("ts", kind="stable").iloc[-1][column]


# -- schema inference ---------------------------------------------------------------------------------------
def test_first_ingest_fixes_the_inferred_features_and_their_types(home: Path) -> None:
    store = make_store(home)
    events = transactions(n=200)
    fset = FeatureSet("tx", entities=["customer_id"], timestamp="ts")  # no feature list
    assert store.ingest(fset, events).version == 1
    info = describe("tx", store)
    assert [(f.name, f.dtype, f.definition) for f in info.features] == [
        ("amount", "number", "column (inferred)"),
        ("channel", "str", "column (inferred)"),
    ]
    assert [(v.version, v.schema, v.features) for v in info.history] == [(1, "inferred", ["amount", "channel"])]
    stored = store.meta.db.query(
        "SELECT inferred, dtypes FROM feature_set_versions WHERE name = 'tx' AND version = 1"
    )  # the version's row in the catalog's database
    assert json.loads(stored[0]["inferred"]) == ["amount", "channel"]
    assert json.loads(stored[0]["dtypes"])["channel"] == "str"

    vector = FeatureVector("v", ["tx.amount", "tx.channel"])
    entity_df = entity_rows()
    out = store.get_offline_features(vector, entity_df, "ts")
    for column in ("amount", "channel"):
        _same(out[column], _asof(entity_df, events, column))
    online = store.get_online_features(vector, [{"customer_id": 4}])
    assert online[0]["amount"] == _latest(events, 4, "amount") and online[0]["channel"] == _latest(events, 4, "channel")

    # the same definition, in a fresh store (another process), reads the same version and its inferred columns;
    # a frame with its columns in another order and an extra column is fine: the extra column is no feature
    other = FeatureStore(home)
    more = transactions(n=30, seed=4).assign(note="x")[["note", "channel", "ts", "amount", "customer_id"]]
    assert other.ingest(FeatureSet("tx", ["customer_id"], "ts"), more).version == 1
    assert describe("tx", other).features[1].name == "channel" and len(describe("tx", other).features) == 2
    assert "note" not in other.offline.read(other.catalog.get("tx")).column_names
    with pytest.raises(FeatureError, match="unknown feature 'tx.note' \\(set 'tx' v1 has: amount, channel\\)"):
        other.get_offline_features(FeatureVector("n", ["tx.note"]), entity_df, "ts")


def test_a_later_frame_is_held_to_the_inferred_columns(home: Path) -> None:
    store = make_store(home)
    events = transactions(n=40)
    fset = FeatureSet("tx", ["customer_id"], "ts")
    store.ingest(fset, events)
    before = ([r.id for r in store.offline.ingests("tx", 1)], store.online.count("tx:v1"))
    with pytest.raises(
        FeatureError,
        match="feature set 'tx' v1: missing column\\(s\\) channel \\(its features "
        "were inferred at its first ingest: amount, channel\\)",
    ):
        store.ingest(fset, events.drop(columns="channel"))
    with pytest.raises(FeatureError, match="column 'channel' holds number values but the stored feature is str"):
        store.ingest(fset, events.assign(channel=1.5))
    with pytest.raises(FeatureError, match="feature set 'tx' v1: missing column\\(s\\) amount"):
        store.push(fset, {"customer_id": 1, "ts": T0, "channel": "web"})
    assert ([r.id for r in store.offline.ingests("tx", 1)], store.online.count("tx:v1")) == before


def test_a_rejected_first_frame_fixes_nothing(home: Path) -> None:
    store = make_store(home)
    events = transactions(n=20)
    fset = FeatureSet("tx", ["customer_id"], "ts")
    with pytest.raises(FeatureError, match="column 'bad': column holds mixed or unsupported values"):
        store.ingest(fset, events.assign(bad=[[1]] * len(events)))
    with pytest.raises(FeatureError, match="column 'a.b' can't be an inferred feature name"):
        store.ingest(fset, events.assign(**{"a.b": 1.0}))
    with pytest.raises(FeatureError, match="no feature columns to infer, the frame holds only customer_id, ts"):
        store.ingest(fset, events[["customer_id", "ts"]])
    assert describe("tx", store).history[0].schema == "inferred at first ingest"
    store.ingest(fset, events[["customer_id", "ts", "amount"]])  # the first frame that passes decides
    assert describe("tx", store).history[0].features == ["amount"]


def test_declared_transformations_work_beside_inferred_columns(home: Path) -> None:
    store = make_store(home)
    events = transactions(n=300, entities=10).assign(big=False)  # a column named like a declared feature
    fset = FeatureSet(
        "tx", ["customer_id"], "ts", ["*", Expr("big", "amount > 60"), Window("amount", ["sum", "count"], ["1d"])]
    )
    store.ingest(fset, events)
    names = [f.name for f in describe("tx", store).features]
    assert names == ["amount", "channel", "big", "amount_sum_1d", "amount_count_1d"]
    vector = FeatureVector("v", [f"tx.{n}" for n in names])
    entity_df = entity_rows(n=100, entities=12)
    out = store.get_offline_features(vector, entity_df, "ts")
    _same(out["big"], _asof(entity_df, events.assign(big=events.amount > 60), "big"))  # the Expr, not the column
    _same(out["channel"], _asof(entity_df, events, "channel"))
    assert parity(vector, store=store).ok


def test_pushed_events_infer_and_match_the_batch(home: Path) -> None:
    events = transactions(n=60, entities=5)
    fset = FeatureSet("tx", ["customer_id"], "ts", ["*", Window("amount", ["mean"], ["6h"])])
    live, batch = make_store(home / "live"), make_store(home / "batch")
    live.push(fset, events.iloc[0].to_dict())  # the first event decides the columns
    live.push_many(fset, events.iloc[1:])
    batch.ingest(fset, events)
    assert describe("tx", live, stats=False).features == describe("tx", batch, stats=False).features
    assert [f.name for f in describe("tx", live, stats=False).features] == ["amount", "channel", "amount_mean_6h"]
    vector = FeatureVector("v", ["tx.amount", "tx.channel", "tx.amount_mean_6h"])
    rows = [{"customer_id": k} for k in range(5)]
    as_of = events.ts.max()
    assert (
        live.get_online_features(vector, rows, as_of=as_of).rows
        == batch.get_online_features(vector, rows, as_of=as_of).rows
    )
    live.flush()
    assert sum(r.rows for r in live.offline.ingests("tx", 1)) == 60 and parity(vector, store=live).ok


# -- versions -------------------------------------------------------------------------------------------------
def _a_b_a(store: FeatureStore) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Definition A (amount) ingested, then B (amount, channel) with other amounts, then A again."""
    first, second = transactions(n=80, seed=1), transactions(n=40, seed=2)
    b_events = transactions(n=80, seed=3).assign(amount=lambda d: d.amount * 1000)
    a = FeatureSet("tx", ["customer_id"], "ts", ["amount"])
    b = FeatureSet("tx", ["customer_id"], "ts", ["amount", "channel"])
    assert store.ingest(a, first).version == 1
    assert store.ingest(b, b_events).version == 2
    assert store.ingest(a, second).version == 1
    return pd.concat([first, second], ignore_index=True), b_events


def test_vectors_read_the_version_last_ingested_and_pins_read_others(home: Path) -> None:
    store = make_store(home)
    a_events, b_events = _a_b_a(store)
    entity_df = entity_rows()
    vector = FeatureVector("v", ["tx.amount"])
    _same(store.get_offline_features(vector, entity_df, "ts")["amount"], _asof(entity_df, a_events, "amount"))
    pinned = FeatureVector("p", ["tx@v2.amount", "tx@v2.channel"])
    out = store.get_offline_features(pinned, entity_df, "ts")
    _same(out["amount"], _asof(entity_df, b_events, "amount"))
    _same(out["channel"], _asof(entity_df, b_events, "channel"))

    rows = [{"customer_id": 3}, {"customer_id": 7}]
    assert [r["amount"] for r in store.get_online_features(vector, rows).rows] == [
        _latest(a_events, 3, "amount"),
        _latest(a_events, 7, "amount"),
    ]
    assert [r["amount"] for r in store.get_online_features(pinned, rows).rows] == [
        _latest(b_events, 3, "amount"),
        _latest(b_events, 7, "amount"),
    ]  # v2's online rows are kept

    both = FeatureVector("both", ["tx@v1.amount", "tx@2.amount"])  # one set at two versions: columns say which
    got = store.get_online_features(both, rows[:1]).rows[0]
    assert got == {
        "customer_id": 3,
        "tx_v1__amount": _latest(a_events, 3, "amount"),
        "tx_v2__amount": _latest(b_events, 3, "amount"),
    }
    assert list(store.get_offline_features(both, entity_df, "ts").columns[-2:]) == ["tx_v1__amount", "tx_v2__amount"]
    assert parity(pinned, store=store).ok and parity(vector, store=store).ok

    info = describe("tx", store)
    assert (info.version, info.current, info.versions) == (1, 1, [1, 2])
    assert [(v.version, v.current, v.features, v.rows) for v in info.history] == [
        (1, True, ["amount"], 120),
        (2, False, ["amount", "channel"], 80),
    ]
    assert describe("tx@v2", store).features[1].name == "channel" and describe("tx@v2", store).rows == 80


def test_pushing_makes_a_version_current_and_other_stores_follow(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    store = make_store(home)
    _a_b_a(store)
    serving = FeatureStore(home)  # another process: reads the current version from the catalog
    vector = FeatureVector("v", ["tx.amount"])
    assert serving.resolve(vector).groups[0].spec.version == 1
    b = FeatureSet("tx", ["customer_id"], "ts", ["amount", "channel"])
    store.push(b, {"customer_id": 99, "ts": T0 + pd.Timedelta(days=9), "amount": 5.0, "channel": "web"})
    assert describe("tx", store).current == 2
    assert store.get_online_features(vector, [{"customer_id": 99}])[0]["amount"] == 5.0
    monkeypatch.setattr(store_module, "RESOLVE_TTL_S", 0.0)  # the serving store re-checks the catalog
    assert serving.get_online_features(vector, [{"customer_id": 99}])[0]["amount"] == 5.0


def test_bad_pins_name_the_version_and_list_the_known_ones(home: Path) -> None:
    store = make_store(home)
    _a_b_a(store)
    rows = entity_rows(n=5)
    cases = {
        "tx@v9.amount": "'tx@v9.amount': feature set 'tx' has no version 9 \\(versions: v1, v2; current: v1\\)",
        "tx@latest.amount": "'tx@latest.amount': '@latest' is not a version \\(write 'tx@v1.amount'\\)",
        "tx@v0.amount": "'@v0' is not a version",
        "tx.channel": "unknown feature 'tx.channel' \\(set 'tx' v1 has: amount; also in v2: read it as "
        "'tx@v2.channel'\\)",
    }
    for ref, message in cases.items():
        with pytest.raises(FeatureError, match=message):
            store.get_offline_features(FeatureVector("x", [ref]), rows, "ts")
        with pytest.raises(FeatureError, match=message):
            store.get_online_features(FeatureVector("y", [ref]), [{"customer_id": 1}])
    with pytest.raises(FeatureError, match="feature set 'tx' has no version 3 \\(versions: v1, v2"):
        describe("tx@v3", store)
