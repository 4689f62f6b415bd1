"""Statistics of the Check (did an improvement action work?), on scipy. Pure functions, no Django.

Verdict rule, shared by every test here (docs/statistics.md explains it in plain words):

- "inconclusive" when there is too little data: no outcome with these totals could reach p < alpha
  (or, for the comparison, it is thin; for durations, fewer than `min_values` in a window);
- "effective" when p < alpha, equivalently when the one-sided (1 − alpha) confidence bound of the
  effect excludes 1 (the tests are one-sided, in the target's direction);
- "not_effective" when the estimated effect is on the wrong side of 1 or equals 1;
- "inconclusive" otherwise (moved the right way, not significantly).

The verdict is derived from the p-value, never from the interval: the p-value is a direct tail
sum, the interval's end comes out of a root-finder. A p-value within 1e-9 (relative) of alpha is
an exact tie blurred by rounding (e.g. table [[0, 2], [19, 4]]: exact p = 1/20, scipy gives
0.049999999999999996); a tie is not below alpha, and the bound is then exactly 1, so it is
reported as 1.0. With that, "p < alpha" and "bound excludes 1" never disagree (tests prove it).
"""

import math
import statistics
from dataclasses import dataclass

import numpy as np
from scipy import optimize, special
from scipy.stats import binom, binomtest, fisher_exact, hypergeom, mannwhitneyu
from scipy.stats.contingency import odds_ratio as _odds_ratio

EFFECTIVE, NOT_EFFECTIVE, INCONCLUSIVE = "effective", "not_effective", "inconclusive"
DECREASE, INCREASE = "decrease", "increase"
MIN_REST = 10  # fewer comparison incidents than this in a window and the comparison is thin
EXACT_MAX = 50  # Mann-Whitney exact distribution up to this sample size (cost grows fast beyond)
TIE_TOLERANCE = 1e-9  # relative; scipy's tail sums are good to ~1e-14, so this only catches ties
RATIO_MAX = 10.0  # sizing of a rise looks no further than a tenfold rate


# --- the tests the Check has always used (signatures and results unchanged) -------------------


def binomial_tail(k: int, n: int, p: float, *, upper: bool) -> float:
    """P(X ≤ k) (upper=False) or P(X ≥ k) (upper=True) for X ~ Binomial(n, p)."""
    if n < 0 or k < 0 or k > n:
        raise ValueError("need 0 ≤ k ≤ n")
    tail = binom.sf(k - 1, n, p) if upper else binom.cdf(k, n, p)
    return min(float(tail), 1.0)


def poisson_rate_test(
    baseline_count: int,
    observed_count: int,
    *,
    baseline_exposure: float = 1.0,
    observed_exposure: float = 1.0,
    direction: str = "decrease",
) -> float:
    """One-sided exact p-value that the observed Poisson rate moved in `direction` vs the baseline rate.

    Conditional test: given n events, under equal rates observed ~ Binomial(n, t₁ / (t₀ + t₁)).
    """
    n = baseline_count + observed_count
    share = observed_exposure / (baseline_exposure + observed_exposure)
    return binomial_tail(observed_count, n, share, upper=direction == INCREASE)


def smallest_p_value(n: int, *, share: float = 0.5, direction: str = "decrease") -> float:
    """The most significant result n events could give (all of them in the favourable window)."""
    return float(binom.pmf(0 if direction == DECREASE else n, n, share))


def fisher_exact_one_sided(
    baseline_events: int, baseline_trials: int, observed_events: int, observed_trials: int, *, direction: str
) -> float:
    """One-sided Fisher exact p-value that the observed proportion moved in `direction` vs the baseline."""
    table = [
        [observed_events, observed_trials - observed_events],
        [baseline_events, baseline_trials - baseline_events],
    ]
    return float(fisher_exact(table, alternative=_alternative(direction)).pvalue)


def smallest_fisher_p_value(baseline_trials: int, observed_trials: int, events: int, *, direction: str) -> float:
    """The most significant result these totals could give (every event in the favourable window)."""
    total = baseline_trials + observed_trials
    extreme = max(0, events - baseline_trials) if direction == DECREASE else min(events, observed_trials)
    return float(hypergeom.pmf(extreme, total, events, observed_trials))


# --- results ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class ComparisonResult:
    """Target vs rest of the team: conditional MLE odds ratio (= ratio of rate ratios), bound, p."""

    odds_ratio: float | None
    ci_low: float
    ci_high: float
    p_value: float
    verdict: str
    thin: bool
    reason: str


@dataclass(frozen=True)
class RateResult:
    """Before/after Poisson rates: rate ratio after/before, its one-sided bound, p."""

    rate_ratio: float | None
    ci_low: float
    ci_high: float
    p_value: float
    verdict: str
    too_little_data: bool
    reason: str


