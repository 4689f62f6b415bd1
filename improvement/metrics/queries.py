"""The querysets and aggregate expressions behind every metric.

Each source (incidents, changes, postmortems, stage transitions, actions) has one
queryset restricted to a Scope and one dict of aggregates. The weekly series
group that dict by TruncWeek in the scope's time zone; the period figures
aggregate it once. Either way it is one SQL query per source.
"""

import datetime as dt

from django.db.models import Count, DateTimeField, Exists, F, OuterRef, Q, Subquery, Value
from django.db.models.functions import TruncWeek

from improvement.metrics.db import Percentile, Seconds
from improvement.metrics.scope import Scope
from improvement.models import Action, Stage, StageTransition
from incidents.models import Change, ContributingFactor, Incident, Postmortem, Severity

# Incident durations: (name, later timestamp, earlier timestamp).
# Time to mitigate is DORA's "time to restore service": from the start of the impact.
INCIDENT_DURATIONS = (
    ("time_to_detect", "detected_at", "started_at"),
    ("time_to_acknowledge", "acknowledged_at", "detected_at"),
    ("time_to_mitigate", "mitigated_at", "started_at"),
    ("time_to_resolve", "resolved_at", "started_at"),
)
# An incident repeats when its problem, service or a contributing-factor category already had an
# incident in the previous REPEAT_WINDOW_DAYS days.
REPEAT_WINDOW_DAYS = 30
FINISHED = (Stage.DONE, Stage.ABANDONED)


def _percentiles(prefix: str, expression, count_of: str, *, only: Q | None = None) -> dict:
    """Median, p90 and the count behind them (rows where `count_of` is set, within `only`)."""
    return {
        f"{prefix}_p50": Percentile(expression, 0.5, filter=only),
        f"{prefix}_p90": Percentile(expression, 0.9, filter=only),
        f"{prefix}_n": Count(count_of, filter=only),
    }


# --- incidents ---------------------------------------------------------------------------------


def incidents(scope: Scope):
    return Incident.objects.filter(started_at__gte=scope.start, started_at__lt=scope.end, **scope.filters())


def _earlier_within(field: str = "started_at") -> dict:
    window = dt.timedelta(days=REPEAT_WINDOW_DAYS)
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
        "repeat_any": Q(by_problem) | Q(by_service) | Q(by_factor),
    }


def incident_aggregates(*, repeat_breakdown: bool = True) -> dict:
    """Counts by severity, duration percentiles, and repeats (with the breakdown by kind when asked).

    The weekly series only need `repeat_any`: its OR stops at the first cheap EXISTS that
    holds, whereas the breakdown evaluates all three (the factor one is the costly one).
    """
    found = {
        "incidents": Count("id"),
        **{f"incidents_{sev.lower()}": Count("id", filter=Q(severity=sev)) for sev in Severity.values},
        "unresolved": Count("id", filter=Q(resolved_at__isnull=True)),
    }
    for name, later, earlier in INCIDENT_DURATIONS:
        found.update(_percentiles(name, Seconds(F(later), F(earlier)), later))
    conditions = repeat_conditions()
    if not repeat_breakdown:
        conditions = {"repeat_any": conditions["repeat_any"]}
    found.update({name: Count("id", filter=condition) for name, condition in conditions.items()})
    return found


# --- changes -----------------------------------------------------------------------------------


def changes(scope: Scope):
    return Change.objects.filter(deployed_at__gte=scope.start, deployed_at__lt=scope.end, **scope.filters())


def change_aggregates() -> dict:
    # A deployment failed when it was marked failed or an incident names it as its cause.
    caused = Exists(Incident.objects.filter(caused_by_change_id=OuterRef("pk")))
    return {
        "deployments": Count("id"),
        "failed_deployments": Count("id", filter=Q(failed=True) | Q(caused)),
        "standard_changes": Count("id", filter=Q(kind=Change.Kind.STANDARD)),
        "emergency_changes": Count("id", filter=Q(kind=Change.Kind.EMERGENCY)),
        **_percentiles("lead_time", Seconds(F("deployed_at"), F("committed_at")), "committed_at"),
    }


# --- postmortems -------------------------------------------------------------------------------


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
        **_percentiles("time_to_postmortem", Seconds(F("published_at"), F("incident__started_at")), "id"),
    }


# --- improvement flow (stage transitions only) ---------------------------------------------------


def transitions(scope: Scope, *, before_start: bool = False):
    found = StageTransition.objects.filter(**scope.filters(service_field="action__target_service"))
    if before_start:
        return found.filter(at__lt=scope.start)
    return found.filter(at__gte=scope.start, at__lt=scope.end)


def first_transition_at():
    """When the action entered the flow (its first StageTransition, into Plan)."""
    return Subquery(
        StageTransition.objects.filter(action_id=OuterRef("action_id")).order_by("at", "id").values("at")[:1]
    )


def transition_aggregates() -> dict:
    into_act = Q(to_stage=Stage.ACT)
    return {
        "actions_opened": Count("id", filter=Q(from_stage="")),
        "actions_finished": Count("id", filter=Q(to_stage__in=FINISHED)),
        "actions_done": Count("id", filter=Q(to_stage=Stage.DONE)),
        # Improvement cycle time: from entering Plan to entering Act, counted when Act is entered.
        **_percentiles("cycle_time", Seconds(F("at"), first_transition_at()), "id", only=into_act),
    }


def wip_before_aggregates() -> dict:
    return {
        "opened": Count("id", filter=Q(from_stage="")),
        "finished": Count("id", filter=Q(to_stage__in=FINISHED)),
    }


# --- actions (current state, improvement health) ------------------------------------------------


def actions(scope: Scope):
    return Action.objects.filter(**scope.filters(service_field="target_service"))


def action_aggregates(scope: Scope, *, now: dt.datetime, today: dt.date) -> dict:
    entered_check = Exists(
        StageTransition.objects.filter(
            action_id=OuterRef("pk"), to_stage=Stage.CHECK, at__gte=scope.start, at__lt=scope.end
        )
    )
    is_open = Q(stage__in=[Stage.PLAN, Stage.DO, Stage.CHECK, Stage.ACT])
    first_at = Subquery(StageTransition.objects.filter(action_id=OuterRef("pk")).order_by("at", "id").values("at")[:1])
    age = Seconds(Value(now, output_field=DateTimeField()), first_at)
    return {
        "reached_check": Count("id", filter=Q(entered_check)),
        # Measured: baseline and observed values recorded (computed or by hand) and a verdict given or computed.
        "measured": Count(
            "id",
            filter=Q(entered_check)
            & Q(check_result__baseline_value__isnull=False, check_result__observed_value__isnull=False)
            & (Q(check_result__verdict__gt="") | Q(check_result__computed_verdict__gt="")),
        ),
        "verified_effective": Count("id", filter=Q(entered_check) & Q(check_result__verdict="effective")),
        "open_actions": Count("id", only=is_open),
        "overdue_actions": Count("id", filter=is_open & Q(due_date__lt=today)),
        **_percentiles("open_action_age", age, "id", only=is_open),
    }


def week_of(field: str, scope: Scope) -> TruncWeek:
    return TruncWeek(field, tzinfo=scope.tz)
