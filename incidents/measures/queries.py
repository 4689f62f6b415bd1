"""The measurement queries over incidents, changes and postmortems: counts, durations, percentiles.

The dashboards (reporting) and the Check (improvement) both measure with these, so a figure has
one definition wherever it is shown. Each source has one queryset restricted to a Scope and one
dict of aggregates, so it is one SQL query per source.
"""

import bisect
import datetime as dt

from django.conf import settings
from django.db.models import Count, Exists, F, OuterRef, Q
from django.db.models.functions import TruncWeek

from incidents.measures.db import Percentile, Seconds
from incidents.measures.scope import Scope
from incidents.models import Change, ContributingFactor, Incident, Postmortem, Severity

# Incident durations: (name, later timestamp, earlier timestamp).
# Time to mitigate is DORA's "time to restore service": from the start of the impact.
INCIDENT_DURATIONS = (
    ("time_to_detect", "detected_at", "started_at"),
    ("time_to_acknowledge", "acknowledged_at", "detected_at"),
    ("time_to_mitigate", "mitigated_at", "started_at"),
    ("time_to_resolve", "resolved_at", "started_at"),
)


def repeat_window_days() -> int:
    """N of the repeat-incident rate: an incident repeats one of the previous N days (OPSKAIZEN_REPEAT_WINDOW_DAYS)."""
    return settings.OPSKAIZEN_REPEAT_WINDOW_DAYS


def percentiles(prefix: str, expression, count_of: str, *, only: Q | None = None) -> dict:
    """Median, p90 and the count behind them (rows where `count_of` is set, within `only`)."""
    return {
        f"{prefix}_p50": Percentile(expression, 0.5, filter=only),
        f"{prefix}_p90": Percentile(expression, 0.9, filter=only),
        f"{prefix}_n": Count(count_of, filter=only),
    }


def incidents(scope: Scope):
    return Incident.objects.filter(started_at__gte=scope.start, started_at__lt=scope.end, **scope.filters())


def _earlier_within(field: str = "started_at") -> dict:
    window = dt.timedelta(days=repeat_window_days())
    return {f"{field}__lt": OuterRef("started_at"), f"{field}__gte": OuterRef("started_at") - window}


def repeat_conditions() -> dict[str, Q]:
    by_problem = Exists(Incident.objects.filter(problem_id=OuterRef("problem_id"), **_earlier_within()))
    by_service = Exists(Incident.objects.filter(service_id=OuterRef("service_id"), **_earlier_within()))
    own_categories = ContributingFactor.objects.filter(postmortem__incident_id=OuterRef(OuterRef("pk"))).values(
        "category"
    )
    by_factor = Exists(
        ContributingFactor.objects.filter(
            team_id=OuterRef("team_id"),
            category__in=own_categories,
            **_earlier_within("postmortem__incident__started_at"),
        )
    )
    return {
        "repeat_problem": Q(by_problem),
        "repeat_service": Q(by_service),
        "repeat_factor": Q(by_factor),
    }


def repeat_factor_count(scope: Scope) -> int:
    """How many incidents of the scope repeat a contributing-factor category (see repeat_factor_counts)."""
    return sum(repeat_factor_counts(scope).values())


def repeat_factor_counts(scope: Scope) -> dict[int, int]:
    """How many incidents of the scope `repeat_conditions()["repeat_factor"]` holds for, counted from one narrow read.

    The same definition (a contributing-factor category of the incident came up in one of its team's
    incidents of the previous N days), but the correlated subquery joined every factor of the team for
    each incident (~100 ms for half a year of a 10k-incident team); this reads the factors of the
    period and the N days before it once and looks each incident's categories up in sorted times.
    """
    window = dt.timedelta(days=repeat_window_days())
    # Read from the incidents' (team, started_at) index, then each one's postmortem and factors.
    rows = (
        Incident.objects.filter(
            team_id__in=scope.team_ids,
            started_at__gte=scope.start - window,
            started_at__lt=scope.end,
            postmortem__factors__team_id__in=scope.team_ids,
        )
        .order_by()
        .values_list(
            "postmortem__factors__team_id", "postmortem__factors__category", "id", "started_at", "team_id", "service_id"
        )
    )
    times: dict[tuple, list] = {}
    own: dict[int, tuple] = {}
    for team_id, category, incident_id, started_at, incident_team_id, service_id in rows:
        times.setdefault((team_id, category), []).append(started_at)
        in_scope = started_at >= scope.start and incident_team_id in scope.team_ids
        if in_scope and (scope.service_id is None or service_id == scope.service_id):
            own.setdefault(incident_id, (incident_team_id, started_at, set()))[2].add(category)
    for found in times.values():
        found.sort()
    # Per team: an incident is looked up among its own team's factors only, so a team's count is the
    # same in a scope of several teams as alone (the view across teams groups by team).
    repeats: dict[int, int] = {}
    for team_id, started_at, categories in own.values():
        for category in categories:
            found = times.get((team_id, category), [])
            first = bisect.bisect_left(found, started_at - window)
            if first < len(found) and found[first] < started_at:
                repeats[team_id] = repeats.get(team_id, 0) + 1
                break
    return repeats


