"""Sizing in Plan: what an observation window can show, before the Check runs."""

import math

import numpy as np
from scipy import optimize, special
from scipy.stats import hypergeom

from improvement.stats.rule import (
    DECREASE,
    INCREASE,
    MIN_REST,
    RATIO_MAX,
    TIE_TOLERANCE,
    ComparisonSizing,
    CountSizing,
    _alternative,
)

# --- sizing in Plan ----------------------------------------------------------------------------


def _below_array(p: np.ndarray, alpha: float) -> np.ndarray:
    return (p < alpha) & ~np.isclose(p, alpha, rtol=TIE_TOLERANCE, atol=0.0)


def _thresholds(baseline: np.ndarray, share: float, direction: str, alpha: float) -> np.ndarray:
    """Per baseline count k₀, the before/after test's threshold on the observed count k₁.

    Decrease: the largest significant k₁ (−1 when none). Increase: the smallest significant k₁.
    The p-value is monotone in k₁ (one more event in the window can only weaken a decrease), so a
    vectorised bisection over k₁ finds every threshold at once.
    """
    k0 = np.asarray(baseline, dtype=np.int64)
    if direction == DECREASE:

        def significant(k1):
            return _below_array(special.bdtr(k1, k0 + k1, share), alpha)

        low = np.full(k0.shape, -1, dtype=np.int64)  # significant (or −1 = none)
        high = np.ceil(k0 * share / (1 - share)).astype(np.int64) + 1  # at or past the mean: p ≥ ½, never
        while np.any(high - low > 1):
            mid = (low + high) // 2
            ok = significant(np.maximum(mid, 0)) & (mid >= 0)
            low, high = np.where(ok, mid, low), np.where(ok, high, mid)
        return low

    def significant(k1):  # P(K ≥ k₁) = bdtrc(k₁ − 1)
        return _below_array(np.where(k1 > 0, special.bdtrc(k1 - 1, k0 + k1, share), 1.0), alpha)

    low = np.zeros(k0.shape, dtype=np.int64)  # not significant
    high = np.maximum(2 * k0 + 16, 16)
    while not np.all(significant(high)):  # for any k₀ a large enough k₁ is significant
        high = np.where(significant(high), high, 2 * high)
    while np.any(high - low > 1):
        mid = (low + high) // 2
        ok = significant(mid)
        low, high = np.where(ok, low, mid), np.where(ok, mid, high)
    return np.where(significant(low), low, high)


def _rejection_region(baseline_count: int, share: float, direction: str, alpha: float) -> tuple[int, int | None] | None:
    threshold = int(_thresholds(np.array([baseline_count]), share, direction, alpha)[0])
    if direction == DECREASE:
        return None if threshold < 0 else (0, threshold)
    return (threshold, None)


def _at_most(k, mean):
    """P(X ≤ k), X ~ Poisson(mean), by special.pdtr (the Poisson CDF); 0 for k < 0, where pdtr gives nan."""
    k = np.asarray(k)
    return np.where(k >= 0, special.pdtr(np.maximum(k, 0), mean), 0.0)


def _region_mass(region: tuple[int, int | None] | None, mean: float) -> float:
    """P(count in region) for count ~ Poisson(mean)."""
    if region is None:
        return 0.0
    low, high = region
    return float(_at_most(high, mean) if high is not None else 1.0 - _at_most(low - 1, mean))


def _poisson_span(mean: float) -> tuple[int, int]:
    """Counts within mean ± (8√mean + 30): the Poisson mass outside is below 1e-13 (Chernoff bounds)."""
    spread = 8 * math.sqrt(mean)
    return max(0, math.floor(mean - spread - 10)), math.ceil(mean + spread + 30)


def _poisson_pmf(k: np.ndarray, mean: float) -> np.ndarray:
    return np.exp(special.xlogy(k, mean) - mean - special.gammaln(k + 1))


def count_power(
    baseline_count: int,
    ratio: float,
    *,
    baseline_days: float,
    window_days: float,
    direction: str = "decrease",
    alpha: float = 0.05,
) -> float:
    """Power of the before/after test, baseline count fixed as observed, observed ~ Poisson(ratio · rate · window).

    ratio is the true rate after/before (0.3 = a 70 % drop); power = Σ Poisson pmf over the rejection region.
    """
    _alternative(direction)
    share = window_days / (baseline_days + window_days)
    region = _rejection_region(baseline_count, share, direction, alpha)
    return _region_mass(region, ratio * baseline_count / baseline_days * window_days)


