"""Statistics of the Check: every expectation is computed here independently (integers, Fractions, brute force)."""

import math
import random
from fractions import Fraction
from functools import cache

import pytest

from improvement import stats

ALPHA = Fraction(1, 20)


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


@cache
def _hypergeometric_weights(row, col, total):
    low, high = max(0, row + col - total), min(row, col)
    return {x: math.comb(row, x) * math.comb(total - row, col - x) for x in range(low, high + 1)}, math.comb(total, col)


def exact_fisher(table, direction) -> Fraction:
    """One-sided Fisher p of table[0][0] given the margins: P(X ≤ a) (decrease) or P(X ≥ a) (increase)."""
    (a, b), (c, d) = table
    weights, whole = _hypergeometric_weights(a + b, a + c, a + b + c + d)
    hit = sum(w for x, w in weights.items() if (x <= a if direction == "decrease" else x >= a))
    return Fraction(hit, whole)


def noncentral(table, psi):
    """Fisher's noncentral hypergeometric law of table[0][0] at odds ratio psi: (mean, P(X ≤ a), P(X ≥ a))."""
    (a, b), (c, d) = table
    weights, _ = _hypergeometric_weights(a + b, a + c, a + b + c + d)
    logs = {x: math.log(w) + x * math.log(psi) for x, w in weights.items()}
    top = max(logs.values())
    scaled = {x: math.exp(v - top) for x, v in logs.items()}
    norm = sum(scaled.values())
    mean = sum(x * v for x, v in scaled.items()) / norm
    below = sum(v for x, v in scaled.items() if x <= a) / norm
    above = sum(v for x, v in scaled.items() if x >= a) / norm
    return mean, below, above


def poisson_pmf(k, mean):
    if mean == 0:
        return 1.0 if k == 0 else 0.0
    return math.exp(k * math.log(mean) - mean - math.lgamma(k + 1))


@cache
def _binomial_prefix_sums(n):
    sums, running = [], 0
    for i in range(n + 1):
        running += math.comb(n, i)
        sums.append(running)
    return sums


def is_significant_halves(k0, k1, direction):
    """Equal windows: P(Bin(k0 + k1, ½) ≤ k1) < 1/20 (decrease) or P(… ≥ k1) < 1/20, in integers."""
    n = k0 + k1
    sums = _binomial_prefix_sums(n)
    favourable = sums[k1] if direction == "decrease" else sums[n] - (sums[k1 - 1] if k1 else 0)
    return 20 * favourable < 2**n


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


# --- interval and p-value agree ---------------------------------------------------------------------


def _boundary_tables():
    """Tables whose exact p lies near alpha (1/40 ≤ p ≤ 1/10, every cell 0..12, every 15th kept), per direction."""
    found = {"decrease": [], "increase": []}
    for a in range(13):
        for b in range(13):
            for c in range(13):
                for d in range(13):
                    if 0 in (a + b, c + d, a + c, b + d):
                        continue
                    for direction, tables in found.items():
                        if Fraction(1, 40) <= exact_fisher([[a, b], [c, d]], direction) <= Fraction(1, 10):
                            tables.append([[a, b], [c, d]])
    return {direction: tables[::15] for direction, tables in found.items()}


# Every table with cells in 0..25 whose exact one-sided p is exactly 1/20 (found by integer enumeration):
# scipy's p-value lands on either side of 0.05 for these, e.g. 0.049999999999999996 for [[0, 2], [19, 4]].
EXACT_TIES = {
    "decrease": [
        (0, 1, 19, 0),
        (0, 2, 12, 2),
        (0, 2, 19, 4),
        (0, 3, 3, 0),
        (0, 12, 2, 2),
        (0, 19, 1, 0),
        (0, 19, 2, 4),
        (2, 2, 12, 0),
        (2, 12, 2, 0),
        (4, 2, 19, 0),
        (4, 19, 2, 0),
    ],
    "increase": [
        (1, 0, 0, 19),
        (2, 0, 2, 12),
        (2, 0, 4, 19),
        (2, 2, 0, 12),
        (2, 4, 0, 19),
        (3, 0, 0, 3),
        (12, 0, 2, 2),
        (12, 2, 0, 2),
        (19, 0, 0, 1),
        (19, 0, 4, 2),
        (19, 4, 0, 2),
    ],
}


