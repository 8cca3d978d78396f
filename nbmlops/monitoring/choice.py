"""Which drift test a column gets, and its verdict.

Two rules choose a test per column the same way (Evidently's DataDriftPreset default, with n = the reference's
non-missing values and v = distinct values of reference and current together):
    n <= 1000: numeric with v > 5 -> ks;  v in 3..5 or categorical -> chisquare;  v <= 2 -> z
    n >  1000: numeric with v > 5 -> wasserstein;  otherwise -> jensenshannon
"auto" (the default) picks the calibrated tests of those names: a p-value test drifts at p <= 0.05; a distance
drifts at distance >= 0.1 when a two-sample test on the same data also has p <= 0.05 (ALPHA), so noise alone
flags a column at most 5% of the time, at any size and number of categories. "evidently" picks Evidently's own
tests ("evidently:chisquare", ...), bit for bit: its chi-square is a goodness-of-fit test against the
reference's shares, which flags two samples of one 5-category distribution (800 rows each) a third of the time,
and its distances drift on the distance alone. Forcing one test by name works in both families.
"""

from __future__ import annotations

from dataclasses import dataclass

from nbmlops.monitoring.stattests import CategoricalPair, NumericPair, Outcome

ALPHA = 0.05  # the level of the calibrated tests: their default p-value threshold, and the distances' gate
AUTO, EVIDENTLY = "auto", "evidently"
RULES = (AUTO, EVIDENTLY)
EVIDENTLY_PREFIX = "evidently:"
SMALL_REFERENCE = 1000  # up to this many reference values: p-value tests; above: distances (Evidently's split)


@dataclass(frozen=True)
class TestSpec:
    name: str
    kinds: tuple[str, ...]
    threshold: float
    has_p_value: bool  # the score is a p-value (drift at or below the threshold), else a distance (at or above)
    calibrated: bool  # false-positive rate <= ALPHA on two samples of one distribution
    method: str  # the pair's method computing the statistic
    gated: bool = False  # a distance that drifts only where the pair's two-sample gate has p <= ALPHA too
    strict: bool = False  # drift at p < threshold (Evidently's chi-square and Z), not p <= threshold

    __test__ = False  # not a pytest class, whatever a test module imports


_BOTH = ("numeric", "categorical")
TESTS: dict[str, TestSpec] = {
    t.name: t
    for t in (
        TestSpec("ks", ("numeric",), ALPHA, True, True, "ks"),
        TestSpec("chisquare", _BOTH, ALPHA, True, True, "chisquare"),
        TestSpec("z", _BOTH, ALPHA, True, True, "z"),
        TestSpec("wasserstein", ("numeric",), 0.1, False, True, "wasserstein_test", gated=True),
        TestSpec("jensenshannon", _BOTH, 0.1, False, True, "jensenshannon", gated=True),
        TestSpec("psi", _BOTH, 0.1, False, True, "psi", gated=True),
        TestSpec("evidently:ks", ("numeric",), 0.05, True, True, "ks"),  # the same test as ks
        TestSpec("evidently:chisquare", _BOTH, 0.05, True, False, "evidently_chisquare", strict=True),
        TestSpec("evidently:z", _BOTH, 0.05, True, False, "evidently_z", strict=True),
        TestSpec("evidently:wasserstein", ("numeric",), 0.1, False, False, "wasserstein_test"),
        TestSpec("evidently:jensenshannon", _BOTH, 0.1, False, False, "jensenshannon"),
        TestSpec("evidently:psi", _BOTH, 0.1, False, False, "psi"),
    )
}
ALIASES = {
    "chi2": "chisquare",
    "chi-square": "chisquare",
    "js": "jensenshannon",
    "jensen-shannon": "jensenshannon",
    "wasserstein_norm": "wasserstein",
    "kolmogorov-smirnov": "ks",
    "z-test": "z",
    "ztest": "z",
}


def test_name(name: str) -> str | None:
    """The canonical name of a test ("chi2" -> "chisquare", "Evidently:JS" -> "evidently:jensenshannon") or of a
    rule ("auto", "evidently"); None if it names neither."""
    key = name.strip().lower()
    if key in RULES:
        return key
    prefix = ""
    if key.startswith(EVIDENTLY_PREFIX):
        prefix, key = EVIDENTLY_PREFIX, key[len(EVIDENTLY_PREFIX) :].strip()
    full = prefix + ALIASES.get(key, key)
    return full if full in TESTS else None


test_name.__test__ = False  # a pytest module importing it must not collect it as a test


def auto_test(kind: str, n_reference: int, n_values: int, rule: str = AUTO) -> str:
    """The test `rule` ("auto": calibrated, "evidently": Evidently's) gives a column: p-value tests for small
    references, distances for large ones."""
    if rule not in RULES:
        raise ValueError(f"unknown rule {rule!r} (one of {', '.join(RULES)})")
    many_numbers = kind == "numeric" and n_values > 5
    if n_reference <= SMALL_REFERENCE:
        name = "ks" if many_numbers else "chisquare" if n_values > 2 else "z"
    else:
        name = "wasserstein" if many_numbers else "jensenshannon"
    return name if rule == AUTO else EVIDENTLY_PREFIX + name


def decide(pair: NumericPair | CategoricalPair, test: str, threshold: float) -> Outcome:
    """The test's statistic, p-value, score and verdict. A gated distance's p-value (its two-sample test on the
    same data) is computed only where the distance reaches the threshold: below it there is no drift anyway."""
    spec = TESTS[test]
    outcome: Outcome = getattr(pair, spec.method)()
    score = outcome.score
    if spec.has_p_value:
        outcome.drifted = bool(score < threshold) if spec.strict else bool(score <= threshold)
        return outcome
    outcome.drifted = bool(score >= threshold)
    if spec.gated and outcome.drifted:
        outcome.p_value = pair.gate(spec.method)
        outcome.drifted = bool(outcome.p_value <= ALPHA)
    return outcome


__all__ = ["ALPHA", "AUTO", "EVIDENTLY", "RULES", "TESTS", "TestSpec", "auto_test", "decide", "test_name"]