def _solve_ratio(power_at, target: float, direction: str, high: float) -> float | None:
    """The true ratio nearest 1 at which power reaches target (power monotone in the ratio)."""
    if direction == DECREASE:
        if power_at(1e-12) < target:
            return None
        return optimize.brentq(lambda r: power_at(r) - target, 1e-12, 1.0, xtol=1e-12)
    if power_at(high) < target:
        return None
    return optimize.brentq(lambda r: power_at(r) - target, 1.0, high, xtol=1e-12)


def _days_needed(baseline_rate: float, ratio: float, direction: str, alpha: float, power: float, max_days: int):
    """Smallest equal window w ≤ max_days whose power reaches `power`, both counts Poisson (exact double sum).

    Power(w) = Σ_k₀ Pois(k₀; λw) · P(k₁ in region(k₀) | k₁ ~ Pois(rλw)), k₀ over _poisson_span(λw).
    Power is not monotone in w (the counts are discrete), so every w is tried in order. Returns (days, power).
    """
    top = _poisson_span(baseline_rate * max_days)[1]
    thresholds = np.empty(0, dtype=np.int64)
    best = 0.0
    for days in range(1, max_days + 1):
        mean = baseline_rate * days
        low, high = _poisson_span(mean)
        if high >= len(thresholds):  # grow by doubling: large k₀ are costly and often never needed
            thresholds = _thresholds(np.arange(min(top, 2 * high) + 1), 0.5, direction, alpha)
        k0, c = np.arange(low, high + 1), thresholds[low : high + 1]
        # Region of k₁ given k₀: [0, c] for a decrease (c = −1: empty), [c, ∞) for an increase.
        hit = _at_most(c, ratio * mean) if direction == DECREASE else 1.0 - _at_most(c - 1, ratio * mean)
        found = float(np.dot(_poisson_pmf(k0, mean), hit))
        best = max(best, found)
        if found >= power:
            return days, found
    return None, best


def count_sizing(
    baseline_count: int,
    *,
    baseline_days: float,
    window_days: float,
    direction: str = "decrease",
    change: float = 0.5,
    alpha: float = 0.05,
    power: float = 0.8,
    max_days: int = 365,
) -> CountSizing:
    """What the before/after test can detect: rejection region, power against `change`, detectable change, days.

    change is relative (0.5 = 50 % fewer, or more for an increase); detectable_change likewise.
    """
    _alternative(direction)
    share = window_days / (baseline_days + window_days)
    word = "drop" if direction == DECREASE else "rise"
    if baseline_count == 0:
        what = "a decrease cannot be measured" if direction == DECREASE else "there is no rate to size a rise from"
        region = _rejection_region(0, share, direction, alpha) if direction == INCREASE else None
        return CountSizing(region, None, None, None, f"No incidents in the baseline: {what}.")
    region = _rejection_region(baseline_count, share, direction, alpha)
    ratio = 1 - change if direction == DECREASE else 1 + change
    mean = baseline_count / baseline_days * window_days
    found = _region_mass(region, ratio * mean)
    detectable = None
    if region is not None:
        detectable_ratio = _solve_ratio(lambda r: _region_mass(region, r * mean), power, direction, high=1e6)
        detectable = None if detectable_ratio is None else abs(detectable_ratio - 1)
    days, _best = _days_needed(baseline_count / baseline_days, ratio, direction, alpha, power, max_days)
    if region is None:
        parts = [
            f"With {_incidents(baseline_count)} in the baseline, no count in {window_days:g} days could be significant."
        ]
    else:
        low, high = region
        counts = (f"at most {high}" if high else "0") if direction == DECREASE else f"at least {low}"
        parts = [
            f"Significant only with {counts} incidents in {window_days:g} days.",
            f"Power against a {change:.0%} {word}: {found:.0%}.",
        ]
    if detectable is not None:
        parts.append(f"{power:.0%} power needs a true {word} of {detectable:.0%} or more.")
    if days is None:
        parts.append(f"No window up to {max_days} days detects a {change:.0%} {word} with {power:.0%} power.")
    else:
        parts.append(f"A {change:.0%} {word} needs {days} days before and {days} days after.")
    return CountSizing(region, found, detectable, days, " ".join(parts))


