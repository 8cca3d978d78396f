"""Drift statistics on one column, from the precomputed reference and the current values sorted once.

Two families share these formulas (nbmlops.monitoring.choice names the tests and decides the verdicts):
calibrated two-sample tests, the default, whose false-positive rate on two samples of one distribution is at
most their level (tests/monitoring/test_calibration.py), and Evidently 0.7's legacy stattests, kept as they are so
scores agree with Evidently's and scipy's to rounding:
  ks            scipy.stats.ks_2samp (two-sided; exact p below 10,000 rows per side, else kstwo.sf): both families
  chisquare     calibrated: chi-square test of homogeneity of the reference and current counts (contingency.py)
                Evidently: scipy.stats.chisquare of current counts against reference counts scaled to the current
                size (goodness of fit: the reference's own noise is ignored, so equal distributions drift)
  z             calibrated: the most frequent value of both samples against the rest, exact conditional p-value
                Evidently: two-proportion Z-test on the reference's most frequent value, normal p-value
  wasserstein   scipy.stats.wasserstein_distance / max(reference std (ddof=0), 0.001)
  jensenshannon scipy.spatial.distance.jensenshannon of equal bins over both samples' range, as many as
                numpy's "sturges" rule gives for both samples together (value shares when the reference has
                <= 20 distinct values)
  psi           population stability index on the same bins, empty bins filled as Evidently does
A distance is the same number in both families; the calibrated verdict also asks a two-sample test on the same
data (`gate`: KS for Wasserstein, chi-square homogeneity on the same bins or categories for Jensen-Shannon and
PSI), computed only when the distance reaches its threshold.
A pair caches what several statistics share (sorted samples, bins, category counts; the Wasserstein distance
is both a test and the numeric effect size), so no statistic is computed twice, and computes nothing a chosen test
does not need: KS's merge runs only for KS and for a Wasserstein distance at its threshold.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cached_property

import numpy as np

from nbmlops.monitoring.columns import CHUNK, unique_counts
from nbmlops.monitoring.contingency import TableTest, homogeneity, two_column_p

BINNED_DISTINCT = 20  # Evidently bins a numeric column only above this many distinct reference values
EXACT_KS_MAX_N = 10_000  # scipy's ks_2samp 'auto' switches from the exact to the asymptotic p-value above this
WASSERSTEIN_MIN_STD = 0.001
KS_ZERO_TAIL = 370.0  # kstwo.sf(d, n) is exactly 0 where n > 140, d < 0.5 and n d^2 >= 370 (scipy's _kolmogn)


@dataclass
class Outcome:
    statistic: float  # the test's own statistic: D, chi², z, or the distance
    p_value: float | None
    score: float  # what the threshold is compared with (the p-value, else the distance): Evidently's drift_score
    drifted: bool = False  # set by choice.decide


class _Shares:
    """Aligned value shares of both sides (keys = union of the values seen)."""

    def __init__(self, ref: dict, cur: dict) -> None:
        keys = list(ref) + [k for k in cur if k not in ref]
        self.keys = keys
        self.ref = np.array([ref.get(k, 0) for k in keys], dtype=np.float64)
        self.cur = np.array([cur.get(k, 0) for k in keys], dtype=np.float64)

    def value_order(self) -> list[int]:
        """Positions of the keys in the order of their values: unlike the keys' own order (the reference's
        counts first), it does not depend on which side a value was counted on."""
        return sorted(range(len(self.keys)), key=self.keys.__getitem__)

    def homogeneity(self) -> TableTest:
        """The chi-square test of homogeneity, columns in value order (its grouping of rare columns needs an
        order that does not depend on the split)."""
        order = self.value_order()
        return homogeneity(self.ref[order], self.cur[order])


def _jensenshannon(p: np.ndarray, q: np.ndarray) -> float:
    """scipy.spatial.distance.jensenshannon (natural log), the same arithmetic in numpy: the default test of
    categorical columns should not cost scipy.spatial's import (~26 MiB, a tenth of a second)."""
    p = p / np.sum(p)
    q = q / np.sum(q)
    m = (p + q) / 2.0
    return float(np.sqrt((np.sum(_rel_entr(p, m)) + np.sum(_rel_entr(q, m))) / 2.0))


