"""Two-sample tests on a 2 x k table of counts (reference row, current row): is one distribution behind both?

The chi-square test of homogeneity compares both samples with their pooled shares, so the reference's own
sampling noise is part of the null (a goodness-of-fit test against the reference's shares is not, and flags
noise as drift). Columns are categories, bins or values; a value seen on one side only is just another column.

Rare columns (expected count under 5 in the smaller sample: Cochran's rule) are grouped, smallest pooled counts
together, until each group expects 5 before the chi-square approximation is used. Which columns group depends
only on the pooled counts (and an order of the columns that does not depend on the split), which the null leaves
free, so the test stays valid. A table left with two columns gets the exact conditional p-value
(hypergeometric, Pearson's ordering): the chi-square approximation with one degree of freedom is liberal there
(an exact size of 0.056 at 100 + 100 rows and even odds). Everything here is numpy and math: the default drift
tests do not import scipy.stats (~60 MiB).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

MIN_EXPECTED = 5.0  # Cochran's rule for the chi-square approximation
_ITERATIONS = 100_000
_EPS = 1e-16
_TINY = 1e-300


@dataclass(frozen=True)
class TableTest:
    statistic: float  # Pearson's X^2 of the table after rare columns are merged
    p_value: float
    columns: int  # columns of the merged table


def chi2_sf(x: float, df: int) -> float:
    """P(X > x) for X ~ chi-square(df): the regularized upper incomplete gamma Q(df/2, x/2) (series below
    a + 1, Lentz's continued fraction above; Numerical Recipes' gammq), agreeing with scipy.stats.chi2.sf to
    about 1e-11 relative."""
    if not x > 0:
        return 1.0
    if math.isinf(x):
        return 0.0
    a, z = df / 2.0, x / 2.0
    log_front = -z + a * math.log(z) - math.lgamma(a)
    if z < a + 1.0:
        term = total = 1.0 / a
        denominator = a
        for _ in range(_ITERATIONS):
            denominator += 1.0
            term *= z / denominator
            total += term
            if abs(term) < abs(total) * _EPS:
                break
        return min(1.0, max(0.0, 1.0 - total * math.exp(log_front)))
    b = z + 1.0 - a
    c = 1.0 / _TINY
    d = 1.0 / b
    h = d
    for i in range(1, _ITERATIONS):
        an = -i * (i - a)
        b += 2.0
        d = an * d + b
        d = _TINY if abs(d) < _TINY else d
        c = b + an / c
        c = _TINY if abs(c) < _TINY else c
        d = 1.0 / d
        step = d * c
        h *= step
        if abs(step - 1.0) < _EPS:
            break
    return min(1.0, max(0.0, h * math.exp(log_front)))


def two_column_p(a: int, n1: int, n2: int, t: int) -> float:
    """Exact conditional p-value of a 2 x 2 table given its margins: reference row n1 with `a` in the first
    column, current row n2, first column total t. Under the null the first cell is hypergeometric; the p-value
    sums the tables at least as far from its mean as the observed one (Pearson's X^2 orders tables so)."""
    lo, hi = max(0, t - n2), min(n1, t)
    if hi <= lo:
        return 1.0
    k = np.arange(lo, hi + 1, dtype=np.float64)
    head = k[:-1]
    # pmf(k + 1) / pmf(k) = (n1 - k)(t - k) / ((k + 1)(n2 - t + k + 1)); the products stay exact below 2**53
    steps = np.log((n1 - head) * (t - head)) - np.log((head + 1.0) * (n2 - t + head + 1.0))
    log_pmf = np.concatenate(([0.0], np.cumsum(steps)))
    pmf = np.exp(log_pmf - log_pmf.max())
    mean = n1 * t / (n1 + n2)
    gap = abs(a - mean)
    far = np.abs(k - mean) >= gap * (1.0 - 1e-12) - 1e-9  # a mirrored table ties with the observed one
    return float(min(1.0, pmf[far].sum() / pmf.sum()))


def _merge_rare(ref: np.ndarray, cur: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Columns in order of pooled count (largest first; ties keep the caller's order, which must not depend on
    how the pooled counts split between the rows); rare ones are grouped, in that order, until each group
    expects at least MIN_EXPECTED; a last group short of it joins the group before it, or, when it is the only
    group, the smallest kept column (if two others are kept: with one, the exact two-column test takes it)."""
    n1, n2 = ref.sum(), cur.sum()
    scale = min(n1, n2) / (n1 + n2)  # a column's expected count in the smaller row, per pooled count
    total = ref + cur
    order = np.argsort(-total, kind="stable")
    order = order[total[order] > 0]
    ref, cur, total = ref[order], cur[order], total[order]
    rare = total * scale < MIN_EXPECTED
    if not rare.any():
        return ref, cur
    first = int(np.argmax(rare))  # sorted by count: the rare columns are the tail
    group = np.empty(len(total) - first, dtype=np.int64)
    current, filled = 0, 0.0
    for i, count in enumerate((total[first:] * scale).tolist()):
        if filled >= MIN_EXPECTED:
            current, filled = current + 1, 0.0
        group[i] = current
        filled += count
    if filled < MIN_EXPECTED and current:
        group[group == current] = current - 1  # the last group, short of 5, joins the one before
    groups = int(group.max()) + 1
    ref_groups = np.bincount(group, weights=ref[first:], minlength=groups)
    cur_groups = np.bincount(group, weights=cur[first:], minlength=groups)
    ref_kept, cur_kept = ref[:first].copy(), cur[:first].copy()
    if groups == 1 and filled < MIN_EXPECTED and len(ref_kept) >= 2:
        ref_kept[-1] += ref_groups[0]  # a single group short of 5 joins the smallest kept column
        cur_kept[-1] += cur_groups[0]
        return ref_kept, cur_kept
    return np.concatenate((ref_kept, ref_groups)), np.concatenate((cur_kept, cur_groups))


def homogeneity(ref_counts: np.ndarray, cur_counts: np.ndarray) -> TableTest:
    """Chi-square test of homogeneity of two rows of counts aligned by column (rare columns merged; two columns
    left: the exact conditional p-value; one column: nothing to compare, p = 1)."""
    ref, cur = _merge_rare(np.asarray(ref_counts, dtype=np.float64), np.asarray(cur_counts, dtype=np.float64))
    if len(ref) < 2:
        return TableTest(0.0, 1.0, len(ref))
    n1, n2 = ref.sum(), cur.sum()
    total = ref + cur
    expected_ref = total * (n1 / (n1 + n2))
    expected_cur = total * (n2 / (n1 + n2))
    statistic = float(
        np.sum((ref - expected_ref) ** 2 / expected_ref) + np.sum((cur - expected_cur) ** 2 / expected_cur)
    )
    if len(ref) == 2:
        p = two_column_p(int(round(ref[0])), int(round(n1)), int(round(n2)), int(round(total[0])))
    else:
        p = chi2_sf(statistic, len(ref) - 1)
    return TableTest(statistic, p, len(ref))


__all__ = ["MIN_EXPECTED", "TableTest", "chi2_sf", "homogeneity", "two_column_p"]
