"""The tests themselves: 2×2 tables (comparison, change failure rate), Poisson rates, durations."""

import math
import statistics

from scipy import special
from scipy.stats import binom, binomtest, fisher_exact, hypergeom, mannwhitneyu
from scipy.stats.contingency import odds_ratio as _odds_ratio

from improvement.stats.rule import (
    DECREASE,
    EXACT_MAX,
    INCONCLUSIVE,
    INCREASE,
    MIN_REST,
    ComparisonResult,
    CountCheck,
    DurationResult,
    FisherRateResult,
    RateResult,
    _alternative,
    _below,
    _bounds,
    _finite_or_none,
    _moved,
    _sign,
    _verdict,
)

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
