"""Reads across the teams a user may see: recurring problems and Checks, for the managers' view and the report.

Each selector takes a Scope (already restricted to the visible teams) and is one query, whatever the
number of teams; the rows carry their team so a page can link into it.
"""

from django.db.models import Count

from improvement.models import Check, Verdict
from incidents.measures.scope import Scope
from incidents.models import Incident

# A problem is recurring when it caused at least this many incidents in the period.
RECURRING_AT = 2
LISTED = 10


def recurring_problems(scope: Scope, *, limit: int = LISTED) -> list[dict]:
    """Problems behind at least RECURRING_AT incidents started in the scope, most incidents first."""
    rows = (
        Incident.objects.filter(
            started_at__gte=scope.start, started_at__lt=scope.end, problem__isnull=False, **scope.filters()
        )
        .values("problem_id", "problem__title", "team_id", "team__name", "team__slug")
        .annotate(n=Count("pk"))
        .filter(n__gte=RECURRING_AT)
        .order_by("-n", "problem__title", "problem_id")[:limit]
    )
    return [
        {
            "id": row["problem_id"],
            "title": row["problem__title"],
            "team": {"id": row["team_id"], "name": row["team__name"], "slug": row["team__slug"]},
            "incidents": row["n"],
        }
        for row in rows
    ]


def verified_effective(scope: Scope, *, limit: int = LISTED):
    """Checks the product measured effective in the scope (not overridden), latest first."""
    return (
        Check.objects.filter(
            team_id__in=scope.team_ids,
            evidence=Check.Evidence.COMPUTED,
            overridden=False,
            verdict=Verdict.EFFECTIVE,
            measured_at__gte=scope.start,
            measured_at__lt=scope.end,
        )
        .select_related("action", "team")
        .order_by("-measured_at", "-pk")[:limit]
    )


def overridden_checks(scope: Scope, *, limit: int = LISTED):
    """Checks whose verdict a lead overrode in the scope, latest first."""
    return (
        Check.objects.filter(
            team_id__in=scope.team_ids, overridden=True, overridden_at__gte=scope.start, overridden_at__lt=scope.end
        )
        .select_related("action", "team", "decided_by")
        .order_by("-overridden_at", "-pk")[:limit]
    )