def _rel_entr(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """scipy.special.rel_entr: x*log(x/y) where both are positive, 0 where x == 0 and y >= 0, inf otherwise."""
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.where((x > 0) & (y > 0), x * np.log(x / y), 0.0)
    return np.where((x < 0) | ((x > 0) & (y <= 0)) | ((x == 0) & (y < 0)), np.inf, out)


def _fill_zeroes(percents: np.ndarray) -> np.ndarray:
    # Evidently's PSI replaces empty bins by a small share so the logarithm stays finite
    out = percents.copy()
    nonzero = out[out != 0]
    if len(nonzero) and (out == 0).any():
        smallest = nonzero.min()
        out[out == 0] = smallest / 10**6 if smallest <= 0.0001 else 0.0001
    return out


def _psi(ref_pct: np.ndarray, cur_pct: np.ndarray) -> float:
    r, c = _fill_zeroes(ref_pct), _fill_zeroes(cur_pct)
    return float(np.sum((r - c) * np.log(r / c)))


def _chisquare_evidently(shares: _Shares) -> Outcome:
    from scipy.stats import chisquare

    expected = shares.ref * (shares.cur.sum() / shares.ref.sum())
    with np.errstate(divide="ignore", invalid="ignore"):  # a value unseen in the reference: chi² = inf, p = 0
        stat, p = chisquare(shares.cur, expected)
    return Outcome(float(stat), float(p), float(p))


def _z_evidently(shares: _Shares, ref_distinct: int, cur_distinct: int) -> Outcome:
    from scipy.stats import norm

    if ref_distinct == 1 and cur_distinct == 1 and len(shares.keys) == 1:
        return Outcome(0.0, 1.0, 1.0)  # the same single value on both sides
    n1, n2 = shares.ref.sum(), shares.cur.sum()
    p1, p2 = shares.ref[0] / n1, shares.cur[0] / n2
    pooled = (p1 * n1 + p2 * n2) / (n1 + n2)
    z = (p1 - p2) / math.sqrt(pooled * (1 - pooled) * (1.0 / n1 + 1.0 / n2))
    p = float(2 * norm.sf(abs(z)))
    return Outcome(float(z), p, p)


def _chisquare(shares: _Shares) -> Outcome:
    found = shares.homogeneity()
    return Outcome(found.statistic, found.p_value, found.p_value)


def _z(shares: _Shares) -> Outcome:
    """The two-proportion Z statistic on the most frequent value of both samples together, with the exact
    conditional p-value of its 2 x 2 table (the normal approximation is liberal on small or lopsided tables).
    Evidently takes the reference's most frequent value instead: where several are about as frequent, that is
    the one the reference's noise raised, so the current sample looks lower (a false-positive rate of 13% with
    5 equally likely values, 100 + 1000 rows); the pooled counts do not depend on the split (ties: the smallest
    value)."""
    n1, n2 = int(shares.ref.sum()), int(shares.cur.sum())
    total = shares.ref + shares.cur
    top = max(shares.value_order(), key=total.__getitem__)  # max keeps the first of equals
    a, b = int(shares.ref[top]), int(shares.cur[top])
    if a + b in (0, n1 + n2):
        return Outcome(0.0, 1.0, 1.0)  # every value on both sides is, or none is, that value
    pooled = (a + b) / (n1 + n2)
    z = (a / n1 - b / n2) / math.sqrt(pooled * (1 - pooled) * (1.0 / n1 + 1.0 / n2))
    p = two_column_p(a, n1, n2, a + b)
    return Outcome(float(z), p, p)


def _chunked_sum_abs_diff(r: np.ndarray, c: np.ndarray) -> float:
    """sum |r - c| of two equal-length arrays, one chunk-sized temporary."""
    scratch = np.empty(min(len(r), CHUNK), dtype=np.float64)
    partials = []
    for start in range(0, len(r), CHUNK):
        part = scratch[: min(CHUNK, len(r) - start)]
        np.subtract(r[start : start + CHUNK], c[start : start + CHUNK], out=part)
        np.abs(part, out=part)
        partials.append(float(part.sum()))
    return math.fsum(partials)


def _wasserstein_merged(r: np.ndarray, c: np.ndarray) -> float:
    """n1 * n2 * W1 of sorted samples of different sizes. In units of 1/(n1*n2) the quantile functions step at
    a_i = i*n2 (reference, i >= 1) and b_j = j*n1 (current); on each interval (previous step, g] both are
    constant, read at g. The u axis [0, n1*n2] is walked in pieces (u0, u1] holding about CHUNK steps each; a
    step's place in the merged order is closed form: a_i has i - 1 + (a_i - 1) // n1 steps before it, b_j has
    j - 1 + b_j // n2 (a tie puts a first; its width is 0 either way), less the i0 + j0 steps at or below u0."""
    n1, n2 = len(r), len(c)
    total = n1 * n2  # Python ints for the bounds: no overflow
    pieces = max(1, -(-(n1 + n2) // CHUNK))
    partials = []
    u0 = 0
    for k in range(1, pieces + 1):
        u1 = total * k // pieces
        i0, i1, j0, j1 = u0 // n2, u1 // n2, u0 // n1, u1 // n1
        a = np.arange(i0 + 1, i1 + 1, dtype=np.int64) * n2
        b = np.arange(j0 + 1, j1 + 1, dtype=np.int64) * n1
        m = len(a) + len(b)
        grid = np.empty(m + 1, dtype=np.int64)
        grid[np.arange(i0 - (i0 + j0), i1 - (i0 + j0)) + (a - 1) // n1] = a
        grid[np.arange(j0 - (i0 + j0), j1 - (i0 + j0)) + b // n2] = b
        grid[m] = u1  # the piece's end, where the last interval is cut (width 0 if it is a step itself)
        width = np.diff(grid, prepend=u0)
        gap = r[(grid + n2 - 1) // n2 - 1]
        gap -= c[(grid + n1 - 1) // n1 - 1]
        np.abs(gap, out=gap)
        gap *= width  # no BLAS dot per piece (each call wakes BLAS's threads)
        partials.append(float(gap.sum()))
        u0 = u1
    return math.fsum(partials)


def _ks_d(ref: np.ndarray, cur: np.ndarray) -> float:
    """max |F_ref(x) - F_cur(x)| over every value x of both sorted samples (right-continuous CDFs, as ks_2samp),
    in exact integers |ref_seen * n2 - cur_seen * n1| / (n1 * n2). The samples are merged piece by piece: a piece
    ends at a value t (at most CHUNK values of each side before ties), takes every value <= t of both, and is
    merged by a stable argsort of its two sorted runs (timsort: linear); ties never straddle two pieces."""
    n1, n2 = len(ref), len(cur)
    best = 0
    rs = cs = 0
    while rs < n1 or cs < n2:
        ends = ([ref[min(rs + CHUNK, n1) - 1]] if rs < n1 else []) + ([cur[min(cs + CHUNK, n2) - 1]] if cs < n2 else [])
        t = min(ends)
        re = rs + int(np.searchsorted(ref[rs:], t, "right"))
        ce = cs + int(np.searchsorted(cur[cs:], t, "right"))
        both = np.concatenate((ref[rs:re], cur[cs:ce]))
        order = np.argsort(both, kind="stable")
        ref_seen = np.cumsum(order < re - rs, dtype=np.int64)
        cur_seen = np.arange(1, len(order) + 1, dtype=np.int64) - ref_seen + cs
        ref_seen += rs
        gap = np.abs(ref_seen * n2 - cur_seen * n1)
        merged = both[order]
        last = np.empty(len(merged), dtype=bool)  # a CDF is right-continuous: read it at the last of equal values
        np.not_equal(merged[1:], merged[:-1], out=last[:-1])
        last[-1] = True
        best = max(best, int(gap[last].max()))
        rs, cs = re, ce
    return best / (n1 * n2)


class NumericPair:
    """A numeric column: reference sorted (precomputed), current sorted once here."""

    def __init__(self, ref: np.ndarray, cur: np.ndarray, ref_distinct: int, ref_std: float) -> None:
        self.ref, self.cur = ref, cur
        self.ref_distinct, self.ref_std = ref_distinct, ref_std

    @cached_property
    def cur_distinct(self) -> int:
        return len(self.cur_counts[0])

    @cached_property
    def ref_counts(self) -> tuple[np.ndarray, np.ndarray]:
        return unique_counts(self.ref)

    @cached_property
    def cur_counts(self) -> tuple[np.ndarray, np.ndarray]:
        return unique_counts(self.cur)

    @cached_property
    def n_values(self) -> int:
        """Distinct values of both samples together."""
        if self.ref_distinct > 5:
            return self.ref_distinct  # enough to choose a test: counting the current values is not needed
        if self.cur_distinct > 5:
            return self.cur_distinct
        return len(np.union1d(self.ref_counts[0], self.cur_counts[0]))

    @cached_property
    def ks_d(self) -> float:
        """KS's D = max |F_ref - F_cur| over the merged sample (only computed when KS is asked for)."""
        return _ks_d(self.ref, self.cur)

    @cached_property
    def wasserstein(self) -> float:
        """W1 = integral over u of |Q_ref(u) - Q_cur(u)|: the sorted samples' quantile functions compared on the
        merged grid {i/n1} U {j/n2}, whose order is known in closed form (no search, no second sort); walked in
        chunks of the u axis, so its temporaries are a few hundred KiB, not several column-sized arrays."""
        r, c = self.ref, self.cur
        n1, n2 = len(r), len(c)
        if n1 == n2:
            return _chunked_sum_abs_diff(r, c) / n1
        return _wasserstein_merged(r, c) / (n1 * n2)

    @cached_property
    def wasserstein_norm(self) -> float:
        return self.wasserstein / max(self.ref_std, WASSERSTEIN_MIN_STD)

    def ks(self) -> Outcome:
        n1, n2 = len(self.ref), len(self.cur)
        if max(n1, n2) <= EXACT_KS_MAX_N:
            from scipy.stats import ks_2samp

            found = ks_2samp(self.ref, self.cur)  # small: scipy's exact p-value, bit for bit
            return Outcome(float(found.statistic), float(found.pvalue), float(found.pvalue))
        d = self.ks_d
        m, n = sorted([float(n1), float(n2)], reverse=True)
        en = float(np.round(m * n / (m + n)))
        if en > 140 and d < 0.5 and en * d * d >= KS_ZERO_TAIL:
            return Outcome(d, 0.0, 0.0)  # kstwo's own answer, without importing scipy.stats (~60 MiB)
        from scipy.stats import kstwo

        p = float(np.clip(kstwo.sf(d, en), 0, 1))
        return Outcome(d, p, p)

    def wasserstein_test(self) -> Outcome:
        return Outcome(self.wasserstein_norm, None, self.wasserstein_norm)

    @cached_property
    def _binned_counts(self) -> tuple[np.ndarray, np.ndarray]:
        """Counts per Sturges bin over both samples' range, or per value (<= 20 distinct reference values)."""
        if self.ref_distinct > BINNED_DISTINCT:
            edges = sturges_edges(
                min(self.ref[0], self.cur[0]), max(self.ref[-1], self.cur[-1]), len(self.ref) + len(self.cur)
            )

            def counts(values: np.ndarray) -> np.ndarray:
                below = np.searchsorted(values, edges, side="left")
                below[-1] = len(values)  # the last bin is closed, as np.histogram's
                return np.diff(below)

            return counts(self.ref), counts(self.cur)
        return self.shares.ref, self.shares.cur

    @cached_property
    def _binned(self) -> tuple[np.ndarray, np.ndarray]:
        ref, cur = self._binned_counts
        return ref / len(self.ref), cur / len(self.cur)

    @cached_property
    def shares(self) -> _Shares:
        ref = dict(zip(self.ref_counts[0].tolist(), self.ref_counts[1].tolist(), strict=True))
        cur = dict(zip(self.cur_counts[0].tolist(), self.cur_counts[1].tolist(), strict=True))
        return _Shares(_by_count(ref), cur)

    def jensenshannon(self) -> Outcome:
        value = _jensenshannon(*self._binned)
        return Outcome(value, None, value)

    def psi(self) -> Outcome:
        value = _psi(*self._binned)
        return Outcome(value, None, value)

    def chisquare(self) -> Outcome:
        return _chisquare(self.shares)

    def z(self) -> Outcome:
        return _z(self.shares)

    def evidently_chisquare(self) -> Outcome:
        return _chisquare_evidently(self.shares)

    def evidently_z(self) -> Outcome:
        return _z_evidently(self.shares, self.ref_distinct, self.cur_distinct)

    def gate(self, method: str) -> float:
        """p-value of the two-sample test a calibrated distance must pass too: KS for Wasserstein, chi-square
        homogeneity on the bins the distance compared for Jensen-Shannon and PSI."""
        if method == "wasserstein_test":
            return float(self.ks().score)
        if self.ref_distinct > BINNED_DISTINCT:
            return homogeneity(*self._binned_counts).p_value  # bins in value order
        return self.shares.homogeneity().p_value

    @property
    def effect(self) -> tuple[str, float]:
        return "wasserstein_norm", self.wasserstein_norm


def sturges_edges(lo: float, hi: float, size: int) -> np.ndarray:
    """np.histogram_bin_edges(both samples, bins="sturges") from their min, max and size alone (same float ops)."""
    width = (hi - lo) / (np.log2(size) + 1.0)
    n_bins = int(np.ceil((hi - lo) / width)) if width else 1
    if lo == hi:
        lo, hi = lo - 0.5, hi + 0.5
    return np.linspace(lo, hi, n_bins + 1, endpoint=True)


def _by_count(counts: dict) -> dict:
    return dict(sorted(counts.items(), key=lambda kv: -kv[1]))


class CategoricalPair:
    """A categorical column: reference counts (precomputed, most frequent first) and current counts."""

    def __init__(self, ref: dict[str, int], cur: dict[str, int]) -> None:
        self.ref_map, self.cur_map = ref, cur

    @cached_property
    def shares(self) -> _Shares:
        return _Shares(self.ref_map, self.cur_map)

    @property
    def n_values(self) -> int:
        return len(self.shares.keys)

    @cached_property
    def _percents(self) -> tuple[np.ndarray, np.ndarray]:
        s = self.shares
        return s.ref / s.ref.sum(), s.cur / s.cur.sum()

    @cached_property
    def _js(self) -> float:
        return _jensenshannon(*self._percents)

    def jensenshannon(self) -> Outcome:
        return Outcome(self._js, None, self._js)

    def psi(self) -> Outcome:
        value = _psi(*self._percents)
        return Outcome(value, None, value)

    def chisquare(self) -> Outcome:
        return _chisquare(self.shares)

    def z(self) -> Outcome:
        return _z(self.shares)

    def evidently_chisquare(self) -> Outcome:
        return _chisquare_evidently(self.shares)

    def evidently_z(self) -> Outcome:
        return _z_evidently(self.shares, len(self.ref_map), len(self.cur_map))

    def gate(self, method: str) -> float:
        """p-value of the chi-square test of homogeneity on the categories a calibrated distance compared."""
        return self.shares.homogeneity().p_value

    @property
    def effect(self) -> tuple[str, float]:
        return "jensenshannon", self._js