@dataclass(frozen=True)
class CountCheck:
    """Which count test decided (comparison or before/after), why, and what it said."""

    method: str
    reason: str
    verdict: str
    p_value: float
    estimate: float | None
    ci_low: float
    ci_high: float
    comparison: ComparisonResult | None
    before_after: RateResult


@dataclass(frozen=True)
class DurationResult:
    """Durations before/after: medians (None when open ones make them infinite), U, p."""

    before_median: float | None
    after_median: float | None
    before_n: int
    after_n: int
    u: float | None
    prob_after_longer: float | None
    p_value: float | None
    method: str | None
    verdict: str
    too_little_data: bool
    reason: str


@dataclass(frozen=True)
class FisherRateResult:
    """Proportions before/after (e.g. change failure rate): odds ratio after/before, bound, p."""

    before_rate: float | None
    after_rate: float | None
    odds_ratio: float | None
    ci_low: float
    ci_high: float
    p_value: float
    verdict: str
    too_little_data: bool
    reason: str


@dataclass(frozen=True)
class CountSizing:
    """What the before/after count test can detect, sized in Plan."""

    rejection_region: tuple[int, int | None] | None
    power: float | None
    detectable_change: float | None
    days_needed: int | None
    reason: str


@dataclass(frozen=True)
class ComparisonSizing:
    """What the Check's count test (comparison, or its before/after fallback) can detect."""

    thin: bool
    power: float | None
    detectable_change: float | None
    reason: str


# --- shared rule -----------------------------------------------------------------------------


def _alternative(direction: str) -> str:
    if direction not in (DECREASE, INCREASE):
        raise ValueError(f"direction must be {DECREASE!r} or {INCREASE!r}")
    return "less" if direction == DECREASE else "greater"


def _tie(p: float, alpha: float) -> bool:
    return math.isclose(p, alpha, rel_tol=TIE_TOLERANCE)


def _below(p: float, alpha: float) -> bool:
    """p < alpha, an exact tie (within rounding) counting as not below."""
    return p < alpha and not _tie(p, alpha)


def _bounds(low: float, high: float, p: float, alpha: float, direction: str) -> tuple[float, float]:
    # At a tie the exact bound is 1 (it solves P_ψ = alpha, and P_1 = alpha); say so exactly.
    if _tie(p, alpha):
        return (0.0, 1.0) if direction == DECREASE else (1.0, math.inf)
    return float(low), float(high)


def _sign(value: float) -> int:
    return (value > 0) - (value < 0)


def _verdict(p: float, side: int | None, direction: str, alpha: float, *, too_little_data: bool) -> str:
    """side: the sign of (effect − 1), decided exactly from the counts (None when there is no estimate).

    Not from the floating estimate: a conditional MLE comes out of a root-finder (brentq, xtol 1e-13), and
    "exactly 1" should not hang on its last digits.
    """
    if too_little_data:
        return INCONCLUSIVE
    if _below(p, alpha):
        return EFFECTIVE
    if side is None:
        return INCONCLUSIVE
    wrong_or_equal = side >= 0 if direction == DECREASE else side <= 0
    return NOT_EFFECTIVE if wrong_or_equal else INCONCLUSIVE


def _moved(verdict: str, p: float, direction: str, subject: str) -> str:
    went = "fell" if direction == DECREASE else "rose"
    if verdict == EFFECTIVE:
        return f"{subject} {went} significantly (p = {p:.3g})."
    if verdict == NOT_EFFECTIVE:
        return f"{subject} did not {'fall' if direction == DECREASE else 'rise'}."
    return f"{subject} {went}, but not significantly (p = {p:.3g})."


def _finite_or_none(value: float) -> float | None:
    return None if math.isnan(value) else float(value)


# --- 2×2 tables: comparison with the rest of the team, change failure rate --------------------


def _extreme_2x2_p(table: list[list[int]], direction: str) -> float:
    """p-value of the most extreme table with the same margins (the best these totals can do)."""
    (a, b), (c, d) = table
    row, col, total = a + b, a + c, a + b + c + d
    if 0 in (row, c + d, col, b + d):
        return 1.0  # a zero margin: every split is the same table, p = 1
    extreme = max(0, row + col - total) if direction == DECREASE else min(row, col)
    return float(hypergeom.pmf(extreme, total, row, col))