def test_interval_and_p_value_never_disagree():
    """bound < 1 ⇔ p < 0.05 (decrease), bound > 1 ⇔ p < 0.05 (increase), p exact; verdict follows."""
    rng = random.Random(20260301)
    tables = {direction: list(found) for direction, found in _boundary_tables().items()}
    for direction, ties in EXACT_TIES.items():
        tables[direction] += [[[a, b], [c, d]] for a, b, c, d in ties]
        tables[direction] += [[[rng.randrange(26) for _ in "ab"], [rng.randrange(26) for _ in "cd"]] for _ in range(90)]
        # Degenerate: zero cells, a zero margin, everything zero.
        tables[direction] += [[[0, 0], [0, 0]], [[0, 5], [0, 7]], [[3, 0], [9, 0]], [[0, 9], [14, 0]]]
        tables[direction] += [[[9, 0], [0, 14]], [[0, 0], [4, 6]], [[25, 0], [0, 0]]]
    checked = ties_seen = 0
    for direction, found in tables.items():
        for table in found:
            (a, b), (c, d) = table
            exact = exact_fisher(table, direction) if 0 not in (a + b, c + d, a + c, b + d) else Fraction(1)
            significant = exact < ALPHA
            result = stats.fisher_rate_test(c, c + d, a, a + b, direction=direction)
            bound = result.ci_high if direction == "decrease" else result.ci_low
            excludes_one = bound < 1 if direction == "decrease" else bound > 1
            assert excludes_one == significant, (table, direction, float(exact), bound)
            assert (result.verdict == "effective") == significant, (table, direction)
            if exact == ALPHA:
                ties_seen += 1
                assert bound == 1.0 and result.verdict != "effective"
            else:
                assert (result.p_value < 0.05) == significant, (table, direction)
            checked += 1
    assert ties_seen >= 22 and checked > 500


def test_it_reports_a_bound_of_exactly_one_at_an_exact_tie():
    for direction, ties in EXACT_TIES.items():
        for a, b, c, d in ties:
            assert exact_fisher([[a, b], [c, d]], direction) == ALPHA
            result = stats.comparison_test(b, a, d, c, direction=direction)  # the same table, read as a comparison
            assert (result.ci_high if direction == "decrease" else result.ci_low) == 1.0
            assert result.verdict != "effective"


def test_rate_interval_and_p_value_never_disagree():
    """The Clopper-Pearson bound mapped to a rate ratio excludes 1 exactly when the exact p < 0.05."""
    ties_seen = 0
    for t0, t1 in ((1, 1), (14, 28), (1, 19), (3, 1), (7, 30)):
        share = Fraction(t1, t0 + t1)
        for before in range(0, 31):
            for after in range(0, 31):
                n = before + after
                for direction in ("decrease", "increase"):
                    r = stats.rate_test(before, after, before_exposure=t0, after_exposure=t1, direction=direction)
                    exact = exact_binomial_tail(after, n, share, upper=direction == "increase") if n else Fraction(1)
                    significant = exact < ALPHA
                    bound = r.ci_high if direction == "decrease" else r.ci_low
                    assert (bound < 1 if direction == "decrease" else bound > 1) == significant, (before, after, t0, t1)
                    assert (r.verdict == "effective") == significant
                    if exact == ALPHA:
                        ties_seen += 1
                        assert bound == 1.0
    assert ties_seen >= 1  # 1 before in 1 day, 0 after in 19 days: P = 1/20 exactly


# --- comparison with the rest of the team ------------------------------------------------------------