def _incidents(n: int) -> str:
    return f"{n} incident" if n == 1 else f"{n} incidents"


def _comparison_significant(ta, tb, ra, rb, direction: str, alpha: float) -> np.ndarray:
    """Is the comparison table [[ta, tb], [ra, rb]] significant (arrays broadcast)?"""
    total, row, col = ta + tb + ra + rb, ta + tb, ta + ra
    p = hypergeom.cdf(ta, total, row, col) if direction == DECREASE else hypergeom.sf(ta - 1, total, row, col)
    return _below_array(np.nan_to_num(p, nan=1.0), alpha)


def _comparison_thresholds(tb: int, ra: np.ndarray, rb: int, top: int, direction: str, alpha: float) -> np.ndarray:
    """Per rest count ra, the comparison's threshold on ta: largest significant (decrease, −1 if none),
    smallest significant (increase, top + 1 if none up to top). The one-sided Fisher p-value is monotone in ta.
    """
    low = np.full(ra.shape, -1, dtype=np.int64)
    high = np.full(ra.shape, top + 1, dtype=np.int64)
    while np.any(high - low > 1):
        mid = (low + high) // 2
        ok = _comparison_significant(np.maximum(mid, 0), tb, ra, rb, direction, alpha) & (mid >= 0)
        if direction == DECREASE:
            low, high = np.where(ok, mid, low), np.where(ok, high, mid)
        else:
            low, high = np.where(ok, low, mid), np.where(ok, mid, high)
    return low if direction == DECREASE else high


def _extreme_p(ta, tb, ra, rb, direction: str) -> np.ndarray:
    """_extreme_2x2_p elementwise over broadcast arrays, by a table of log-factorials (special.gammaln), for speed."""
    ta, ra = np.asarray(ta), np.asarray(ra)
    total, row, col = ta + tb + ra + rb, ta + tb, ta + ra
    extreme = np.maximum(0, row + col - total) if direction == DECREASE else np.minimum(row, col)
    log_factorial = special.gammaln(np.arange(int(np.max(total)) + 1) + 1.0)

    def log_comb(n, k):
        return log_factorial[n] - log_factorial[k] - log_factorial[n - k]

    found = np.exp(log_comb(row, extreme) + log_comb(total - row, col - extreme) - log_comb(total, col))
    zero_margin = (row == 0) | (ra + rb == 0) | (col == 0) | (tb + rb == 0)
    return np.where(zero_margin, 1.0, found)


def _thin_from(tb: int, ra: np.ndarray, rb: int, top: int, alpha: float) -> np.ndarray:
    """Increase only: per ra, the smallest ta whose extreme table can reach alpha (top + 1 if none up to top).

    For an increase the extreme p-value is non-increasing in ta (checked exhaustively on 0..29 per cell), so
    the thin outcomes are the ta below this, and a vectorised bisection finds it.
    """
    low = np.full(ra.shape, -1, dtype=np.int64)  # thin
    high = np.full(ra.shape, top + 1, dtype=np.int64)  # reachable (or past the top)
    while np.any(high - low > 1):
        mid = (low + high) // 2
        reachable = _below_array(_extreme_p(np.maximum(mid, 0), tb, ra, rb, INCREASE), alpha) & (mid >= 0)
        low, high = np.where(reachable, low, mid), np.where(reachable, mid, high)
    return high


