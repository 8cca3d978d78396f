"""Drift statistics: agreement with scipy (to 1e-6), the automatic test choice (calibrated tests by default,
Evidently's with tests="evidently"), every column type and degenerate input, forced tests and thresholds, effect
sizes, stored reference profiles."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from scipy.spatial import distance

from nbmlops.errors import NbmlopsError
from nbmlops.monitoring import ReferenceProfile, auto_test, build_reference, detect_drift

TOL = 1e-6


def row(result, feature: str) -> dict:
    return result.table.set_index("feature").loc[feature].to_dict()


@pytest.fixture(scope="module")
def rng() -> np.random.Generator:
    return np.random.default_rng(7)


def sturges_shares(ref: np.ndarray, cur: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    bins = np.histogram_bin_edges(np.concatenate([ref, cur]), bins="sturges")
    return np.histogram(ref, bins)[0] / len(ref), np.histogram(cur, bins)[0] / len(cur)


def evidently_fill(p: np.ndarray) -> np.ndarray:
    p = p.copy()
    smallest = p[p != 0].min()
    np.place(p, p == 0, smallest / 10**6 if smallest <= 0.0001 else 0.0001)
    return p


@pytest.mark.parametrize(("n_ref", "n_cur"), [(300, 200), (800, 12_000), (30_000, 20_000)])
def test_ks_matches_scipy_exact_and_asymptotic(rng, n_ref: int, n_cur: int) -> None:
    ref, cur = rng.normal(size=n_ref), rng.normal(0.05, 1.1, size=n_cur)
    result = detect_drift(pd.DataFrame({"x": ref}), pd.DataFrame({"x": cur}), tests="ks")
    expected = stats.ks_2samp(ref, cur)
    r = row(result, "x")
    assert r["statistic"] == pytest.approx(expected.statistic, abs=TOL)
    assert r["p_value"] == pytest.approx(expected.pvalue, abs=TOL)
    assert r["score"] == r["p_value"] and r["drifted"] == (expected.pvalue <= 0.05)


def test_wasserstein_jensenshannon_psi_match_scipy(rng) -> None:
    ref, cur = rng.normal(size=5000), rng.normal(0.3, 1.0, size=4000)
    ref_df, cur_df = pd.DataFrame({"x": ref}), pd.DataFrame({"x": cur})
    w = row(detect_drift(ref_df, cur_df), "x")  # > 1000 reference rows: Wasserstein by default
    assert w["test"] == "wasserstein"
    assert w["score"] == pytest.approx(stats.wasserstein_distance(ref, cur) / np.std(ref), abs=TOL)
    assert w["effect_size"] == pytest.approx(w["score"], abs=TOL) and w["drifted"]

    p, q = sturges_shares(ref, cur)
    js = row(detect_drift(ref_df, cur_df, tests="jensenshannon"), "x")
    assert js["score"] == pytest.approx(distance.jensenshannon(p, q), abs=TOL)
    psi = row(detect_drift(ref_df, cur_df, tests="psi"), "x")
    fp, fq = evidently_fill(p), evidently_fill(q)
    assert psi["score"] == pytest.approx(np.sum((fp - fq) * np.log(fp / fq)), abs=TOL)


def test_categorical_tests_match_scipy(rng) -> None:
    ref = pd.Series(rng.choice(["a", "b", "c", "d"], size=900, p=[0.4, 0.3, 0.2, 0.1]))
    cur = pd.Series(rng.choice(["a", "b", "c", "d"], size=700, p=[0.3, 0.3, 0.2, 0.2]))
    keys = ["a", "b", "c", "d"]
    f_ref = [int((ref == k).sum()) for k in keys]
    f_obs = [int((cur == k).sum()) for k in keys]
    # the default: the chi-square test of homogeneity of the 2 x 4 table
    r = row(detect_drift(pd.DataFrame({"c": ref}), pd.DataFrame({"c": cur})), "c")
    assert r["test"] == "chisquare"
    table = stats.chi2_contingency(np.array([f_ref, f_obs]), correction=False)
    assert r["statistic"] == pytest.approx(table.statistic, abs=TOL)
    assert r["p_value"] == pytest.approx(table.pvalue, abs=TOL) and r["drifted"]
    # Evidently's: goodness of fit of the current counts to the reference's shares
    ev = row(detect_drift(pd.DataFrame({"c": ref}), pd.DataFrame({"c": cur}), tests="evidently"), "c")
    assert ev["test"] == "evidently:chisquare"
    expected = stats.chisquare(f_obs, [n * len(cur) / len(ref) for n in f_ref])
    assert ev["statistic"] == pytest.approx(expected.statistic, abs=TOL)
    assert ev["p_value"] == pytest.approx(expected.pvalue, abs=TOL)
    p = np.array([(ref == k).mean() for k in keys])
    q = np.array([(cur == k).mean() for k in keys])
    assert r["effect_size"] == pytest.approx(distance.jensenshannon(p, q), abs=TOL) == ev["effect_size"]
    psi = row(detect_drift(pd.DataFrame({"c": ref}), pd.DataFrame({"c": cur}), tests="evidently:psi"), "c")
    assert psi["score"] == pytest.approx(np.sum((p - q) * np.log(p / q)), abs=TOL)


def test_z_test_matches_the_two_proportion_formula(rng) -> None:
    ref = rng.random(600) < 0.3
    cur = rng.random(500) < 0.4
    p1, p2 = ref.mean(), cur.mean()
    pooled = (ref.sum() + cur.sum()) / (len(ref) + len(cur))
    z = (p1 - p2) / math.sqrt(pooled * (1 - pooled) * (1 / len(ref) + 1 / len(cur)))
    ev = row(detect_drift(pd.DataFrame({"b": ref}), pd.DataFrame({"b": cur}), tests="evidently"), "b")
    assert ev["test"] == "evidently:z" and ev["kind"] == "categorical"
    assert abs(ev["statistic"]) == pytest.approx(abs(z), abs=TOL)
    assert ev["p_value"] == pytest.approx(2 * stats.norm.sf(abs(z)), abs=TOL)
    # the default: the same statistic, the exact conditional p-value of its 2 x 2 table (hypergeometric)
    r = row(detect_drift(pd.DataFrame({"b": ref}), pd.DataFrame({"b": cur})), "b")
    assert r["test"] == "z" and abs(r["statistic"]) == pytest.approx(abs(z), abs=TOL)
    a, t = int(ref.sum()), int(ref.sum() + cur.sum())  # either column of a 2 x 2 table gives the same p-value
    law = stats.hypergeom(len(ref) + len(cur), t, len(ref))
    support = np.arange(max(0, t - len(cur)), min(len(ref), t) + 1)
    mean = len(ref) * t / (len(ref) + len(cur))
    exact = law.pmf(support)[np.abs(support - mean) >= abs(a - mean) - 1e-9].sum()
    assert r["p_value"] == pytest.approx(exact, rel=1e-9)


@pytest.mark.parametrize(
    ("kind", "n_ref", "n_values", "test"),
    [
        ("numeric", 1000, 6, "ks"),
        ("numeric", 1000, 5, "chisquare"),
        ("numeric", 1000, 3, "chisquare"),
        ("numeric", 1000, 2, "z"),
        ("categorical", 500, 12, "chisquare"),
        ("categorical", 500, 2, "z"),
        ("numeric", 1001, 6, "wasserstein"),
        ("numeric", 1001, 5, "jensenshannon"),
        ("categorical", 5000, 2, "jensenshannon"),
    ],
)
def test_automatic_choice_is_evidentlys(kind: str, n_ref: int, n_values: int, test: str) -> None:
    # both rules choose as Evidently does; "auto" gets the calibrated tests of those names
    assert auto_test(kind, n_ref, n_values) == test
    assert auto_test(kind, n_ref, n_values, "evidently") == f"evidently:{test}"


def test_rules_and_test_names_parse_per_column(rng) -> None:
    n = 400
    ref = pd.DataFrame({"x": rng.normal(size=n), "c": rng.choice(list("abc"), n)})
    cur = pd.DataFrame({"x": rng.normal(size=n), "c": rng.choice(list("abc"), n)})
    t = detect_drift(ref, cur, tests={"x": " Evidently ", "c": "EVIDENTLY:chi2"}).table.set_index("feature")
    assert t.loc["x", "test"] == "evidently:ks" and t.loc["c", "test"] == "evidently:chisquare"
    t = detect_drift(ref, cur, tests={"x": "auto", "c": "js"}).table.set_index("feature")
    assert t.loc["x", "test"] == "ks" and t.loc["c", "test"] == "jensenshannon"
    with pytest.raises(NbmlopsError, match="unknown drift test 'evidently:kolmogorov' for column 'x'"):
        detect_drift(ref, cur, tests={"x": "evidently:kolmogorov"})


def test_a_noisy_distance_needs_its_two_sample_test_too() -> None:
    # 50 equally likely categories, 2,000 reference and 120 current rows of one distribution: the
    # Jensen-Shannon distance of two samples this small is mostly noise (about 0.2 here); Evidently flags it
    rng = np.random.default_rng(12)
    labels = [f"k{i}" for i in range(50)]
    ref = pd.DataFrame({"c": rng.choice(labels, 2000)})
    cur = pd.DataFrame({"c": rng.choice(labels, 120)})
    ev = row(detect_drift(ref, cur, tests="evidently"), "c")
    auto = row(detect_drift(ref, cur), "c")
    assert ev["test"] == "evidently:jensenshannon" and ev["drifted"] and pd.isna(ev["p_value"])
    assert auto["test"] == "jensenshannon" and auto["score"] == ev["score"] >= 0.1
    assert auto["p_value"] > 0.05 and not auto["drifted"]  # the chi-square test of homogeneity says noise
    # below the distance's threshold the gate is not computed: no drift whatever its p-value
    same = row(detect_drift(ref, pd.DataFrame({"c": rng.choice(labels, 2000)})), "c")
    assert same["score"] < 0.1 and pd.isna(same["p_value"]) and not same["drifted"]


def test_numeric_few_values_use_value_shares(rng) -> None:
    ref = rng.integers(0, 4, size=3000).astype(float)
    cur = rng.integers(0, 5, size=2000).astype(float)
    r = row(detect_drift(pd.DataFrame({"n": ref}), pd.DataFrame({"n": cur})), "n")
    assert r["test"] == "jensenshannon"
    keys = [0.0, 1.0, 2.0, 3.0, 4.0]
    p = np.array([(ref == k).mean() for k in keys])
    q = np.array([(cur == k).mean() for k in keys])
    assert r["score"] == pytest.approx(distance.jensenshannon(p, q), abs=TOL)
    assert r["unseen_current"] == pytest.approx((cur == 4).mean())  # outside the reference range, apart


def test_every_pandas_column_type() -> None:
    n = 400
    rng = np.random.default_rng(1)
    frame = pd.DataFrame(
        {
            "float": rng.normal(size=n),
            "int": rng.integers(0, 100, n),
            "nullable": pd.array([None if i % 10 == 0 else i % 50 for i in range(n)], dtype="Int64"),
            "bool": rng.random(n) < 0.5,
            "category": pd.Categorical(rng.choice(["x", "y", "z"], n)),
            "string": pd.array(rng.choice(["p", "q"], n), dtype="string"),
            "object": [1, "a", 2.5, None] * (n // 4),
            "when": pd.date_range("2024-01-01", periods=n, freq="h"),
            "delta": pd.to_timedelta(np.arange(n), unit="s"),
            "uint8": rng.integers(0, 200, n).astype(np.uint8),
            "float32": rng.normal(size=n).astype(np.float32),
        }
    )
    result = detect_drift(frame, frame.sample(frac=1.0, random_state=0))
    t = result.table.set_index("feature")
    assert t.loc["when", "status"] == "skipped" and "timestamp" in t.loc["when", "reason"]
    assert t.loc["delta", "status"] == "skipped"
    tested = t[t["status"] == "ok"]
    assert set(tested.index) == {"float", "int", "nullable", "bool", "category", "string", "object", "uint8", "float32"}
    assert not tested["drifted"].any()  # the same rows, shuffled
    assert t.loc["nullable", "missing_current"] == pytest.approx(0.1)
    assert t.loc["bool", "kind"] == "categorical" and t.loc["nullable", "kind"] == "numeric"
    assert not result.dataset_drift


def test_unused_categories_of_a_category_dtype_are_not_values(rng) -> None:
    # pandas lists a category dtype's unused categories with a count of 0: on both sides that would be a 0/0 cell
    labels = ["basic", "pro", "enterprise"]
    ref = pd.DataFrame({"plan": pd.Categorical(rng.choice(labels[:2], 400), categories=labels)})
    cur = pd.DataFrame({"plan": pd.Categorical(rng.choice(labels[:2], 300), categories=labels)})
    for tests, test in (
        (None, "z"),
        ("evidently", "evidently:z"),
        ("chisquare", "chisquare"),
        ("evidently:chisquare", "evidently:chisquare"),
    ):
        r = row(detect_drift(ref, cur, tests=tests), "plan")
        assert r["status"] == "ok" and r["test"] == test and 0 < r["p_value"] <= 1, (tests, r)
    assert build_reference(ref).columns["plan"].distinct == 2


def test_degenerate_inputs_give_clear_results() -> None:
    ref = pd.DataFrame(
        {
            "const": [1.0] * 50,
            "empty": [np.nan] * 50,
            "tiny": np.arange(50.0),
            "inf": [np.inf] * 45 + [1.0] * 5,
            "cat": ["a"] * 50,
        }
    )
    cur = pd.DataFrame(
        {
            "const": [1.0] * 40,
            "empty": [np.nan] * 40,
            "tiny": [1.0, 2.0, 3.0] + [np.nan] * 37,
            "inf": [1.0] * 40,
            "cat": ["a"] * 40,
        }
    )
    t = detect_drift(ref, cur).table.set_index("feature")
    assert t.loc["const", "status"] == "ok" and t.loc["const", "p_value"] == 1.0 and not t.loc["const", "drifted"]
    assert t.loc["cat", "test"] == "z" and t.loc["cat", "p_value"] == 1.0
    assert t.loc["empty", "status"] == "not enough data"
    assert "reference has 0 non-missing values" in t.loc["empty", "reason"]
    assert t.loc["tiny", "status"] == "not enough data" and "current has 3" in t.loc["tiny", "reason"]
    assert math.isnan(t.loc["tiny", "p_value"]) and not t.loc["tiny", "drifted"]
    assert t.loc["inf", "status"] == "not enough data" and t.loc["inf", "missing_reference"] == pytest.approx(0.9)

    empty = detect_drift(ref, ref.iloc[:0])
    assert (empty.table["status"] != "ok").all() and not empty.dataset_drift
    nothing = detect_drift(pd.DataFrame(), pd.DataFrame())
    assert nothing.table.empty and not nothing.dataset_drift


def test_missing_and_unseen_values_are_reported_apart(rng) -> None:
    ref = pd.DataFrame({"plan": rng.choice(["basic", "pro"], 2000), "x": rng.normal(size=2000)})
    cur = pd.DataFrame(
        {
            "plan": ["basic"] * 900 + ["enterprise"] * 100 + [None] * 1000,
            "x": list(rng.uniform(-1, 1, size=1800)) + [np.nan] * 100 + [50.0] * 100,
        }
    )
    t = detect_drift(ref, cur).table.set_index("feature")
    assert t.loc["plan", "missing_current"] == pytest.approx(0.5)
    assert t.loc["plan", "unseen_current"] == pytest.approx(0.1)  # of the non-missing values
    assert t.loc["x", "missing_current"] == pytest.approx(0.05)
    assert t.loc["x", "unseen_current"] == pytest.approx(100 / 1900)


def test_forced_tests_thresholds_and_min_effect(rng) -> None:
    n = 50_000  # so large that a 0.04-sigma shift is "significant"
    ref = pd.DataFrame({"x": rng.normal(size=n), "y": rng.normal(size=n), "c": rng.choice(list("ab"), n)})
    cur = pd.DataFrame({"x": rng.normal(0.04, 1, size=n), "y": rng.normal(size=n), "c": rng.choice(list("ab"), n)})
    forced = detect_drift(ref, cur, tests={"x": "ks", "c": "chi2"}, thresholds={"y": 0.5})
    t = forced.table.set_index("feature")
    assert t.loc["x", "test"] == "ks" and t.loc["x", "drifted"] and t.loc["x", "effect_size"] < 0.05
    assert t.loc["c", "test"] == "chisquare" and t.loc["y", "threshold"] == 0.5
    both = detect_drift(ref, cur, tests={"x": "ks"}, min_effect=0.1).table.set_index("feature")
    assert not both.loc["x", "drifted"]  # significant, but the effect is too small to matter
    wrong = detect_drift(ref, cur, tests="ks").table.set_index("feature")
    assert wrong.loc["c", "status"] == "skipped" and "numeric" in wrong.loc["c", "reason"]
    with pytest.raises(NbmlopsError, match="unknown drift test 'kolmogorov'"):
        detect_drift(ref, cur, tests={"x": "kolmogorov"})
    with pytest.raises(NbmlopsError, match="not in the reference data: nope"):
        detect_drift(ref, cur, thresholds={"nope": 0.1})
    with pytest.raises(NbmlopsError, match="threshold for column 'x'"):
        detect_drift(ref, cur, thresholds={"x": "high"})


def test_dataset_drift_share_and_roles(rng) -> None:
    n = 3000
    ref = pd.DataFrame({f"f{i}": rng.normal(size=n) for i in range(4)} | {"prediction": rng.random(n)})
    cur = ref.copy()
    cur["f0"] += 1.0
    cur["f1"] += 1.0
    cur["prediction"] += 0.5
    result = detect_drift(ref, cur, prediction="prediction")
    assert result.drift_share == 0.5 and result.dataset_drift
    assert result.prediction_drift is True and result.drifted_features == ["f0", "f1"]
    assert not detect_drift(ref, cur, drift_share=0.75).dataset_drift


def test_profile_round_trip_parallel_and_serial_agree(rng) -> None:
    n = 5000
    ref = pd.DataFrame({"x": rng.normal(size=n), "c": rng.choice(list("abc"), n), "t": pd.Timestamp("2024-01-01")})
    cur = pd.DataFrame({"x": rng.normal(0.2, size=n), "c": rng.choice(list("abcd"), n), "t": pd.Timestamp("2024")})
    direct = detect_drift(ref, cur, parallel=False)
    profile = ReferenceProfile.from_bytes(build_reference(ref).to_bytes())
    stored = detect_drift(profile, cur)
    pd.testing.assert_frame_equal(direct.table, stored.table)
    assert direct.plots.keys() == stored.plots.keys() == {"x", "c"}


def test_capped_profile_keeps_the_shape(rng) -> None:
    values = rng.normal(size=50_000)
    profile = build_reference(pd.DataFrame({"x": values}), max_values=1000)
    col = profile.columns["x"]
    assert len(col.numeric.sorted) == 1000 and col.sampled_from == 50_000
    assert col.numeric.sorted[0] == values.min() and col.numeric.sorted[-1] == values.max()
    assert col.std == pytest.approx(np.std(values))


def test_bad_inputs_raise_nbmlops_errors() -> None:
    with pytest.raises(NbmlopsError, match="current data must be a pandas DataFrame"):
        detect_drift(pd.DataFrame({"x": [1.0]}), [1, 2])
    with pytest.raises(NbmlopsError, match="not in the reference data: y"):
        detect_drift(pd.DataFrame({"x": [1.0]}), pd.DataFrame({"x": [1.0]}), columns=["y"])
    missing = detect_drift(pd.DataFrame({"x": np.arange(20.0)}), pd.DataFrame({"z": np.arange(20.0)}))
    assert missing.table.loc[0, "reason"] == "missing from the current data"
    text = detect_drift(pd.DataFrame({"x": np.arange(20.0)}), pd.DataFrame({"x": ["a"] * 20}))
    assert "numeric in the reference" in text.table.loc[0, "reason"]


@pytest.mark.parametrize(
    ("n_ref", "n_cur", "ties"), [(70_001, 150_000, False), (140_000, 140_000, False), (90_000, 200_003, True)]
)
def test_chunked_statistics_match_scipy_beyond_one_chunk(rng, n_ref: int, n_cur: int, ties: bool) -> None:
    # more values than one CHUNK (65,536) on each side: the pieces of the merged grid and of KS's merge join up
    if ties:
        ref, cur = rng.integers(0, 40, n_ref).astype(float), rng.integers(3, 45, n_cur).astype(float)
    else:
        ref, cur = rng.normal(size=n_ref), rng.normal(0.02, 1.05, size=n_cur)
    ref_df, cur_df = pd.DataFrame({"x": ref}), pd.DataFrame({"x": cur})
    w = row(detect_drift(ref_df, cur_df, tests="wasserstein"), "x")
    assert w["score"] == pytest.approx(stats.wasserstein_distance(ref, cur) / np.std(ref), abs=TOL)
    ks = row(detect_drift(ref_df, cur_df, tests="ks"), "x")
    expected = stats.ks_2samp(ref, cur)
    assert ks["statistic"] == pytest.approx(expected.statistic, abs=1e-12)
    assert ks["p_value"] == pytest.approx(expected.pvalue, abs=TOL)
    profile = build_reference(ref_df)
    assert profile.columns["x"].std == pytest.approx(np.std(ref), rel=1e-12)
    assert profile.columns["x"].distinct == len(np.unique(ref))


def test_sort_buffers_leave_the_frames_alone_and_columns_apart(rng) -> None:
    n = 3000
    ref = pd.DataFrame(
        {
            "f": rng.normal(size=n),
            "i": rng.integers(0, 1000, n),
            "nullable": pd.array([None if i % 7 == 0 else float(i) for i in range(n)], dtype="Float64"),
            "short": np.r_[rng.normal(size=n // 2), [np.nan] * (n - n // 2)],
        }
    )
    cur = ref.sample(frac=1.0, random_state=1).reset_index(drop=True)
    cur["f"] = cur["f"] + 1.0
    before_ref, before_cur = ref.copy(), cur.copy()
    serial = detect_drift(ref, cur, parallel=False)
    threads = detect_drift(ref, cur, parallel=True)
    pd.testing.assert_frame_equal(ref, before_ref)  # the columns were copied into the buffers, never sorted in place
    pd.testing.assert_frame_equal(cur, before_cur)
    pd.testing.assert_frame_equal(serial.table, threads.table)
    t = serial.table.set_index("feature")
    # each column its own values although one buffer per side served them all, longer and shorter ones alike
    assert t.loc["f", "drifted"] and not t.loc[["i", "nullable", "short"], "drifted"].any()
    assert t.loc["short", "n_reference"] == n // 2
    # a profile capped under the rows' count keeps its own arrays: one whose nulls bring it under the cap too
    profile = build_reference(ref, max_values=2000)
    assert profile.columns["f"].sampled_from == n and profile.columns["short"].sampled_from is None
    np.testing.assert_array_equal(profile.columns["short"].numeric.sorted, np.sort(ref["short"].dropna()))
    assert profile.columns["short"].numeric.sorted.base is None or profile.columns["short"].numeric.sorted.flags.owndata
    pd.testing.assert_frame_equal(
        detect_drift(profile, cur).table.drop(columns="unseen_current"),
        detect_drift(build_reference(ref, max_values=2000), cur).table.drop(columns="unseen_current"),
    )


def test_memory_beyond_the_data_is_two_columns_per_worker() -> None:
    import tracemalloc

    n, k = 1_000_000, 3
    rng = np.random.default_rng(3)
    ref = pd.DataFrame({f"x{i}": rng.normal(size=n) for i in range(k)})
    cur = pd.DataFrame({f"x{i}": rng.normal(0.1, size=n - 12_345) for i in range(k)})  # unequal sizes: the grid
    column = n * 8
    for tests in (None, "ks"):
        detect_drift(ref.head(20_000), cur.head(20_000), tests=tests, parallel=False)  # lazy imports and set-ups
        tracemalloc.start()
        try:
            detect_drift(ref, cur, tests=tests, parallel=False)
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        # a reference and a current buffer, plus chunk-sized temporaries (~8 MiB for KS's merge): one more
        # column-sized temporary would break this
        assert peak < 2 * column + 10 * 2**20, (tests, peak / column)