def incident_aggregates(*, repeat_breakdown: bool = True) -> dict:
    """Counts by severity, duration percentiles, and repeats (with the service breakdown when asked).

    The headline repeat is the same problem within N days (`repeat_problem`); the weekly series need
    only it. The factor-category repeat is `repeat_factor_count`, a query of its own.
    """
    found = {
        "incidents": Count("id"),
        **{f"incidents_{sev.lower()}": Count("id", filter=Q(severity=sev)) for sev in Severity.values},
        "unresolved": Count("id", filter=Q(resolved_at__isnull=True)),
    }
    for name, later, earlier in INCIDENT_DURATIONS:
        found.update(percentiles(name, Seconds(F(later), F(earlier)), later))
    # DORA's recovery key: restore time of incidents a change caused (failed deployment recovery time).
    found.update(
        percentiles(
            "failed_change_restore",
            Seconds(F("mitigated_at"), F("started_at")),
            "mitigated_at",
            only=Q(caused_by_change__isnull=False),
        )
    )
    conditions = repeat_conditions()
    del conditions["repeat_factor"]
    if not repeat_breakdown:
        del conditions["repeat_service"]
    found.update({name: Count("id", filter=condition) for name, condition in conditions.items()})
    return found


def changes(scope: Scope):
    return Change.objects.filter(deployed_at__gte=scope.start, deployed_at__lt=scope.end, **scope.filters())


def change_aggregates(team_ids=None) -> dict:
    """The change figures; `team_ids` (the scope's teams) narrows the incidents read for the failures."""
    return {
        "deployments": Count("id"),
        "failed_deployments": Count("id", filter=failed_change(team_ids)),
        "standard_changes": Count("id", filter=Q(kind=Change.Kind.STANDARD)),
        "emergency_changes": Count("id", filter=Q(kind=Change.Kind.EMERGENCY)),
        **percentiles("lead_time", Seconds(F("deployed_at"), F("committed_at")), "committed_at"),
    }


def postmortems(scope: Scope):
    return Postmortem.objects.filter(
        status=Postmortem.Status.PUBLISHED,
        published_at__gte=scope.start,
        published_at__lt=scope.end,
        **scope.filters(service_field="incident__service"),
    )


def postmortem_aggregates() -> dict:
    return {
        "postmortems_published": Count("id"),
        **percentiles("time_to_postmortem", Seconds(F("published_at"), F("incident__started_at")), "id"),
    }


def week_of(field: str, scope: Scope) -> TruncWeek:
    return TruncWeek(field, tzinfo=scope.tz)


def failed_change(team_ids=None) -> Q:
    """A failed deployment: marked failed, or named as the cause of an incident (DORA's change failure).

    With `team_ids` (the changes' teams), only those teams' incidents are looked at: the same
    answer, as an incident names only a change of its own team (incidents.services checks the
    links), but PostgreSQL then hashes the causes of these teams' incidents instead of the whole
    table's (15 ms instead of 40 ms for a team's half year at 100 000 incidents).
    """
    causing = Incident.objects.filter(caused_by_change_id=OuterRef("pk"))
    if team_ids is not None:
        causing = causing.filter(team_id__in=team_ids)
    return Q(failed=True) | Q(Exists(causing))
