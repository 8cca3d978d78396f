"""The two-sample table tests behind the default categorical drift tests, against scipy: the chi-square tail, the
exact conditional p-value of two columns, the test of homogeneity and its grouping of rare columns."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from nbmlops.monitoring.contingency import MIN_EXPECTED, _merge_rare, chi2_sf, homogeneity, two_column_p
from nbmlops.monitoring.stattests import NumericPair


@pytest.mark.parametrize("df", [1, 2, 3, 4, 9, 49, 200, 5000])
def test_chi2_tail_matches_scipy(df: int) -> None:
    for x in np.concatenate((np.linspace(0.01, 4 * df + 40, 60), [1e-9, df, 10 * df + 800])):
        expected = stats.chi2.sf(x, df)
        assert chi2_sf(float(x), df) == pytest.approx(expected, rel=1e-9, abs=1e-300), (x, df)
    assert chi2_sf(0.0, df) == 1.0 and chi2_sf(float("inf"), df) == 0.0


@pytest.mark.parametrize(
    ("a", "n1", "n2", "t"),
    [
        (5, 10, 12, 9),
        (30, 100, 100, 50),
        (0, 100, 100, 3),
        (50, 100, 100, 100),
        (7, 1000, 100, 60),
        (400, 900, 2000, 1000),
    ],
)
def test_two_columns_get_the_exact_conditional_p_value(a: int, n1: int, n2: int, t: int) -> None:
    law = stats.hypergeom(n1 + n2, t, n1)
    support = np.arange(max(0, t - n2), min(n1, t) + 1)
    mean = n1 * t / (n1 + n2)
    expected = law.pmf(support)[np.abs(support - mean) >= abs(a - mean) - 1e-9].sum()
    assert two_column_p(a, n1, n2, t) == pytest.approx(expected, rel=1e-9)


def test_homogeneity_is_scipys_chi2_contingency_when_no_column_is_rare() -> None:
    ref, cur = np.array([300, 200, 120, 60, 20]), np.array([80, 40, 50, 12, 18])
    expected = stats.chi2_contingency(np.array([ref, cur]), correction=False)
    found = homogeneity(ref, cur)
    assert found.columns == 5
    assert found.statistic == pytest.approx(expected.statistic, rel=1e-12)
    assert found.p_value == pytest.approx(expected.pvalue, rel=1e-9)
    # a value one side never saw is one more column
    unseen = homogeneity(np.array([300, 200, 0]), np.array([80, 40, 30]))
    assert unseen.columns == 3 and unseen.p_value < 1e-10


def test_rare_columns_are_grouped_until_each_expects_five() -> None:
    rng = np.random.default_rng(0)
    for _ in range(200):
        k = int(rng.integers(2, 60))
        ref = rng.multinomial(int(rng.integers(20, 400)), rng.dirichlet(np.full(k, 0.5)))
        cur = rng.multinomial(int(rng.integers(20, 400)), rng.dirichlet(np.full(k, 0.5)))
        r, c = _merge_rare(ref.astype(float), cur.astype(float))
        assert r.sum() == ref.sum() and c.sum() == cur.sum()  # nothing lost
        scale = min(ref.sum(), cur.sum()) / (ref.sum() + cur.sum())
        if len(r) > 2:
            assert ((r + c) * scale >= MIN_EXPECTED).all()  # the chi-square approximation's condition
    # 40 categories of 2 rows each on both sides (each expects 2): groups of 3 columns, the last one of 4
    grouped = homogeneity(np.full(40, 2), np.full(40, 2))
    assert grouped.columns == 13 and grouped.statistic == 0.0 and grouped.p_value == 1.0
    # nothing to compare when every row is in one column
    assert homogeneity(np.array([3, 0]), np.array([4, 0])).p_value == 1.0


def test_ks_p_value_without_scipy_where_kstwo_is_zero() -> None:
    rng = np.random.default_rng(1)
    ref, cur = np.sort(rng.normal(size=60_000)), np.sort(rng.normal(0.5, 1.0, size=40_000))
    found = NumericPair(ref, cur, len(ref), float(np.std(ref))).ks()
    expected = stats.ks_2samp(ref, cur)
    assert found.p_value == expected.pvalue == 0.0 and found.statistic == pytest.approx(expected.statistic)