def test_it_compares_the_target_with_the_rest_of_the_team_by_hand():
    """Target 12 → 3, rest 40 → 44. Table [[3, 12], [44, 40]]; p = P(X ≤ 3), X hypergeometric (15, 47, 99)."""
    table = [[3, 12], [44, 40]]
    result = stats.comparison_test(12, 3, 40, 44)
    expected = exact_fisher(table, "decrease")
    assert result.p_value == pytest.approx(float(expected), rel=1e-12)
    assert expected < ALPHA and result.verdict == "effective" and not result.thin
    # The conditional MLE makes the noncentral mean equal the observed cell; the bound makes its tail equal 0.05.
    mean, _, _ = noncentral(table, result.odds_ratio)
    assert mean == pytest.approx(3, rel=1e-9)
    _, below, _ = noncentral(table, result.ci_high)
    assert below == pytest.approx(0.05, rel=1e-8)
    assert result.ci_low == 0.0 and result.ci_high < 1
    # Rough sense check: the sample ratio of rate ratios is (3/12) / (44/40) = 0.227.
    assert result.odds_ratio == pytest.approx(0.23, abs=0.01)


def test_it_cancels_a_team_wide_change():
    """Target 20 → 10 while the rest went 200 → 100: the before/after test alone says effective, the comparison not."""
    assert stats.rate_test(20, 10).verdict == "effective"  # P(Bin(30, ½) ≤ 10) = 0.0494
    assert float(exact_binomial_tail(10, 30, Fraction(1, 2), upper=False)) == pytest.approx(0.04937, abs=1e-5)
    check = stats.count_check(20, 10, 200, 100)
    assert check.method == "comparison"
    # a·N = 10 · 330 = 3300 = row · col = 30 · 110: the odds ratio is exactly 1, hence not effective.
    assert check.verdict == "not_effective"
    assert check.p_value == pytest.approx(float(exact_fisher([[10, 20], [100, 200]], "decrease")), rel=1e-12)


def test_it_is_thin_with_fewer_than_ten_rest_incidents_in_a_window():
    result = stats.comparison_test(30, 2, 9, 40)
    assert result.thin and result.verdict == "inconclusive"
    assert "rest of the team" in result.reason
    check = stats.count_check(30, 2, 9, 40)
    assert check.method == "before_after"
    # Fallback: P(Bin(32, ½) ≤ 2) = (1 + 32 + 496) / 2³².
    assert check.p_value == pytest.approx(529 / 2**32, rel=1e-12)
    assert check.verdict == "effective" and check.before_after.verdict == "effective"


def test_it_is_thin_when_no_split_with_these_margins_could_be_significant():
    """Target 3 → 0, rest 50 → 50: margins row 3, column 50, total 103; brute force over every split."""
    row, col, total = 3, 50, 103
    smallest = min(
        exact_fisher([[x, row - x], [col - x, total - row - col + x]], "decrease")
        for x in range(max(0, row + col - total), min(row, col) + 1)
    )
    assert smallest >= ALPHA  # all three target incidents before: C(100, 50) / C(103, 50) = 0.13…
    result = stats.comparison_test(3, 0, 50, 50)
    assert result.thin and result.verdict == "inconclusive"
    # Target 6 → 0 can: smallest p = C(100, 50) / C(106, 50) = 0.013 < 0.05, and it is the observed table.
    reachable = stats.comparison_test(6, 0, 50, 50)
    assert not reachable.thin and reachable.verdict == "effective"
    assert reachable.p_value == pytest.approx(math.comb(100, 50) / math.comb(106, 50), rel=1e-12)


def test_a_team_wide_drop_too_small_to_compare_is_not_credited_to_the_action():
    """Target 20 → 0 while the rest fell 100 → 10: the before/after test alone would say effective."""
    assert stats.rate_test(20, 0).verdict == "effective"
    check = stats.count_check(20, 0, 100, 10)
    assert check.comparison.thin  # no split of these margins could be significant
    assert (check.method, check.verdict) == ("comparison", "inconclusive")
    assert "no split could be significant" in check.reason


def test_it_uses_the_before_after_test_without_a_comparison_group():
    check = stats.count_check(10, 2)
    assert check.method == "before_after" and check.comparison is None
    assert check.p_value == pytest.approx(79 / 4096, rel=1e-12)
    assert "No comparison group" in check.reason


def test_it_reads_an_increase_target_from_the_upper_tail():
    """Deployments up: target 5 → 15, rest 30 → 30; p = P(X ≥ 15) for table [[15, 5], [30, 30]]."""
    result = stats.comparison_test(5, 15, 30, 30, direction="increase")
    expected = exact_fisher([[15, 5], [30, 30]], "increase")
    assert result.p_value == pytest.approx(float(expected), rel=1e-12)
    assert (result.verdict == "effective") == (expected < ALPHA)
    assert result.ci_high == math.inf and result.odds_ratio > 1


