"""Where a team stands among the DORA clusters, on the four keys together.

Source: *Accelerate State of DevOps Report 2024* (DORA / Google Cloud), "software delivery performance
levels": four clusters (elite, high, medium, low) described by the typical values of their teams. The 2025
report replaced the clusters with archetypes, so 2024 is the latest report with them.

The report's values describe clusters found in survey data; they are not cut-offs for each key on its own
(read as cut-offs, medium's 10 % change failure rate sits below high's 20 %, so a team could never be
"medium" on that key). A team is therefore placed in the cluster nearest on all four keys together: each
key in log10 (they span orders of magnitude), divided by the spread of the four clusters on that key so
that each key weighs the same, Euclidean distance. Without all four keys there is no placement, only the
reference values.

Typical values used: a representative value inside each level's range in the report's table. High and
medium share "less than one day" of recovery (8 h and 12 h here are only inside it): the other keys tell
them apart.

level  | deployments per day       | lead time | change failure rate | recovery (failed deployment)
elite  | 3 (on demand)             | 6 hours   | 5 %                 | 30 minutes
high   | 0.4 (daily to weekly)     | 3 days    | 20 %                | 8 hours
medium | 0.08 (weekly to monthly)  | 2 weeks   | 10 %                | 12 hours
low    | 0.015 (monthly to 6-mo.)  | 3 months  | 40 %                | 2 weeks

Recovery is DORA's "failed deployment recovery time": measured on incidents caused by a change (start →
service restored), not on every incident.
"""

import math

HOUR = 3600.0
DAY = 24 * HOUR
SOURCE = "Accelerate State of DevOps Report 2024 (DORA), software delivery performance levels"
KEYS = ("deployment_frequency", "lead_time", "change_failure_rate", "time_to_restore")
CLUSTERS = {
    "elite": {
        "deployment_frequency": 3.0,
        "lead_time": 6 * HOUR,
        "change_failure_rate": 0.05,
        "time_to_restore": HOUR / 2,
    },
    "high": {
        "deployment_frequency": 0.4,
        "lead_time": 3 * DAY,
        "change_failure_rate": 0.20,
        "time_to_restore": 8 * HOUR,
    },
    "medium": {
        "deployment_frequency": 0.08,
        "lead_time": 14 * DAY,
        "change_failure_rate": 0.10,
        "time_to_restore": DAY / 2,
    },
    "low": {
        "deployment_frequency": 0.015,
        "lead_time": 90 * DAY,
        "change_failure_rate": 0.4,
        "time_to_restore": 14 * DAY,
    },
}
# A zero (no failure, instant restore) is read as this fraction of the smallest typical value.
FLOOR = 0.1


def _log(key: str, value: float) -> float:
    smallest = min(cluster[key] for cluster in CLUSTERS.values())
    return math.log10(max(value, smallest * FLOOR))


def _spread(key: str) -> float:
    logs = [math.log10(cluster[key]) for cluster in CLUSTERS.values()]
    return max(logs) - min(logs)


def nearest_cluster(values: dict) -> tuple[str | None, dict]:
    """The nearest cluster and the distance to each; (None, {}) unless all four keys have a value."""
    if any(values.get(key) is None for key in KEYS):
        return None, {}
    distances = {
        level: math.sqrt(sum(((_log(key, values[key]) - math.log10(typical[key])) / _spread(key)) ** 2 for key in KEYS))
        for level, typical in CLUSTERS.items()
    }
    return min(distances, key=distances.get), distances


def dora_bands(*, deployments_per_day, lead_time_median, change_failure_rate, time_to_restore_median) -> dict:
    values = {
        "deployment_frequency": deployments_per_day,
        "lead_time": lead_time_median,
        "change_failure_rate": change_failure_rate,
        "time_to_restore": time_to_restore_median,
    }
    cluster, distances = nearest_cluster(values)
    return {
        "source": SOURCE,
        "cluster": cluster,
        "distances": distances,
        "keys": {
            key: {"value": value, "reference": {level: CLUSTERS[level][key] for level in CLUSTERS}}
            for key, value in values.items()
        },
    }
