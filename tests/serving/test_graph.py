"""The serving graph in process: a registered model, enrichment from the online store with an impute policy,
transforms, post-processing, routers (canary split, shadow, ensemble), errors and the picture."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from nbmlops.serving import Canary, Ensemble, Graph, GraphError, InvalidInput, ModelFailed, Shadow
from nbmlops.serving.routers import share_of


def test_a_model_uri_answers_what_the_registered_model_predicts(churn) -> None:
    X = churn["X"]
    graph = Graph.from_model("churn@production")
    rows = X.head(20)
    body = graph.test(rows)
    assert body["predictions"] == churn[1].predict(rows).tolist()
    assert body["model_version"] == "churn:1"
    assert body["ids"] == [f"{body['request_id']}.{i}" for i in range(20)]
    assert body["request_id"].startswith("churn-")
    one = graph.test({"amount": 70.0, "visits": 2, "id": "row-7"})
    assert (
        one["ids"] == ["row-7"]
        and one["predictions"] == churn[1].predict(pd.DataFrame({"amount": [70.0], "visits": [2]})).tolist()
    )


def test_a_pinned_version_and_predict_proba(churn) -> None:
    X = churn["X"].head(5)
    body = Graph.from_model("churn:2", method="predict_proba").test(X)
    assert body["model_version"] == "churn:2"
    assert np.allclose(body["predictions"], churn[2].predict_proba(X))


def test_signature_errors_name_every_column(churn) -> None:
    graph = Graph.from_model("churn@production")
    with pytest.raises(InvalidInput) as caught:
        graph.test({"amount": "lots", "colour": "red"})
    problems = {p["column"]: p for p in caught.value.detail}
    assert problems["visits"]["problem"] == "missing" and problems["visits"]["expected"] == "int64"
    assert problems["colour"]["problem"] == "unexpected column"
    assert "string" in problems["amount"]["problem"] and problems["amount"]["expected"] == "float64"
    assert caught.value.status == 422
    for column in ("visits", "colour", "amount"):
        assert f"'{column}'" in str(caught.value)
    with pytest.raises(InvalidInput, match="not whole"):
        graph.test({"amount": 1.0, "visits": 2.5})


def test_a_model_that_raises_is_a_500_naming_the_request(churn) -> None:
    graph = Graph.from_model("churn@production")
    with pytest.raises(ModelFailed) as caught:
        graph.test({"amount": None, "visits": 1})  # NaN: LogisticRegression refuses it
    assert caught.value.status == 500 and "churn:1" in str(caught.value) and "request churn-" in str(caught.value)


def test_enrichment_reads_the_online_store_and_imputes_unknown_entities(churn, vector) -> None:
    X = churn["X"]
    graph = Graph().enrich(vector, impute={"amount": 50.0, "visits": 0}).model("churn@production")
    body = graph.test([{"customer_id": 3}, {"customer_id": 10_000}, {"customer_id": 17}])
    expected = churn[1].predict(
        pd.DataFrame({"amount": [X.amount[3], 50.0, X.amount[17]], "visits": [X.visits[3], 0, X.visits[17]]})
    )
    assert body["predictions"] == expected.tolist()
    # a column the request carries keeps the request's value; the entity key never reaches the model
    override = graph.test({"customer_id": 3, "amount": 99.0})
    assert (
        override["predictions"] == churn[1].predict(pd.DataFrame({"amount": [99.0], "visits": [X.visits[3]]})).tolist()
    )


def test_enrichment_resolves_the_vector_at_load_not_per_request(churn, vector, monkeypatch) -> None:
    from nbmlops.features import FeatureSet, default_store

    graph = Graph().enrich(vector, impute=0.0).model("churn@production").load()
    store = default_store()
    calls: list[bool] = []
    real = store.resolve
    monkeypatch.setattr(store, "resolve", lambda v, **kw: calls.append(True) or real(v, **kw))
    for i in range(5):
        assert graph.test({"customer_id": i})["predictions"] == churn[1].predict(churn["X"].iloc[[i]]).tolist()
    assert calls == []  # the request path reads only the online store
    # a new version of the set (another schema, other values) is read once refresh_steps (the server's follower)
    # re-resolves; until then the version resolved at load keeps answering
    X = churn["X"]
    flipped = X.assign(amount=100 - X.amount, visits=9 - X.visits, region="n", customer_id=np.arange(len(X)))
    FeatureSet("cust", entities=["customer_id"], timestamp="ts", features=["amount", "visits", "region"]).ingest(
        flipped.assign(ts=pd.Timestamp("2026-02-01"))
    )
    old, new = churn[1].predict(X.iloc[:40]), churn[1].predict(flipped[["amount", "visits"]].iloc[:40])
    assert (old != new).any()
    rows = [{"customer_id": i} for i in range(40)]
    assert graph.test(rows)["predictions"] == old.tolist()
    graph.refresh_steps()
    assert calls == [True]
    assert graph.test(rows)["predictions"] == new.tolist()


def test_unknown_entities_are_refused_where_the_graph_says_so(churn, vector) -> None:
    graph = Graph().enrich(vector, unknown="reject").model("churn@production")
    assert graph.test({"customer_id": 5})["predictions"] == churn[1].predict(churn["X"].iloc[[5]]).tolist()
    with pytest.raises(InvalidInput, match="unknown entity.*12345"):
        graph.test([{"customer_id": 5}, {"customer_id": 12345}])
    with pytest.raises(InvalidInput, match="lack the entity key"):
        graph.test({"amount": 3.0})
    # without an impute policy, an unknown entity's nulls reach the model, which refuses NaN
    with pytest.raises(ModelFailed):
        Graph().enrich(vector).model("churn@production").test({"customer_id": 777_777})


def test_transforms_and_post_processing(churn, vector) -> None:
    X = churn["X"]
    graph = (
        Graph()
        .enrich(vector, impute=0.0)
        .transform(lambda df: df.assign(amount=df["amount"] * 2), name="double")
        .model("churn:1", method="predict_proba")
        .post(lambda p, rows: [{"churn": bool(x[1] > 0.5), "p": round(float(x[1]), 6)} for x in p])
    )
    body = graph.test([{"customer_id": 1}, {"customer_id": 2}])
    p = churn[1].predict_proba(pd.DataFrame({"amount": X.amount[[1, 2]] * 2, "visits": X.visits[[1, 2]]}))[:, 1]
    assert body["predictions"] == [{"churn": bool(v > 0.5), "p": round(float(v), 6)} for v in p]
    failing = Graph().transform(lambda df: df["nope"]).model("churn:1")
    with pytest.raises(ModelFailed, match="transform '<lambda>' raised KeyError"):
        failing.test({"amount": 1.0, "visits": 1})


def test_canary_splits_requests_within_tolerance(churn) -> None:
    graph = Graph().model(Canary("churn:1", "churn:2", percent=20))
    seen = [graph.test({"amount": 50.0, "visits": 3})["model_version"] for _ in range(600)]
    share = seen.count("churn:2") / len(seen)
    assert set(seen) == {"churn:1", "churn:2"}
    assert 0.14 < share < 0.26  # 20% ± ~4 standard deviations of a binomial(600, 0.2)
    # the choice follows the request id: the same id goes the same way
    assert (share_of("churn-abc") * 100 < 20) == (share_of("churn-abc") * 100 < 20)


def test_shadow_never_answers(churn) -> None:
    X = churn["X"].head(30)
    graph = Graph().model(Shadow("churn:1", "churn:2"))
    result = graph.load().answer(X)
    assert result.model_version == "churn:1" and result.predictions == churn[1].predict(X).tolist()
    shadow, frame = result.answer.shadows[0]
    assert shadow.uri == "churn:2" and len(frame) == 30


def test_ensemble_mean_and_vote(churn) -> None:
    X = churn["X"].head(40)
    mean = Graph().model(Ensemble(["churn:1", "churn:2"], how="mean")).test(X)
    assert np.allclose(mean["predictions"], (churn[1].predict(X) + churn[2].predict(X)) / 2)
    assert mean["model_version"] == "ensemble(churn:1,churn:2)"
    vote = Graph().model(Ensemble(["churn:1", "churn:1", "churn:2"], how="vote")).test(X)
    assert vote["predictions"] == churn[1].predict(X).tolist()


def test_graphs_that_are_wired_wrongly(churn) -> None:
    with pytest.raises(GraphError, match="one model step"):
        Graph().model("churn:1").model("churn:2")
    with pytest.raises(GraphError, match="comes before the model"):
        Graph().model("churn:1").transform(lambda d: d)
    with pytest.raises(GraphError, match="after the model step"):
        Graph().post(lambda p, r: p)
    with pytest.raises(GraphError, match="no model step"):
        Graph().test({"a": 1})
    with pytest.raises(GraphError, match="percent"):
        Canary("churn:1", "churn:2", percent=150)


def test_the_picture(churn, vector) -> None:
    graph = (
        Graph()
        .enrich(vector, impute=0.0)
        .transform(lambda d: d, name="clean")
        .model(Canary("churn@production", "churn:2", percent=5))
        .post(lambda p, r: p, name="label")
    )
    svg = graph._repr_svg_()
    assert svg.startswith("<svg") and svg.endswith("</svg>")
    for text in (
        "request",
        "enrich: churn_features",
        "clean",
        "canary 5%",
        "churn@production",
        "churn:2",
        "95%",
        "label",
        "response",
    ):
        assert f">{text}<" in svg, text
    assert svg.count("<line") == 8  # request→enrich→clean→router, router→2 versions, both→label, label→response
    graph.load()
    assert "churn@production → churn:1" in graph._repr_svg_()
    assert repr(graph).startswith("Graph(request → enrich: churn_features → clean → canary 5%")


def test_numeric_models_skip_the_dataframe_work_where_it_answers_the_same(churn) -> None:
    from sklearn.compose import ColumnTransformer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from nbmlops.registry import register_model

    X, y = churn["X"], churn["y"]
    graph = Graph.from_model("churn:1").load()
    assert graph.models()[0].current.array_path is not None  # checked on the input example at load
    shuffled = X.head(9)[["visits", "amount"]]  # columns in another order: reordered by name first
    assert graph.test(shuffled)["predictions"] == churn[1].predict(X.head(9)).tolist()
    result = graph.answer(X.head(4))
    assert list(result.answer.features.columns) == ["amount", "visits"]
    assert result.answer.features["amount"].tolist() == X.amount.head(4).tolist()

    by_name = make_pipeline(
        ColumnTransformer([("scale", StandardScaler(), ["amount"]), ("keep", "passthrough", ["visits"])]),
        LogisticRegression(),
    ).fit(X, y)
    version = register_model(by_name, "by_name", input_example=X.head())
    pipeline = Graph.from_model(version.uri).load()
    assert pipeline.models()[0].current.array_path is None  # it selects columns by name: DataFrames only
    assert pipeline.test(X.head(9))["predictions"] == by_name.predict(X.head(9)).tolist()