def test_it_says_nothing_on_an_empty_table():
    result = stats.comparison_test(0, 0, 0, 0)
    assert (result.odds_ratio, result.ci_low, result.ci_high, result.p_value) == (None, 0.0, math.inf, 1.0)
    assert result.thin and result.verdict == "inconclusive"


# --- before/after rate test ------------------------------------------------------------------------


def test_it_tests_ten_before_two_after_with_its_clopper_pearson_bound():
    result = stats.rate_test(10, 2)
    assert result.p_value == pytest.approx(79 / 4096, rel=1e-12)
    assert result.rate_ratio == 0.2 and result.verdict == "effective"
    # Upper bound on the share π solves P(Bin(12, π) ≤ 2) = 0.05; the rate ratio is π / (1 − π).
    share = result.ci_high / (1 + result.ci_high)
    assert sum(math.comb(12, i) * share**i * (1 - share) ** (12 - i) for i in range(3)) == pytest.approx(0.05, rel=1e-9)


def test_it_maps_the_share_to_a_rate_ratio_with_unequal_windows():
    """Baseline 28 days, observed 14: share 1/3; 12 before, 1 after: p = P(Bin(13, 1/3) ≤ 1)."""
    result = stats.rate_test(12, 1, before_exposure=28, after_exposure=14)
    expected = exact_binomial_tail(1, 13, Fraction(1, 3), upper=False)
    assert result.p_value == pytest.approx(float(expected), rel=1e-12)
    assert result.rate_ratio == pytest.approx((1 / 14) / (12 / 28), rel=1e-12)
    share = result.ci_high * 14 / (28 + result.ci_high * 14)  # inverse of π t₀ / ((1 − π) t₁)
    assert sum(math.comb(13, i) * share**i * (1 - share) ** (13 - i) for i in range(2)) == pytest.approx(0.05, rel=1e-9)


def test_it_calls_too_little_data_when_no_split_could_be_significant():
    # Four events: the best split (4 before, 0 after) gives 1/16 ≥ 0.05; five give 1/32.
    assert stats.rate_test(4, 0).too_little_data and stats.rate_test(4, 0).verdict == "inconclusive"
    assert not stats.rate_test(5, 0).too_little_data and stats.rate_test(5, 0).verdict == "effective"
    assert stats.rate_test(0, 0).rate_ratio is None and stats.rate_test(0, 0).too_little_data


def test_it_calls_not_effective_when_the_rate_did_not_move_and_inconclusive_when_it_moved_a_little():
    assert stats.rate_test(6, 6).verdict == "not_effective"  # ratio exactly 1
    assert stats.rate_test(6, 8).verdict == "not_effective"
    assert stats.rate_test(6, 3).verdict == "inconclusive"  # P = 130/512
    assert stats.rate_test(6, 3, direction="increase").verdict == "not_effective"


# --- change failure rate ---------------------------------------------------------------------------


def test_it_tests_the_change_failure_rate_with_fisher_exact():
    """Before 5 failed of 10, after 0 of 10: P(X ≤ 0) = C(15, 10) / C(20, 10) = 3003 / 184756."""
    result = stats.fisher_rate_test(5, 10, 0, 10)
    assert result.p_value == pytest.approx(3003 / 184756, rel=1e-12)
    assert (result.before_rate, result.after_rate, result.odds_ratio) == (0.5, 0.0, 0.0)
    assert result.verdict == "effective"
    _, below, _ = noncentral([[0, 10], [5, 5]], result.ci_high)
    assert below == pytest.approx(0.05, rel=1e-8)


def test_it_gives_fisher_verdicts_by_the_same_rule():
    assert stats.fisher_rate_test(1, 3, 0, 3).too_little_data  # best outcome p = 1/2
    assert stats.fisher_rate_test(2, 20, 5, 20).verdict == "not_effective"
    assert stats.fisher_rate_test(4, 20, 2, 20).verdict == "inconclusive"
    assert stats.fisher_rate_test(3, 10, 0, 0).too_little_data
    with pytest.raises(ValueError):
        stats.fisher_rate_test(5, 4, 0, 4)


