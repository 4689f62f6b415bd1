"""The Check's exact tests on scipy reproduce the integer implementations they replace."""

import math
from fractions import Fraction

import pytest

from improvement import stats

# --- the pre-scipy implementations, kept as the reference the scipy ones must reproduce -------


def _old_binomial_tail(k, n, p, *, upper):
    if n < 0 or k < 0 or k > n:
        raise ValueError("need 0 ≤ k ≤ n")
    terms = range(k, n + 1) if upper else range(0, min(k, n) + 1)
    if p == 0.5:
        return float(Fraction(sum(math.comb(n, i) for i in terms), 2**n))
    if p in (0.0, 1.0):
        success = 1 if p == 1.0 else 0
        return 1.0 if (n * success in terms) else 0.0
    log_p, log_q = math.log(p), math.log1p(-p)
    total = sum(
        math.exp(math.lgamma(n + 1) - math.lgamma(i + 1) - math.lgamma(n - i + 1) + i * log_p + (n - i) * log_q)
        for i in terms
    )
    return min(total, 1.0)


def _old_poisson_rate_test(k0, k1, *, baseline_exposure=1.0, observed_exposure=1.0, direction="decrease"):
    share = observed_exposure / (baseline_exposure + observed_exposure)
    return _old_binomial_tail(k1, k0 + k1, share, upper=direction == "increase")


def _old_smallest_p_value(n, *, share=0.5, direction="decrease"):
    return (1 - share) ** n if direction == "decrease" else share**n


def _old_fisher_exact_one_sided(f0, n0, f1, n1, *, direction):
    total, events = n0 + n1, f0 + f1
    low, high = max(0, events - n0), min(events, n1)
    terms = range(low, f1 + 1) if direction == "decrease" else range(f1, high + 1)
    favourable = sum(math.comb(events, x) * math.comb(total - events, n1 - x) for x in terms)
    return float(Fraction(favourable, math.comb(total, n1)))


def _old_smallest_fisher_p_value(n0, n1, events, *, direction):
    total = n0 + n1
    extreme = max(0, events - n0) if direction == "decrease" else min(events, n1)
    return float(Fraction(math.comb(events, extreme) * math.comb(total - events, n1 - extreme), math.comb(total, n1)))


# --- exact helpers -------------------------------------------------------------------------------


def exact_binomial_tail(k, n, p: Fraction, *, upper) -> Fraction:
    """P(X ≤ k) or P(X ≥ k), X ~ Binomial(n, p), p rational: Σ C(n, i) a^i b^(n−i) / (a + b)^n in integers."""
    a, b = p.numerator, p.denominator - p.numerator
    terms = range(k, n + 1) if upper else range(0, k + 1)
    return Fraction(sum(math.comb(n, i) * a**i * b ** (n - i) for i in terms), p.denominator**n)


# --- the old functions, now on scipy --------------------------------------------------------------


def test_it_reproduces_the_old_exact_binomial_results_on_a_grid():
    # scipy's tails are floating evaluations, the old ones exact integers: they agree to 1e-12 (in practice
    # to a few units in the last place; checks.py compares with 0.05, never for equality).
    for n in range(0, 61):
        for k in range(0, n + 1):
            for upper in (False, True):
                expected = _old_binomial_tail(k, n, 0.5, upper=upper)
                assert stats.binomial_tail(k, n, 0.5, upper=upper) == pytest.approx(expected, rel=1e-12)
    for share in (Fraction(1, 4), Fraction(1, 3), Fraction(2, 3), Fraction(3, 7), Fraction(19, 20)):
        for n in range(0, 41, 3):
            for k in range(0, n + 1):
                for upper in (False, True):
                    exact = float(exact_binomial_tail(k, n, share, upper=upper))
                    assert stats.binomial_tail(k, n, float(share), upper=upper) == pytest.approx(exact, rel=1e-12)
                    old = _old_binomial_tail(k, n, float(share), upper=upper)
                    assert stats.binomial_tail(k, n, float(share), upper=upper) == pytest.approx(old, rel=1e-9)
    for p in (0.0, 1.0):
        for k in range(0, 4):
            for upper in (False, True):
                assert stats.binomial_tail(k, 3, p, upper=upper) == _old_binomial_tail(k, 3, p, upper=upper)
    with pytest.raises(ValueError):
        stats.binomial_tail(4, 3, 0.5, upper=False)


def test_it_reproduces_the_old_poisson_rate_test_and_its_smallest_p_value():
    for k0 in range(0, 31):
        for k1 in range(0, 31):
            for exposures in ((1.0, 1.0), (14.0, 28.0), (3.0, 1.0)):
                for direction in ("decrease", "increase"):
                    kwargs = {"baseline_exposure": exposures[0], "observed_exposure": exposures[1]}
                    expected = _old_poisson_rate_test(k0, k1, direction=direction, **kwargs)
                    found = stats.poisson_rate_test(k0, k1, direction=direction, **kwargs)
                    assert found == pytest.approx(expected, rel=1e-9)
    for n in range(0, 80):
        for share in (0.5, 0.25, 2 / 3):
            for direction in ("decrease", "increase"):
                expected = _old_smallest_p_value(n, share=share, direction=direction)
                assert stats.smallest_p_value(n, share=share, direction=direction) == pytest.approx(expected, rel=1e-12)


def test_it_reproduces_the_old_fisher_results_on_every_table_up_to_twelve_trials():
    for n0 in range(1, 13):
        for n1 in range(1, 13):
            for f0 in range(n0 + 1):
                for f1 in range(n1 + 1):
                    for direction in ("decrease", "increase"):
                        expected = _old_fisher_exact_one_sided(f0, n0, f1, n1, direction=direction)
                        found = stats.fisher_exact_one_sided(f0, n0, f1, n1, direction=direction)
                        assert found == pytest.approx(expected, rel=1e-12)
            for events in range(n0 + n1 + 1):
                for direction in ("decrease", "increase"):
                    expected = _old_smallest_fisher_p_value(n0, n1, events, direction=direction)
                    found = stats.smallest_fisher_p_value(n0, n1, events, direction=direction)
                    assert found == pytest.approx(expected, rel=1e-12)
