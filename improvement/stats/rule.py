"""The verdict rule every test of the Check shares, its constants and its result types."""

import math
from dataclasses import dataclass

EFFECTIVE, NOT_EFFECTIVE, INCONCLUSIVE = "effective", "not_effective", "inconclusive"
DECREASE, INCREASE = "decrease", "increase"
MIN_REST = 10  # fewer comparison incidents than this in a window and the comparison is thin
EXACT_MAX = 50  # Mann-Whitney exact distribution up to this sample size (cost grows fast beyond)
TIE_TOLERANCE = 1e-9  # relative; scipy's tail sums are good to ~1e-14, so this only catches ties
RATIO_MAX = 10.0  # sizing of a rise looks no further than a tenfold rate


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