# --- durations -------------------------------------------------------------------------------------


def brute_force_u_p(before, after, direction):
    """Exact one-sided p of U (no ties): every way of choosing which ranks are 'after', counted."""
    import itertools

    values = sorted(before + after)
    m, n = len(after), len(before)
    observed = sum(1 for x in after for y in before if x > y)
    count = total = 0
    for chosen in itertools.combinations(range(m + n), m):
        picked = set(chosen)
        xs = [values[i] for i in picked]
        ys = [values[i] for i in range(m + n) if i not in picked]
        u = sum(1 for x in xs for y in ys if x > y)
        count += u <= observed if direction == "decrease" else u >= observed
        total += 1
    return observed, Fraction(count, total)


def test_it_does_not_call_a_noisy_drop_of_the_median_effective():
    """The issue's example: medians 7 200 s → 5 850 s (−18.75 %, the old "10 % better" rule said effective)."""
    before = [3100, 5200, 7200, 8800, 12500]
    after = [2900, 4600, 5850, 9400, 13800]
    result = stats.duration_test(before, after)
    assert (result.before_median, result.after_median) == (7200, 5850)
    assert (7200 - 5850) / 7200 >= 0.10  # what the old rule looked at
    u, p = brute_force_u_p(before, after, "decrease")
    assert (u, p) == (12, Fraction(126, 252))
    assert result.u == 12 and result.method == "exact"
    assert result.p_value == pytest.approx(float(p), rel=1e-12)
    assert result.p_value > 0.3 and result.verdict == "inconclusive"


def test_it_calls_a_clear_drop_of_durations_effective_with_the_exact_distribution():
    before = [7000, 7400, 8100, 9000, 9900, 12000]
    after = [3000, 3500, 4100, 5000, 7100]
    result = stats.duration_test(before, after)
    u, p = brute_force_u_p(before, after, "decrease")
    assert u == 1 and result.u == 1 and result.method == "exact"
    assert result.p_value == pytest.approx(float(p), rel=1e-12)  # (1 + 1) / C(11, 5) = 2 / 462
    assert p == Fraction(2, 462) and result.verdict == "effective"


def test_it_counts_still_open_ones_as_the_longest_tied_among_themselves():
    """Before has two still open (None): they rank above everything; the ties switch to the asymptotic test."""
    before = [100, 200, 300, None, None]
    after = [50, 60, 70, 80, 90]
    result = stats.duration_test(before, after)
    assert result.u == 0 and result.method == "asymptotic"
    # Normal approximation by hand: mean m n / 2 = 12.5; tie-corrected variance
    # m n / 12 · (N + 1 − Σ(t³ − t) / (N (N − 1))) with one tie of two (the open ones): 25 / 12 · (11 − 6 / 90);
    # continuity correction ½ toward the mean.
    sigma = math.sqrt(25 / 12 * (11 - 6 / 90))
    z = (0 + 0.5 - 12.5) / sigma
    assert result.p_value == pytest.approx(0.5 * math.erfc(-z / math.sqrt(2)), rel=1e-9)
    assert result.verdict == "effective"


def test_it_never_drops_open_ones_and_reports_an_infinite_median_as_none():
    before = [1000, 1100, 1200, 1300, 1400, 1500]
    after = [200, 300, None, None, None, math.inf]
    result = stats.duration_test(before, after)
    assert result.after_n == 6 and result.after_median is None and result.before_median == 1250
    # U = 0 + 0 + 6 · 4 (each open one is longer than every closed one) = 24 of 36: longer, not shorter.
    assert result.u == 24 and result.prob_after_longer == pytest.approx(24 / 36)
    assert result.verdict == "not_effective"


def test_it_needs_min_values_in_each_window():
    result = stats.duration_test([1, 2, 3, 4], [1, 2, 3, 4, 5, 6])
    assert result.too_little_data and result.verdict == "inconclusive"
    assert not stats.duration_test([1, 2, 3], [4, 5, 6], min_values=3).too_little_data


