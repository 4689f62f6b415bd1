"""The monthly operations review's agenda: the month in figures, frozen with the session.

The trend of each weekly series comes from reporting.metrics.weekly_series (the dashboard's own
function): the mean of the month's weeks against the centre line of the series' last 26 weeks.
The rest is counted in the database: problems that recurred, Checks verified effective or
overridden, and what the month's weekly review boards decided. Every value is plain JSON.
"""

import datetime as dt

from django.db.models import Count

from improvement.models import Check, Verdict
from incidents.models import Incident
from reporting import metrics
from rituals.models import ReviewDecision, Ritual

POLES = ("flexibility", "speed", "reliability")
# A problem is recurring when it caused at least this many incidents in the month.
RECURRING_AT = 2
TOP_PROBLEMS = 5
# The month's weekly decisions listed on the agenda (the rest are on each session's page).
DECISIONS_LISTED = 50
# A change under this share of the centre line reads as flat.
FLAT_WITHIN = 0.05


def _iso(instant: dt.datetime) -> str:
    return instant.isoformat()


def _trend(series: dict, weeks: list[dt.date], since: dt.datetime) -> dict | None:
    values = [v for week, v in zip(weeks, series["values"], strict=True) if week >= since.date() and v is not None]
    centre = (series.get("limits") or {}).get("centre")
    if not values:
        return None
    month = sum(values) / len(values)
    direction = "flat"
    if centre:
        change = (month - centre) / abs(centre)
        direction = "flat" if abs(change) < FLAT_WITHIN else ("up" if change > 0 else "down")
    elif month:
        direction = "up"
    return {
        "key": series["key"],
        "label": series["label"],
        "unit": series["unit"],
        "month": month,
        "centre": centre,
        "direction": direction,
    }


def month_review(*, team, since: dt.datetime, now: dt.datetime) -> dict:
    """The month between `since` and `now` for `team`: trends per pole, problems, Checks, weekly decisions."""
    weekly = metrics.weekly_series(metrics.build_scope(teams=team, now=now))
    weeks = weekly["weeks"]
    poles = {pole: [] for pole in POLES}
    for series in weekly["series"].values():
        trend = _trend(series, weeks, since)
        if trend and series["pole"] in poles:
            poles[series["pole"]].append(trend)
    window = {"team": team}
    problems = (
        Incident.objects.filter(**window, started_at__gte=since, started_at__lt=now, problem__isnull=False)
        .values("problem_id", "problem__title")
        .annotate(n=Count("pk"))
        .filter(n__gte=RECURRING_AT)
        .order_by("-n", "problem__title")[:TOP_PROBLEMS]
    )
    verified = (
        Check.objects.filter(
            **window,
            evidence=Check.Evidence.COMPUTED,
            overridden=False,
            verdict=Verdict.EFFECTIVE,
            measured_at__gte=since,
            measured_at__lt=now,
        )
        .select_related("action")
        .order_by("measured_at", "pk")
    )
    overridden = (
        Check.objects.filter(**window, overridden=True, overridden_at__gte=since, overridden_at__lt=now)
        .select_related("action", "decided_by")
        .order_by("overridden_at", "pk")
    )
    decisions = (
        ReviewDecision.objects.filter(
            team=team,
            session__ritual__kind=Ritual.Kind.WEEKLY_REVIEW,
            session__occurrence__gte=since,
            session__occurrence__lt=now,
        )
        .exclude(kind=ReviewDecision.Kind.DISCUSSED)
        .select_related("session")
        .order_by("session__occurrence", "at", "pk")
    )
    decisions_count = decisions.count()
    return {
        "since": _iso(since),
        "until": _iso(now),
        "poles": [{"pole": pole, "trends": poles[pole]} for pole in POLES],
        "problems": [{"id": p["problem_id"], "title": p["problem__title"], "incidents": p["n"]} for p in problems],
        "verified": [
            {"action_id": c.action_id, "title": c.action.title, "effect": c.effect, "p_value": c.p_value}
            for c in verified
        ],
        "overridden": [
            {
                "action_id": c.action_id,
                "title": c.action.title,
                "verdict": c.verdict,
                "computed_verdict": c.computed_verdict,
                "by": c.decided_by.get_username() if c.decided_by else "",
            }
            for c in overridden
        ],
        "decisions": [
            {
                "session_id": d.session_id,
                "date": d.session.occurrence.date().isoformat(),
                "kind": d.kind,
                "text": d.text,
            }
            for d in decisions[:DECISIONS_LISTED]
        ],
        "decisions_count": decisions_count,
    }
