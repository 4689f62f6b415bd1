"""The querysets and aggregate expressions behind every metric.

Incidents, changes and postmortems are measured by incidents.measures.queries (re-exported here,
so the figures and series read every source from one module); stage transitions and actions here.
Each source has one queryset restricted to a Scope and one dict of aggregates. The weekly series
group that dict by TruncWeek in the scope's time zone; the period figures aggregate it once.
Either way it is one SQL query per source.
"""

import datetime as dt

from django.db.models import Count, DateTimeField, F, OuterRef, Q, Subquery, Value

from improvement.models import Action, Stage, StageTransition
from incidents.measures.db import Seconds
from incidents.measures.queries import (  # noqa: F401 - re-exported for the figures and series
    INCIDENT_DURATIONS,
    change_aggregates,
    changes,
    incident_aggregates,
    incidents,
    percentiles,
    postmortem_aggregates,
    postmortems,
    repeat_conditions,
    repeat_factor_count,
    repeat_factor_counts,
    repeat_window_days,
    week_of,
)
from incidents.measures.scope import Scope

# Withdrawn cycles (a false recurrence undone) leave the work in progress but are no decision.
FINISHED = (Stage.DONE, Stage.ABANDONED, Stage.WITHDRAWN)


# --- incidents ---------------------------------------------------------------------------------


# --- changes -----------------------------------------------------------------------------------


# --- postmortems -------------------------------------------------------------------------------


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
        **percentiles("cycle_time", Seconds(F("at"), first_transition_at()), "id", only=into_act),
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
    # Uncorrelated (a transition's team is its action's): PostgreSQL reads the period's entries into
    # Check once, through the (team, to_stage, at) index, and hashes them, where the correlated
    # EXISTS it replaced probed every action's transitions once per figure (five times).
    entered_check = Q(
        pk__in=StageTransition.objects.filter(
            to_stage=Stage.CHECK, at__gte=scope.start, at__lt=scope.end, team_id__in=scope.team_ids
        ).values("action_id")
    )
    is_open = Q(stage__in=[Stage.PLAN, Stage.DO, Stage.CHECK, Stage.ACT])
    first_at = Subquery(StageTransition.objects.filter(action_id=OuterRef("pk")).order_by("at", "id").values("at")[:1])
    age = Seconds(Value(now, output_field=DateTimeField()), first_at)
    return {
        "reached_check": Count("id", filter=entered_check),
        # Measured: the product measured the Check and computed its verdict (typed values do not count).
        "measured": Count(
            "id", filter=entered_check & Q(check_result__evidence="computed", check_result__computed_verdict__gt="")
        ),
        # Verified: measured by the product and not overridden; overrides and self-reports are their own figures.
        "verified_effective": Count(
            "id",
            filter=entered_check
            & Q(check_result__verdict="effective", check_result__evidence="computed", check_result__overridden=False),
        ),
        "overridden": Count("id", filter=entered_check & Q(check_result__overridden=True)),
        "self_reported": Count("id", filter=entered_check & Q(check_result__evidence="self_reported")),
        "open_actions": Count("id", filter=is_open),
        "overdue_actions": Count("id", filter=is_open & Q(due_date__lt=today)),
        **percentiles("open_action_age", age, "id", only=is_open),
    }
