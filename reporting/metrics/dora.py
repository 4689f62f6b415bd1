"""DORA performance bands for the four keys.

Thresholds: *Accelerate State of DevOps Report 2024* (DORA / Google Cloud), the
performance-level table ("software delivery performance levels"); the 2025 DORA
report replaced the four clusters with team archetypes, so 2024 is the latest
report with these bands:

level  | deploy frequency        | lead time       | fail rate | recovery time
elite  | on demand (many a day)  | < 1 day         | 5 %       | < 1 hour
high   | daily to weekly         | 1 day – 1 week  | 20 %      | < 1 day
medium | weekly to monthly       | 1 week – 1 month| 10 %      | < 1 day
low    | monthly to 6-monthly    | 1 – 6 months    | 40 %      | 1 week – 1 month

Each key is banded on its own: the best level whose threshold the team meets,
tried in order elite → high → medium → low. The report's table is not monotonic
(medium's fail rate 10 % is below high's 20 %; medium and high share "less than
one day" of recovery), so in practice: fail rate ≤ 5 % elite, ≤ 20 % high, else
low; recovery < 1 h elite, < 1 day high, else low. Recovery time is measured
as our median time to mitigate (incident start → service restored).
Deployment frequency is deployments per day over the period (≥ 1/day elite,
≥ 1/week high, ≥ 1/month (30 days) medium). A key without data has no band.
"""

HOUR = 3600.0
DAY = 24 * HOUR
WEEK = 7 * DAY
MONTH = 30 * DAY
SOURCE = "Accelerate State of DevOps Report 2024 (DORA)"

# (level, test) pairs, tried in order.
BANDS = {
    "deployment_frequency": [  # deployments per day
        ("elite", lambda v: v >= 1),
        ("high", lambda v: v >= 1 / 7),
        ("medium", lambda v: v >= 1 / 30),
        ("low", lambda v: True),
    ],
    "lead_time": [  # median seconds commit → deploy
        ("elite", lambda v: v < DAY),
        ("high", lambda v: v <= WEEK),
        ("medium", lambda v: v <= MONTH),
        ("low", lambda v: True),
    ],
    "change_failure_rate": [  # share of deployments that failed
        ("elite", lambda v: v <= 0.05),
        ("high", lambda v: v <= 0.20),
        ("medium", lambda v: v <= 0.10),
        ("low", lambda v: True),
    ],
    "time_to_restore": [  # median seconds incident start → mitigated
        ("elite", lambda v: v < HOUR),
        ("high", lambda v: v < DAY),
        ("medium", lambda v: v < DAY),
        ("low", lambda v: True),
    ],
}


def band(key: str, value: float | None) -> str | None:
    """The DORA level for one key, None without data."""
    if value is None:
        return None
    return next(level for level, meets in BANDS[key] if meets(value))


def dora_bands(*, deployments_per_day, lead_time_median, change_failure_rate, time_to_restore_median) -> dict:
    values = {
        "deployment_frequency": deployments_per_day,
        "lead_time": lead_time_median,
        "change_failure_rate": change_failure_rate,
        "time_to_restore": time_to_restore_median,
    }
    return {
        "source": SOURCE,
        "keys": {key: {"value": value, "band": band(key, value)} for key, value in values.items()},
    }