def _two_by_two(table: list[list[int]], direction: str, alpha: float):
    """Conditional MLE odds ratio of table[0][0], its one-sided (1 − alpha) bound, one-sided Fisher p, side of 1.

    The MLE is below 1 exactly when table[0][0] is below its mean under odds ratio 1, row · column / total
    (the conditional mean grows with the odds ratio), which integers decide exactly.
    """
    alternative = _alternative(direction)
    p = float(fisher_exact(table, alternative=alternative).pvalue)
    result = _odds_ratio(table, kind="conditional")
    interval = result.confidence_interval(confidence_level=1 - alpha, alternative=alternative)
    low, high = _bounds(interval.low, interval.high, p, alpha, direction)
    (a, b), (c, d) = table
    total = a + b + c + d
    side = None if 0 in (a + b, c + d, a + c, b + d) else _sign(a * total - (a + b) * (a + c))
    return _finite_or_none(float(result.statistic)), low, high, p, side


def comparison_test(
    target_before: int,
    target_after: int,
    rest_before: int,
    rest_after: int,
    *,
    direction: str = "decrease",
    alpha: float = 0.05,
) -> ComparisonResult:
    """Target's incidents before/after vs the rest of the team's in the same windows, one-sided Fisher exact.

    Table [[target_after, target_before], [rest_after, rest_before]]: its odds ratio is the ratio of
    rate ratios (target after/before ÷ rest after/before), so a team-wide swing cancels out.
    """
    table = [[target_after, target_before], [rest_after, rest_before]]
    estimate, low, high, p, side = _two_by_two(table, direction, alpha)
    few_rest = min(rest_before, rest_after) < MIN_REST
    unreachable = not _below(_extreme_2x2_p(table, direction), alpha)
    thin = few_rest or unreachable
    verdict = _verdict(p, side, direction, alpha, too_little_data=thin)
    if few_rest:
        reason = (
            f"Too few incidents in the rest of the team ({rest_before} before, {rest_after} after; "
            f"at least {MIN_REST} in each window) for a comparison."
        )
    elif unreachable:
        reason = "Too little data: with these totals no split could be significant in the comparison."
    else:
        reason = _moved(verdict, p, direction, "Relative to the rest of the team, the rate")
    return ComparisonResult(estimate, low, high, p, verdict, thin, reason)


def fisher_rate_test(
    before_events: int,
    before_trials: int,
    after_events: int,
    after_trials: int,
    *,
    direction: str = "decrease",
    alpha: float = 0.05,
) -> FisherRateResult:
    """Proportion of events among trials before/after (failed deployments among deployments), one-sided Fisher exact.

    Table [[after_events, after_non_events], [before_events, before_non_events]]; odds ratio after/before.
    """
    if not (0 <= before_events <= before_trials and 0 <= after_events <= after_trials):
        raise ValueError("need 0 ≤ events ≤ trials in each window")
    table = [[after_events, after_trials - after_events], [before_events, before_trials - before_events]]
    estimate, low, high, p, side = _two_by_two(table, direction, alpha)
    too_little = not _below(_extreme_2x2_p(table, direction), alpha)
    verdict = _verdict(p, side, direction, alpha, too_little_data=too_little)
    if not before_trials or not after_trials:
        reason = "No trial in one of the windows, nothing to compare."
    elif too_little:
        reason = "Too little data: with these counts no outcome could be significant."
    else:
        reason = _moved(verdict, p, direction, "The rate")
    return FisherRateResult(
        before_events / before_trials if before_trials else None,
        after_events / after_trials if after_trials else None,
        estimate,
        low,
        high,
        p,
        verdict,
        too_little,
        reason,
    )


# --- Poisson rates before/after ----------------------------------------------------------------


def rate_test(
    before: int,
    after: int,
    *,
    before_exposure: float = 1.0,
    after_exposure: float = 1.0,
    direction: str = "decrease",
    alpha: float = 0.05,
) -> RateResult:
    """Exact conditional test of two Poisson rates: given n events, after ~ Binomial(n, t₁ / (t₀ + t₁)) if unchanged.

    Rate ratio λ₁/λ₀ with the one-sided Clopper-Pearson bound on the share π, mapped to a ratio by π t₀ / ((1 − π) t₁).
    """
    alternative = _alternative(direction)
    n = before + after
    share = after_exposure / (before_exposure + after_exposure)

    def as_ratio(pi: float) -> float:
        return math.inf if pi >= 1 else pi * before_exposure / ((1 - pi) * after_exposure)

    estimate = None if n == 0 else math.inf if before == 0 else (after / after_exposure) / (before / before_exposure)
    too_little = not _below(smallest_p_value(n, share=share, direction=direction), alpha)
    if n == 0:
        p, low, high = 1.0, 0.0, math.inf
    else:
        p = float(binomtest(after, n, share, alternative=alternative).pvalue)
        # Clopper-Pearson one-sided bound in closed form (beta quantiles, special.betaincinv): the same bound
        # as binomtest(...).proportion_ci(method="exact") (to 1e-10), which finds it by brentq (xtol 2e-12) at
        # ~0.6 ms a call against ~2 µs; the closed form is also the more accurate near a tie.
        if direction == DECREASE:
            low, high = 0.0, 1.0 if after == n else float(special.betaincinv(after + 1, n - after, 1 - alpha))
        else:
            low, high = 0.0 if after == 0 else float(special.betaincinv(after, n - after + 1, alpha)), 1.0
        low, high = _bounds(as_ratio(low), as_ratio(high), p, alpha, direction)
    side = _sign(after * before_exposure - before * after_exposure) if n else None
    verdict = _verdict(p, side, direction, alpha, too_little_data=too_little)
    if too_little:
        reason = f"Too little data: with {n} event{'' if n == 1 else 's'} no outcome could be significant."
    else:
        reason = _moved(verdict, p, direction, "The rate")
    return RateResult(estimate, low, high, p, verdict, too_little, reason)


