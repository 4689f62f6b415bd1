"""Exact tests used by the Check, without scipy."""

import math
from fractions import Fraction


def binomial_tail(k: int, n: int, p: float, *, upper: bool) -> float:
    """P(X ≤ k) (upper=False) or P(X ≥ k) (upper=True) for X ~ Binomial(n, p), exactly.

    With p = 1/2 (equal windows) the sum is done in integers: Σ C(n, i) / 2ⁿ.
    Otherwise each term is exp(ln C(n, i) + i ln p + (n − i) ln(1 − p)) via lgamma.
    """
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


def poisson_rate_test(
    baseline_count: int,
    observed_count: int,
    *,
    baseline_exposure: float = 1.0,
    observed_exposure: float = 1.0,
    direction: str = "decrease",
) -> float:
    """One-sided exact p-value that the observed Poisson rate moved in `direction` vs the baseline rate.

    Conditional (binomial) test: given n = k₀ + k₁ events, under equal rates k₁ ~
    Binomial(n, t₁ / (t₀ + t₁)). For "decrease" the p-value is P(K ≤ k₁), for
    "increase" P(K ≥ k₁).
    """
    n = baseline_count + observed_count
    share = observed_exposure / (baseline_exposure + observed_exposure)
    return binomial_tail(observed_count, n, share, upper=direction == "increase")


def smallest_p_value(n: int, *, share: float = 0.5, direction: str = "decrease") -> float:
    """The most significant result n events could give (all of them in the favourable window)."""
    return (1 - share) ** n if direction == "decrease" else share**n


def fisher_exact_one_sided(
    baseline_events: int, baseline_trials: int, observed_events: int, observed_trials: int, *, direction: str
) -> float:
    """One-sided Fisher exact test that the observed proportion moved in `direction` vs the baseline.

    Given K = all events over N = all trials, under "same proportion" the observed
    events follow Hypergeometric(N, K, observed_trials); "decrease" gives P(X ≤ observed
    events), "increase" P(X ≥ observed events). Exact, in integers.
    """
    total, events = baseline_trials + observed_trials, baseline_events + observed_events
    low, high = max(0, events - baseline_trials), min(events, observed_trials)
    terms = range(low, observed_events + 1) if direction == "decrease" else range(observed_events, high + 1)
    favourable = sum(math.comb(events, x) * math.comb(total - events, observed_trials - x) for x in terms)
    return float(Fraction(favourable, math.comb(total, observed_trials)))


def smallest_fisher_p_value(baseline_trials: int, observed_trials: int, events: int, *, direction: str) -> float:
    """The most significant result these totals could give (every event in the favourable window)."""
    total = baseline_trials + observed_trials
    extreme = max(0, events - baseline_trials) if direction == "decrease" else min(events, observed_trials)
    return float(
        Fraction(
            math.comb(events, extreme) * math.comb(total - events, observed_trials - extreme),
            math.comb(total, observed_trials),
        )
    )
