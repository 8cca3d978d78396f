"""`nbmlops models ls|show|alias|tag|rm`, through click's test runner (the project home is NBMLOPS_HOME)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner
from sklearn.linear_model import LogisticRegression

from nbmlops.cli.models import models
from nbmlops.registry import get_model_version, list_models, register_model
from nbmlops.tracking import start_run


@pytest.fixture
def registered(home: Path) -> pd.DataFrame:
    rng = np.random.default_rng(1)
    frame = pd.DataFrame({"tenure": rng.integers(0, 72, 200), "plan": rng.choice(["basic", "pro"], 200)})
    target = (frame["tenure"] < 12).astype(int)
    with start_run("train", params={"C": 0.5}) as run:
        run.log_metric("auc", 0.83)
        for c in (0.5, 1.0):
            clf = LogisticRegression(C=c).fit(frame[["tenure"]], target)
            register_model(clf, "churn", input_example=frame.head(), reference_data=frame, tags={"team": "ml"})
    register_model({"rule": "tenure < 12"}, "rules")
    return frame


def invoke(*args: str, input: str | None = None):  # noqa: A002 - click's name
    return CliRunner().invoke(models, list(args), input=input, catch_exceptions=True)


def test_ls_table_and_json(registered) -> None:
    result = invoke("ls")
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].split() == ["name", "latest", "versions", "aliases", "updated"]
    assert lines[1].split()[:4] == ["churn", "2", "2", "-"] and lines[2].split()[:3] == ["rules", "1", "1"]

    data = json.loads(invoke("ls", "--json").output)
    assert [(m["name"], m["latest_version"], m["versions"]) for m in data] == [("churn", 2, 2), ("rules", 1, 1)]

    versions = invoke("ls", "churn")
    assert versions.exit_code == 0 and "auc=0.83" in versions.output
    assert [v["version"] for v in json.loads(invoke("ls", "churn", "--json").output)] == [2, 1]


def test_ls_empty(home: Path) -> None:
    result = invoke("ls")
    assert result.exit_code == 0 and "no registered models" in result.output
    assert json.loads(invoke("ls", "--json").output) == []


def test_show(registered) -> None:
    invoke("alias", "churn", "production", "1")
    result = invoke("show", "churn@production")
    assert result.exit_code == 0, result.output
    out = result.output
    assert out.startswith("churn:1  (@production)")
    for expected in (
        "LogisticRegression",
        "joblib",
        "auc",
        "0.83",
        "team",
        "signature",
        "tenure",
        "int64",
        "reference profile  200 rows, 2 columns",
        "categorical",
        "lineage",
        "→ run",
        "→ value",
    ):
        assert expected in out, expected
    data = json.loads(invoke("show", "churn:2", "--json").output)
    assert data["uri"] == "churn:2" and data["profile"]["rows"] == 200 and data["params"] == {"C": 0.5}
    assert {e["to_kind"] for e in data["lineage"]} >= {"run", "value", "artifact"}


def test_alias_set_move_delete(registered) -> None:
    assert invoke("alias", "churn", "production", "1").output.strip() == "churn@production → version 1"
    assert invoke("alias", "churn", "production", "2").output.strip() == "churn@production moved: version 1 → 2"
    assert invoke("alias", "churn", "production", "2").output.strip() == "churn@production already at version 2"
    assert get_model_version("churn@production").version == 2
    data = json.loads(invoke("alias", "churn", "staging", "1", "--json").output)
    assert data == {"name": "churn", "alias": "staging", "version": 1, "previous": None}
    assert (
        invoke("alias", "churn", "production", "--delete").output.strip() == "removed churn@production (was version 2)"
    )
    assert list_models()[0].aliases == {"staging": 1}

    missing = invoke("alias", "churn", "production")
    assert missing.exit_code == 2 and "give the VERSION" in missing.output
    both = invoke("alias", "churn", "production", "1", "--delete")
    assert both.exit_code == 2 and "--delete takes no VERSION" in both.output


def test_tag(registered) -> None:
    assert invoke("tag", "churn:1", "validated", "yes").exit_code == 0
    assert get_model_version("churn:1").tags == {"team": "ml", "validated": "yes"}
    assert invoke("tag", "churn:1", "team", "--delete").exit_code == 0
    assert get_model_version("churn:1").tags == {"validated": "yes"}


def test_rm_version_and_model(registered) -> None:
    invoke("alias", "churn", "production", "1")
    declined = invoke("rm", "churn:1", input="n\n")
    assert declined.exit_code == 1
    assert "delete version churn:1 with its drift history (aliases @production go too)?" in declined.output
    assert get_model_version("churn:1").version == 1

    confirmed = invoke("rm", "churn:1", input="y\n")
    assert confirmed.exit_code == 0 and "deleted version churn:1" in confirmed.output
    assert [m.versions for m in list_models()] == [1, 1] and list_models()[0].aliases == {}

    data = json.loads(invoke("rm", "churn", "--yes", "--json").output)
    assert data == {"name": "churn", "deleted_versions": [2], "model_deleted": True}
    assert [m.name for m in list_models()] == ["rules"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("show", "nope"), "no model 'nope'"),
        (("show", "churn:9"), "has no version 9"),
        (("show", "churn@prod"), "has no alias 'prod'"),
        (("show", "churn:x"), "is not a model version"),
        (("alias", "churn", "production", "7"), "has no version 7"),
        (("alias", "churn", "latest", "1"), "reserved"),
        (("rm", "churn@production", "--yes"), "not an alias"),
        (("rm", "nope", "--yes"), "no model 'nope'"),
    ],
)
def test_errors_are_one_line_and_exit_2(registered, args: tuple[str, ...], message: str) -> None:
    result = invoke(*args)
    assert result.exit_code == 2, result.output
    assert message in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert "Traceback" not in result.output


def test_errors_through_the_main_command_are_one_line_exit_2(registered) -> None:
    from nbmlops.cli.main import main

    # a group of main's own class (its NbmlopsError handling), so the real `main` is left alone
    group = type(main)("nbmlops", commands={**main.commands, "models": models})
    result = CliRunner().invoke(group, ["models", "show", "churn:9"])
    assert result.exit_code == 2
    assert result.output.strip() == "error: model 'churn' has no version 9 (versions: 1, 2)"