def comparison_sizing(
    target_before: int,
    rest_before: int,
    *,
    baseline_days: float,
    window_days: float,
    direction: str = "decrease",
    change: float = 0.5,
    alpha: float = 0.05,
    power: float = 0.8,
) -> ComparisonSizing:
    """Power of count_check (the comparison, or its before/after fallback with too few rest incidents) against `change`.

    Baseline counts fixed as observed; in the window the target ~ Poisson(r · μt) and the rest ~ Poisson(μr),
    the rest's expected count at its baseline rate. Exact double sum over both (tails beyond 1e-13 left out).
    """
    _alternative(direction)
    word = "drop" if direction == DECREASE else "rise"
    if target_before == 0:
        what = "a decrease cannot be measured" if direction == DECREASE else "there is no rate to size a rise from"
        return ComparisonSizing(rest_before < MIN_REST, None, None, f"No incidents in the baseline: {what}.")
    scale = window_days / baseline_days
    mu_t, mu_r = target_before * scale, rest_before * scale
    ratio = 1 - change if direction == DECREASE else 1 + change
    low, high = _poisson_span(mu_r)
    ra = np.arange(low, high + 1)
    weights = _poisson_pmf(ra, mu_r)
    share = window_days / (baseline_days + window_days)
    fallback = _rejection_region(target_before, share, direction, alpha)

    def significance_by_target_count(reach: float) -> tuple[np.ndarray, np.ndarray]:
        """P(the Check is significant | ta) for ta up to what Poisson(reach · μt) can produce."""
        top = _poisson_span(reach * mu_t)[1]
        ta = np.arange(top + 1)
        if fallback is None:
            fallback_ok = np.zeros(ta.shape, dtype=bool)
        else:
            fallback_ok = ta <= fallback[1] if direction == DECREASE else ta >= fallback[0]
        thresholds = _comparison_thresholds(target_before, ra, rest_before, top, direction, alpha)[:, None]
        if direction == DECREASE:
            comparison_ok = ta[None, :] <= thresholds
            extreme = _extreme_p(ta[None, :], target_before, ra[:, None], rest_before, direction)
            unreachable = ~_below_array(extreme, alpha)
        else:
            comparison_ok = ta[None, :] >= thresholds
            unreachable = ta[None, :] < _thin_from(target_before, ra, rest_before, top, alpha)[:, None]
        # As count_check decides, outcome by outcome: too few rest incidents → the before/after test; a
        # comparison no split could make significant → inconclusive (never the fallback).
        few_rest = (rest_before < MIN_REST) | (ra[:, None] < MIN_REST)
        return ta, weights @ np.where(few_rest, fallback_ok[None, :], comparison_ok & ~unreachable)

    # A decrease needs ratios up to 1 only; a rise first up to 2 (or the asked change), tenfold if need be.
    reaches = [1.0] if direction == DECREASE else sorted({max(ratio, 2.0), RATIO_MAX})
    for reach in reaches:
        ta, by_target_count = significance_by_target_count(reach)

        def power_at(r: float, ta=ta, by_target_count=by_target_count) -> float:
            return float(_poisson_pmf(ta, r * mu_t) @ by_target_count)

        detectable_ratio = _scan_ratio(power_at, power, direction, reach)
        if detectable_ratio is not None:
            break
    found = power_at(ratio)
    detectable = None if detectable_ratio is None else abs(detectable_ratio - 1)
    expected_thin = rest_before < MIN_REST or mu_r < MIN_REST
    parts = []
    if expected_thin:
        parts.append(
            f"The rest of the team has too few incidents ({rest_before} in the baseline) for a comparison; "
            "the Check will mostly use the before/after test."
        )
    parts.append(f"Power against a {change:.0%} {word}: {found:.0%}.")
    if detectable is None:
        parts.append(f"No true {word} is detected with {power:.0%} power.")
    else:
        parts.append(f"{power:.0%} power needs a true {word} of {detectable:.0%} or more.")
    return ComparisonSizing(expected_thin, found, detectable, " ".join(parts))


def _scan_ratio(power_at, target: float, direction: str, reach: float) -> float | None:
    """The ratio nearest 1 whose power reaches target: a grid from 1 out to `reach` (steps 0.01, or 0.05 for
    a rise), then bisection (brentq) in the first cell that reaches it. The fallback can make power not quite
    monotone in the ratio, hence the scan before brentq.
    """
    if direction == DECREASE:
        grid = np.linspace(1.0, 0.0, 101)[1:]
    else:
        grid = np.linspace(1.0, reach, max(2, round((reach - 1) / 0.05) + 1))[1:]
    previous = 1.0
    for r in grid:
        r = max(float(r), 1e-12)
        if power_at(r) >= target:
            return optimize.brentq(lambda x: power_at(x) - target, min(r, previous), max(r, previous), xtol=1e-12)
        previous = r
    return None
