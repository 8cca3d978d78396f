"""Calibration of the default drift tests: on two samples of one distribution each calibrated test flags drift at
most ALPHA of the time, for every test the automatic choice can pick (and every calibrated test forced by name),
at 100 to 1,000,000 rows, categorical with 2/5/10/50 categories and numeric continuous and discrete; and known
shifts are caught.

Trials are seeded. Each cell (test, distribution, sizes) passes unless its false positives exceed what a rate of
ALPHA gives with probability MISS (binomial upper bound); so must the cells of one test pooled by sizes, by
distribution and all together, which catches a small excess that one cell's few hundred trials cannot see.
Evidently's goodness-of-fit chi-square fails the same check, so it can fail. Samples are drawn the cheap way
that has the same law: category counts as multinomial draws, continuous samples as sorted uniforms (cumulative
exponential spacings; KS is distribution free), discrete ones as counts repeated in order.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from nbmlops.monitoring import detect_drift
from nbmlops.monitoring.choice import ALPHA, TESTS, auto_test, decide
from nbmlops.monitoring.columns import distinct_count, population_std
from nbmlops.monitoring.stattests import CategoricalPair, NumericPair

# scipy's exact KS gives up on some tied samples near 10,000 rows and says so; it then uses the asymptotic p-value
pytestmark = pytest.mark.filterwarnings("ignore:ks_2samp. Exact calculation unsuccessful")
MISS = 1e-6  # chance that a test whose rate is exactly ALPHA fails one bound (a few hundred bounds here)
SIZES = (100, 1000, 10_000, 100_000, 1_000_000)
PAIRS = [(n, n) for n in SIZES] + [(1000, 100), (100, 1000), (100_000, 100)]  # a small side: noisy distances
TRIALS = {100: 300, 1000: 300, 10_000: 150, 100_000: 60, 1_000_000: 20}  # by the larger side
CALIBRATED = {
    kind: [
        t.name
        for t in TESTS.values()  # the default family (evidently:ks is ks again)
        if t.calibrated and kind in t.kinds and not t.name.startswith("evidently:")
    ]
    for kind in ("numeric", "categorical")
}


def bound(trials: int, rate: float = ALPHA) -> int:
    """The most false positives a test flagging at `rate` shows in `trials`, but with chance MISS."""
    return int(stats.binom.isf(MISS, trials, rate))


class Tally:
    """False positives per (test, distribution, sizes), checked against the binomial bound cell by cell and pooled:
    per test and sizes, per test and distribution, and per test."""

    def __init__(self) -> None:
        self.cells: dict[tuple[str, str, str], list[int]] = defaultdict(lambda: [0, 0])
        self.picked: set[str] = set()

    def add(self, test: str, distribution: str, sizes: str, drifted: bool) -> None:
        counts = self.cells[(test, distribution, sizes)]
        counts[0] += int(drifted)
        counts[1] += 1

    def rate(self, test: str, distribution: str, sizes: str) -> float:
        hits, trials = self.cells[(test, distribution, sizes)]
        return hits / trials

    def failures(self) -> list[str]:
        groups: dict[str, list[int]] = defaultdict(lambda: [0, 0])
        for (test, distribution, sizes), (hits, trials) in self.cells.items():
            for key in (f"{test} {distribution} {sizes}", f"{test} at {sizes}", f"{test} on {distribution}", test):
                groups[key][0] += hits
                groups[key][1] += trials
        return [
            f"{key}: {hits}/{trials} = {hits / trials:.3f} (bound {bound(trials)})"
            for key, (hits, trials) in groups.items()
            if hits > bound(trials)
        ]


def shares_of(k: int, shape: str) -> np.ndarray:
    if shape == "uniform":
        return np.full(k, 1.0 / k)
    weights = 1.0 / np.arange(1, k + 1) ** 1.2  # Zipf-like: a long tail of rare categories
    return weights / weights.sum()


def count_map(counts: np.ndarray, labels: list[str]) -> dict[str, int]:
    """As category_counts reads a column: seen labels only, most frequent first."""
    order = np.argsort(-counts, kind="stable")
    return {labels[i]: c for i, c in zip(order.tolist(), counts[order].tolist(), strict=True) if c}


def sorted_uniform(rng: np.random.Generator, n: int) -> np.ndarray:
    spacings = np.cumsum(rng.exponential(size=n + 1))
    return spacings[:-1] / spacings[-1]


def numeric_pair(ref: np.ndarray, cur: np.ndarray) -> NumericPair:
    return NumericPair(ref, cur, distinct_count(ref), population_std(ref))


def run_trials(
    tally: Tally,
    distribution: str,
    sizes: tuple[int, int],
    make: Callable[[], NumericPair | CategoricalPair],
    kind: str,
    tests: list[str],
) -> None:
    cell = f"{sizes[0]}/{sizes[1]}"
    for _ in range(TRIALS[max(sizes)]):
        pair = make()
        picked = auto_test(kind, pair_size(pair), pair.n_values)
        tally.picked.add(f"{kind}:{picked}")
        verdicts = {test: decide(pair, test, TESTS[test].threshold).drifted for test in {*tests, picked}}
        for test, drifted in verdicts.items():
            tally.add(test, distribution, cell, drifted)
        tally.add(f"auto ({picked})", distribution, cell, verdicts[picked])


def pair_size(pair: NumericPair | CategoricalPair) -> int:
    return len(pair.ref) if isinstance(pair, NumericPair) else int(pair.shares.ref.sum())


def test_categorical_tests_are_calibrated() -> None:
    rng = np.random.default_rng(2024)
    tally = Tally()
    for k in (2, 5, 10, 50):
        labels = [f"c{i:02d}" for i in range(k)]
        for shape in ("uniform", "skewed"):
            p = shares_of(k, shape)
            for n1, n2 in PAIRS:

                def make(n1: int = n1, n2: int = n2, p: np.ndarray = p, labels: list[str] = labels) -> CategoricalPair:
                    return CategoricalPair(
                        count_map(rng.multinomial(n1, p), labels), count_map(rng.multinomial(n2, p), labels)
                    )

                run_trials(tally, f"{k} {shape}", (n1, n2), make, "categorical", CALIBRATED["categorical"])
    assert not tally.failures(), "\n".join(tally.failures())
    # the automatic choice picked each of its categorical tests somewhere in this grid
    assert {"categorical:z", "categorical:chisquare", "categorical:jensenshannon"} <= tally.picked


NUMERIC = {
    # name: (draw a sorted sample of n, tests besides the automatic choice)
    "continuous": (sorted_uniform, ["ks", "wasserstein", "jensenshannon", "psi"]),
    "poisson": (None, CALIBRATED["numeric"]),  # about 10 distinct values: KS with many ties
    "three values": (None, CALIBRATED["numeric"]),  # chi-square / Z / value-share distances
}
DISCRETE = {"poisson": stats.poisson(3).pmf(np.arange(13)), "three values": np.array([0.5, 0.3, 0.2])}


def test_numeric_tests_are_calibrated() -> None:
    rng = np.random.default_rng(7)
    tally = Tally()
    for name, (draw, tests) in NUMERIC.items():
        if draw is None:
            p = DISCRETE[name] / DISCRETE[name].sum()
            values = np.arange(len(p), dtype=np.float64)

            def draw(rng: np.random.Generator, n: int, p: np.ndarray = p, values: np.ndarray = values) -> np.ndarray:
                return np.repeat(values, rng.multinomial(n, p))

        for n1, n2 in PAIRS:

            def make(n1: int = n1, n2: int = n2, draw: Callable = draw) -> NumericPair:
                return numeric_pair(draw(rng, n1), draw(rng, n2))

            run_trials(tally, name, (n1, n2), make, "numeric", tests)
    assert not tally.failures(), "\n".join(tally.failures())
    assert {"numeric:ks", "numeric:chisquare", "numeric:wasserstein", "numeric:jensenshannon"} <= tally.picked


def test_the_check_catches_evidentlys_goodness_of_fit() -> None:
    # the same bound on Evidently's chi-square (two samples of one 5-category distribution, 800 rows each)
    rng = np.random.default_rng(3)
    labels = list("abcde")
    p = shares_of(5, "uniform")
    tally = Tally()
    for _ in range(200):
        pair = CategoricalPair(count_map(rng.multinomial(800, p), labels), count_map(rng.multinomial(800, p), labels))
        for test in ("evidently:chisquare", "chisquare"):
            tally.add(test, "5 uniform", "800/800", decide(pair, test, TESTS[test].threshold).drifted)
    failures = tally.failures()
    assert failures and all(f.startswith("evidently:chisquare") for f in failures), failures
    assert tally.rate("evidently:chisquare", "5 uniform", "800/800") > 0.2  # the issue measured 28-38%


def test_detect_drift_end_to_end_is_calibrated() -> None:
    # one frame, many columns of one distribution on both sides: each column a trial through the public API
    rng = np.random.default_rng(11)
    n, columns = 600, 150
    labels = np.array(["basic", "pro", "team", "free", "trial"])
    p = np.array([0.4, 0.25, 0.2, 0.1, 0.05])

    def frame() -> pd.DataFrame:
        return pd.DataFrame(
            {f"x{i}": rng.normal(size=n) for i in range(columns)}
            | {f"d{i}": rng.poisson(2, n) for i in range(columns)}
            | {f"c{i}": labels[rng.choice(5, n, p=p)] for i in range(columns)}
        )

    table = detect_drift(frame(), frame(), progress=False, plots=False).table.set_index("feature")
    for prefix, test in (("x", "ks"), ("d", "ks"), ("c", "chisquare")):
        rows = table[table.index.str.startswith(prefix)]
        assert set(rows["test"]) == {test} and (rows["status"] == "ok").all()
        assert int(rows["drifted"].sum()) <= bound(columns), (prefix, int(rows["drifted"].sum()))
    evidently = detect_drift(frame(), frame(), tests="evidently", progress=False, plots=False).table
    flagged = evidently[evidently["feature"].str.startswith("c")]["drifted"].sum()
    assert flagged > bound(columns)  # Evidently's goodness of fit flags these columns far more often


def shifted_pair(kind: str, n1: int, n2: int, rng: np.random.Generator) -> NumericPair | CategoricalPair:
    if kind == "mean shift":  # half a standard deviation
        return numeric_pair(np.sort(rng.normal(size=n1)), np.sort(rng.normal(0.5, 1.0, size=n2)))
    labels = list("abcdef")
    before = np.array([0.3, 0.25, 0.2, 0.15, 0.1, 0.0])
    after = (
        np.array([0.15, 0.25, 0.2, 0.15, 0.25, 0.0])
        if kind == "proportions"  # JS distance 0.17
        else np.append(before[:5] * 0.9, 0.1)
    )  # "new category": a sixth one takes 10% (JS 0.19)
    return CategoricalPair(
        count_map(rng.multinomial(n1, before), labels), count_map(rng.multinomial(n2, after), labels)
    )


@pytest.mark.parametrize("kind", ["mean shift", "proportions", "new category"])
@pytest.mark.parametrize(
    ("n1", "n2", "trials"), [(500, 500, 200), (1000, 1000, 100), (100_000, 100_000, 20), (1_000_000, 1_000_000, 3)]
)
def test_known_shifts_are_detected(kind: str, n1: int, n2: int, trials: int) -> None:
    rng = np.random.default_rng(n1 + len(kind))
    found = 0
    for _ in range(trials):
        pair = shifted_pair(kind, n1, n2, rng)
        test = auto_test("numeric" if kind == "mean shift" else "categorical", n1, pair.n_values)
        found += decide(pair, test, TESTS[test].threshold).drifted
    # these shifts are far beyond noise at these sizes (power > 0.99 for each), and beyond the distances' 0.1
    assert found >= trials - max(1, trials // 50), (kind, n1, found, trials)
