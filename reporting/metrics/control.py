"""Process-behaviour (XmR) charts on weekly series, and the signals a review board should look at.

Limits (Wheeler, *Understanding Variation*): centre line = mean of the points,
average moving range mR̄ = mean of |xᵢ − xᵢ₋₁|, natural process limits =
centre ± 2.66 · mR̄. A negative lower limit means "no lower limit" (None) since
none of our metrics can go below zero. Limits need at least MIN_POINTS weeks
with a value; weeks without a value (no incident to time) are skipped.

Signals are judged on the most recent week only (the board wants what changed now):
- ``beyond_limit``: the last point is above the upper or below the lower limit;
- ``run_of_8``: the last RUN_LENGTH points are all on the same side of the centre
  line (Western Electric / Wheeler rule: a sustained shift; a point on the line breaks the run).
"""

import itertools

MIN_POINTS = 6
RUN_LENGTH = 8
SIGMA_FACTOR = 2.66  # 3 / d2, d2 = 1.128 for moving ranges of two points


def xmr_limits(values: list[float | None]) -> dict | None:
    """Centre line, natural process limits and average moving range, or None with too few points."""
    points = [value for value in values if value is not None]
    if len(points) < MIN_POINTS:
        return None
    centre = sum(points) / len(points)
    moving_range = sum(abs(b - a) for a, b in itertools.pairwise(points)) / (len(points) - 1)
    lower = centre - SIGMA_FACTOR * moving_range
    return {
        "centre": centre,
        "upper": centre + SIGMA_FACTOR * moving_range,
        "lower": lower if lower >= 0 else None,
        "moving_range": moving_range,
        "points": len(points),
    }


def signals(values: list[float | None], limits: dict | None) -> list[dict]:
    """The signals raised by the last value of a series: [{rule, which, limit, value, direction}]."""
    if limits is None or not values or values[-1] is None:
        return []
    last = values[-1]
    found = []
    if last > limits["upper"]:
        found.append({"rule": "beyond_limit", "which": "upper", "limit": limits["upper"], "direction": "above"})
    elif limits["lower"] is not None and last < limits["lower"]:
        found.append({"rule": "beyond_limit", "which": "lower", "limit": limits["lower"], "direction": "below"})
    recent = [value for value in values if value is not None][-RUN_LENGTH:]
    centre = limits["centre"]
    if len(recent) == RUN_LENGTH:
        if all(value > centre for value in recent):
            found.append({"rule": "run_of_8", "which": "centre", "limit": centre, "direction": "above"})
        elif all(value < centre for value in recent):
            found.append({"rule": "run_of_8", "which": "centre", "limit": centre, "direction": "below"})
    for signal in found:
        signal["value"] = last
    return found


def target_run(values: list[float | None], target: float, bound: str) -> dict | None:
    """A target crossed by a sustained run: the last RUN_LENGTH values all on its wrong side (not one bad week).

    `bound` is "below" (the figure should stay at most `target`) or "above" (at least). Returns a
    signal {rule: "target_run", which: "target", limit, direction, value}, or None.
    """
    recent = [value for value in values if value is not None][-RUN_LENGTH:]
    if len(recent) < RUN_LENGTH or not values or values[-1] is None:
        return None
    missed = all(v > target for v in recent) if bound == "below" else all(v < target for v in recent)
    if not missed:
        return None
    direction = "above" if bound == "below" else "below"
    return {"rule": "target_run", "which": "target", "limit": target, "direction": direction, "value": values[-1]}


def weeks_missing(values: list[float | None], target: float, bound: str) -> int:
    """Of the last RUN_LENGTH weeks with a value, how many were on the target's wrong side (its trend)."""
    recent = [value for value in values if value is not None][-RUN_LENGTH:]
    return sum(1 for v in recent if (v > target if bound == "below" else v < target))
