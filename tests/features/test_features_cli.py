"""`nbmlops features ls|show|vectors|parity` through click's CliRunner on the group."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner
from features_helpers import entity_rows, transactions, tx_set

from nbmlops.cli.features import features
from nbmlops.features import FeatureVector, default_store


def _seed() -> None:
    store = default_store()
    store.ingest(tx_set(), transactions())
    vector = FeatureVector(
        "churn", ["transactions.amount", "transactions.amount_sum_1d", "transactions.channel_last_1d"], label="churned"
    )
    store.get_offline_features(vector, entity_rows(), "ts")


def test_ls_show_vectors_and_parity(home: Path) -> None:
    runner = CliRunner()
    assert "no feature sets yet" in runner.invoke(features, ["ls"]).output
    _seed()
    result = runner.invoke(features, ["ls"])
    assert result.exit_code == 0 and "transactions" in result.output and "churn" in result.output
    listed = json.loads(runner.invoke(features, ["ls", "--json"]).output)
    assert listed[0]["name"] == "transactions" and listed[0]["rows"] == 400
    result = runner.invoke(features, ["show", "transactions"])
    assert result.exit_code == 0 and "amount_sum_1d" in result.output and "risk-team" in result.output
    shown = json.loads(runner.invoke(features, ["show", "transactions", "--json"]).output)
    assert shown["features"][0]["stats"]["count"] == 400
    assert "transactions.amount_sum_1d" in runner.invoke(features, ["vectors"]).output
    result = runner.invoke(features, ["parity", "churn", "--sample", "15"])
    assert result.exit_code == 0, result.output
    assert "zero skew" in result.output and "15 entities" in result.output
    report = json.loads(runner.invoke(features, ["parity", "churn", "--json"]).output)
    assert report["ok"] and all(f["mismatches"] == 0 for f in report["features"].values())


def test_errors_are_one_line_and_exit_2(home: Path) -> None:
    runner = CliRunner()
    result = runner.invoke(features, ["show", "nosuch"])
    assert result.exit_code == 2 and result.output.startswith("error: unknown feature set 'nosuch'")
    result = runner.invoke(features, ["parity", "nosuch"])
    assert result.exit_code == 2 and "unknown feature vector 'nosuch'" in result.output


def test_ls_and_show_list_every_version_and_the_current_one(home: Path) -> None:
    from features_helpers import T0

    from nbmlops.features import FeatureSet

    store = default_store()
    events = transactions(n=30)
    inferred = FeatureSet("tx", ["customer_id"], "ts")
    store.ingest(inferred, events)
    store.ingest(FeatureSet("tx", ["customer_id"], "ts", ["amount"]), events.iloc[:10])
    store.push(inferred, {"customer_id": 1, "ts": T0, "amount": 1.0, "channel": "web"})  # v1 current again
    runner = CliRunner()
    result = runner.invoke(features, ["ls"])
    assert result.exit_code == 0 and "│ v1      │ v1, v2   │" in result.output, result.output
    listed = json.loads(runner.invoke(features, ["ls", "--json"]).output)[0]
    assert (listed["version"], listed["current"]) == (1, 1)
    assert [(v["version"], v["current"], v["schema"], v["features"], v["rows"]) for v in listed["history"]] == [
        (1, True, "inferred", ["amount", "channel"], 30),
        (2, False, "declared", ["amount"], 10),
    ]
    result = runner.invoke(features, ["show", "tx"])
    assert result.exit_code == 0 and "tx v1 (current)" in result.output
    assert "│ v1      │ *       │ inferred │ amount, channel │ 30   │" in result.output, result.output
    assert "│ v2      │         │ declared │ amount          │ 10   │" in result.output
    result = runner.invoke(features, ["show", "tx@v2", "--json"])
    shown = json.loads(result.output)
    assert (shown["version"], shown["current"], shown["rows"]) == (2, 1, 10)
    assert "tx v2 (current: v1)" in runner.invoke(features, ["show", "tx@v2"]).output
    result = runner.invoke(features, ["show", "tx@v7"])
    assert result.exit_code == 2
    assert result.output.startswith("error: feature set 'tx' has no version 7 (versions: v1, v2; current: v1)")
