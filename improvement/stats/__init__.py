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

The package: `rule` (the verdict rule, constants, result types), `significance` (the tests),
`sizing` (what a window can show, in Plan). Callers use `from improvement import stats`.
"""

from improvement.stats.rule import (
    DECREASE,
    EFFECTIVE,
    EXACT_MAX,
    INCONCLUSIVE,
    INCREASE,
    MIN_REST,
    NOT_EFFECTIVE,
    ComparisonResult,
    ComparisonSizing,
    CountCheck,
    CountSizing,
    DurationResult,
    FisherRateResult,
    RateResult,
)
from improvement.stats.significance import (
    binomial_tail,
    comparison_test,
    count_check,
    duration_test,
    fisher_exact_one_sided,
    fisher_rate_test,
    poisson_rate_test,
    rate_test,
    smallest_fisher_p_value,
    smallest_p_value,
)
from improvement.stats.sizing import (
    comparison_sizing,
    count_power,
    count_sizing,
)

__all__ = [
    "DECREASE",
    "EFFECTIVE",
    "EXACT_MAX",
    "INCONCLUSIVE",
    "INCREASE",
    "MIN_REST",
    "NOT_EFFECTIVE",
    "ComparisonResult",
    "ComparisonSizing",
    "CountCheck",
    "CountSizing",
    "DurationResult",
    "FisherRateResult",
    "RateResult",
    "binomial_tail",
    "comparison_sizing",
    "comparison_test",
    "count_check",
    "count_power",
    "count_sizing",
    "duration_test",
    "fisher_exact_one_sided",
    "fisher_rate_test",
    "poisson_rate_test",
    "rate_test",
    "smallest_fisher_p_value",
    "smallest_p_value",
]