def count_check(
    target_before: int,
    target_after: int,
    rest_before: int | None = None,
    rest_after: int | None = None,
    *,
    before_exposure: float = 1.0,
    after_exposure: float = 1.0,
    direction: str = "decrease",
    alpha: float = 0.05,
) -> CountCheck:
    """The Check of an incident count: comparison with the rest of the team, or before/after when that is thin.

    Rest counts None means there is no comparison group (the target is the whole team).
    """
    before_after = rate_test(
        target_before,
        target_after,
        before_exposure=before_exposure,
        after_exposure=after_exposure,
        direction=direction,
        alpha=alpha,
    )
    comparison = None
    if rest_before is not None and rest_after is not None:
        comparison = comparison_test(
            target_before, target_after, rest_before, rest_after, direction=direction, alpha=alpha
        )
    # Fall back to before/after only when the comparison group is too small. A comparison that is thin
    # because no split could be significant stays the decision (inconclusive): falling back there would
    # credit the action with a team-wide drop (target 20 → 0 while the rest fell 100 → 10).
    few_rest = comparison is not None and min(rest_before, rest_after) < MIN_REST
    if comparison is not None and not few_rest:
        return CountCheck(
            "comparison",
            comparison.reason
            if comparison.thin
            else "Compared with the rest of the team over the same windows, so a team-wide change cancels out.",
            comparison.verdict,
            comparison.p_value,
            comparison.odds_ratio,
            comparison.ci_low,
            comparison.ci_high,
            comparison,
            before_after,
        )
    why = "No comparison group." if comparison is None else comparison.reason
    return CountCheck(
        "before_after",
        f"{why} Before/after rate test instead.",
        before_after.verdict,
        before_after.p_value,
        before_after.rate_ratio,
        before_after.ci_low,
        before_after.ci_high,
        comparison,
        before_after,
    )


# --- durations -------------------------------------------------------------------------------


def duration_test(
    before: list[float | None],
    after: list[float | None],
    *,
    direction: str = "decrease",
    min_values: int = 5,
    alpha: float = 0.05,
) -> DurationResult:
    """One-sided Mann-Whitney U (scipy.stats.mannwhitneyu) of durations in seconds, after vs before.

    None or inf = still open: the longest, tied among themselves. method="exact" when there are no ties and both
    samples have ≤ 50 values; otherwise "asymptotic" (normal, tie-corrected variance, continuity correction).
    """
    alternative = _alternative(direction)
    # Open ones are not dropped: leaving out the longest durations would flatter whichever window has more of them.
    x = [math.inf if v is None else float(v) for v in after]
    y = [math.inf if v is None else float(v) for v in before]

    def median(values: list[float]) -> float | None:
        if not values:
            return None
        found = statistics.median(values)
        return None if math.isinf(found) else found

    too_little = min(len(x), len(y)) < max(min_values, 1)
    u = prob = p = method = None
    if x and y:
        combined = x + y
        if len(set(combined)) == 1:
            u, p = len(x) * len(y) / 2, 1.0  # all equal (e.g. all still open): no evidence, and no variance to test
        else:
            ties = len(set(combined)) < len(combined)
            method = "exact" if not ties and max(len(x), len(y)) <= EXACT_MAX else "asymptotic"
            result = mannwhitneyu(x, y, alternative=alternative, method=method, use_continuity=True)
            u, p = float(result.statistic), float(result.pvalue)
        prob = u / (len(x) * len(y))
    if too_little:
        verdict = INCONCLUSIVE
        reason = f"Too little data: at least {min_values} values are needed in each window."
    else:
        # The effect is P(after longer than before) + ½ P(tie) = U / (m n), against ½: 2U − m n is a whole number.
        verdict = _verdict(p, _sign(2 * u - len(x) * len(y)), direction, alpha, too_little_data=False)
        reason = _moved(verdict, p, direction, "The durations")
    return DurationResult(median(y), median(x), len(y), len(x), u, prob, p, method, verdict, too_little, reason)


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
