"""Exact tests used by the Check, on scipy: same signatures and results as the integer versions they replace."""

from scipy.stats import binom, fisher_exact, hypergeom

DECREASE, INCREASE = "decrease", "increase"


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


def _alternative(direction: str) -> str:
    if direction not in (DECREASE, INCREASE):
        raise ValueError(f"direction must be {DECREASE!r} or {INCREASE!r}")
    return "less" if direction == DECREASE else "greater"
