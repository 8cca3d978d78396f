"""`nbmlops features ls|show|vectors|parity` through click's CliRunner on the group."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner
from features_helpers import entity_rows, transactions, tx_set

from nbmlops.cli_features import features
from nbmlops.features import FeatureVector, default_store


def _seed() -> None:
    store = default_store()
    store.ingest(tx_set(), transactions())
    vector = FeatureVector("churn", ["transactions.amount", "transactions.amount_sum_1d",
                                     "transactions.channel_last_1d"], label="churned")
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