def test_it_reads_an_increase_of_durations_from_the_other_tail():
    before = [10, 20, 30, 40, 50]
    after = [60, 70, 80, 90, 100]
    result = stats.duration_test(before, after, direction="increase")
    assert result.u == 25 and result.p_value == pytest.approx(1 / 252, rel=1e-12)  # C(10, 5) = 252
    assert result.verdict == "effective"
    assert stats.duration_test(before, after).verdict == "not_effective"


# --- sizing in Plan ----------------------------------------------------------------------------------


def test_it_sizes_six_incidents_in_fourteen_days_as_the_known_answer():
    """Baseline 6 in 14 days, 14-day window: only 0 incidents is significant (P = 1/64); 1 gives 8/128."""
    assert is_significant_halves(6, 0, "decrease") and not is_significant_halves(6, 1, "decrease")
    sizing = stats.count_sizing(6, baseline_days=14, window_days=14)
    assert sizing.rejection_region == (0, 0)
    # Against a true 70 % drop the window's count ~ Poisson(0.3 · 6) and only 0 counts: exp(−1.8) = 0.165.
    power = stats.count_power(6, 0.3, baseline_days=14, window_days=14)
    assert power == pytest.approx(math.exp(-1.8), rel=1e-12) and power < 0.30
    # 80 % power needs exp(−6 r) ≥ 0.8: r = ln(1.25) / 6, a drop of 96.3 %.
    assert sizing.detectable_change == pytest.approx(1 - math.log(1.25) / 6, rel=1e-9)
    assert sizing.power == pytest.approx(math.exp(-3), rel=1e-12)  # a 50 % drop: Poisson(3) at 0


def brute_force_equal_window_power(rate, days, ratio, direction):
    """Both counts Poisson over equal windows: Σ_k₀ Σ_k₁ Pois(k₀; λw) Pois(k₁; rλw) [significant], integers for p."""
    mean0, mean1 = rate * days, ratio * rate * days
    top0 = int(mean0 + 12 * math.sqrt(mean0) + 40)
    top1 = int(mean1 + 12 * math.sqrt(mean1) + 40)
    total = 0.0
    for k0 in range(top0 + 1):
        w0 = poisson_pmf(k0, mean0)
        if w0 < 1e-16:
            continue
        total += w0 * sum(poisson_pmf(k1, mean1) for k1 in range(top1 + 1) if is_significant_halves(k0, k1, direction))
    return total


def test_it_finds_the_shortest_window_with_eighty_percent_power_by_the_exact_double_sum():
    sizing = stats.count_sizing(20, baseline_days=14, window_days=14)
    days = sizing.days_needed
    assert days is not None
    rate = 20 / 14
    assert brute_force_equal_window_power(rate, days, 0.5, "decrease") >= 0.8
    for shorter in range(1, days):
        assert brute_force_equal_window_power(rate, shorter, 0.5, "decrease") < 0.8


def test_it_finds_the_window_for_six_in_fourteen_days_and_for_a_rise():
    sizing = stats.count_sizing(6, baseline_days=14, window_days=14)
    assert sizing.days_needed is not None
    assert brute_force_equal_window_power(6 / 14, sizing.days_needed, 0.5, "decrease") >= 0.8
    assert brute_force_equal_window_power(6 / 14, sizing.days_needed - 1, 0.5, "decrease") < 0.8
    rise = stats.count_sizing(30, baseline_days=28, window_days=28, direction="increase")
    assert brute_force_equal_window_power(30 / 28, rise.days_needed, 1.5, "increase") >= 0.8
    assert brute_force_equal_window_power(30 / 28, rise.days_needed - 1, 1.5, "increase") < 0.8


def test_it_says_when_no_window_up_to_a_year_suffices_and_when_a_decrease_cannot_be_measured():
    rare = stats.count_sizing(1, baseline_days=90, window_days=28)
    assert rare.days_needed is None and rare.rejection_region is None and rare.power == 0.0
    assert brute_force_equal_window_power(1 / 90, 365, 0.5, "decrease") < 0.8
    assert "365 days" in rare.reason
    zero = stats.count_sizing(0, baseline_days=28, window_days=28)
    assert zero.rejection_region is None and zero.days_needed is None
    assert "cannot be measured" in zero.reason


def test_it_computes_power_as_the_poisson_mass_of_the_rejection_region():
    """Baseline 12 in 28 days, 14-day window (share 1/3); region found by the exact test, mass by hand."""
    share = Fraction(1, 3)
    for direction, ratio in (("decrease", 0.4), ("increase", 2.5)):
        region = [
            k1 for k1 in range(0, 80) if exact_binomial_tail(k1, 12 + k1, share, upper=direction == "increase") < ALPHA
        ]
        mean = ratio * 12 / 28 * 14
        expected = sum(poisson_pmf(k, mean) for k in region)
        if direction == "increase":
            expected += 1 - sum(poisson_pmf(k, mean) for k in range(0, 80))  # the region runs on past 79
        found = stats.count_power(12, ratio, baseline_days=28, window_days=14, direction=direction)
        assert found == pytest.approx(expected, rel=1e-9)
        sizing = stats.count_sizing(12, baseline_days=28, window_days=14, direction=direction)
        low, high = sizing.rejection_region
        assert (low, high) == ((0, max(region)) if direction == "decrease" else (min(region), None))


def brute_force_comparison_power(tb, rb, ratio, scale, direction):
    """count_check's power: both window counts Poisson, every (ta, ra) judged as count_check judges it, exactly."""
    mean_t, mean_r = ratio * tb * scale, rb * scale
    share = Fraction(1, 2)
    total = 0.0
    for ra in range(int(mean_r + 12 * math.sqrt(mean_r) + 40)):
        wr = poisson_pmf(ra, mean_r)
        if wr < 1e-16:
            continue
        for ta in range(int(mean_t + 12 * math.sqrt(mean_t) + 40)):
            wt = poisson_pmf(ta, mean_t)
            if wt < 1e-16:
                continue
            table = [[ta, tb], [ra, rb]]
            row, col, n = ta + tb, ta + ra, ta + tb + ra + rb
            if 0 in (row, ra + rb, col, tb + rb):
                reachable = False
            else:
                extreme = max(0, row + col - n) if direction == "decrease" else min(row, col)
                weights, whole = _hypergeometric_weights(row, col, n)
                reachable = Fraction(weights[extreme], whole) < ALPHA
            if min(ra, rb) < 10:  # too few rest incidents: the before/after test decides
                significant = exact_binomial_tail(ta, ta + tb, share, upper=direction == "increase") < ALPHA
            else:  # the comparison decides; one no split could make significant is inconclusive
                significant = reachable and exact_fisher(table, direction) < ALPHA
            total += wr * wt * significant
    return total


@pytest.mark.parametrize(
    ("tb", "rb", "direction", "ratio"),
    [(8, 12, "decrease", 0.3), (10, 30, "decrease", 0.5), (6, 25, "increase", 2.5)],
)
def test_it_sizes_the_comparison_by_the_exact_double_sum(tb, rb, direction, ratio):
    change = 1 - ratio if direction == "decrease" else ratio - 1
    sizing = stats.comparison_sizing(tb, rb, baseline_days=28, window_days=28, direction=direction, change=change)
    expected = brute_force_comparison_power(tb, rb, ratio, 1.0, direction)
    assert sizing.power == pytest.approx(expected, rel=1e-9, abs=1e-12)


def test_it_finds_the_comparisons_detectable_change():
    sizing = stats.comparison_sizing(10, 30, baseline_days=28, window_days=28)
    r = 1 - sizing.detectable_change
    assert brute_force_comparison_power(10, 30, r, 1.0, "decrease") == pytest.approx(0.8, abs=1e-6)
    assert brute_force_comparison_power(10, 30, r + 0.02, 1.0, "decrease") < 0.8


def test_it_sizes_a_thin_comparison_as_the_before_after_test():
    sizing = stats.comparison_sizing(10, 5, baseline_days=28, window_days=28)
    assert sizing.thin and "too few incidents" in sizing.reason
    assert sizing.power == pytest.approx(stats.count_power(10, 0.5, baseline_days=28, window_days=28), rel=1e-9)
