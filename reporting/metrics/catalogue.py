"""Every headline figure of the dashboard: its pole, its one-line definition, and the rows it counts.

``FIGURES`` names each figure once for the page, the drill-down and the API. ``figure_rows(scope, key)``
returns the queryset of the rows behind a figure (the denominator of a share), annotated with
``counted`` (the numerator) and, for a duration, ``measure`` (its seconds): the drill-down lists exactly
what the figure adds up, with the same queries (reporting.metrics.queries) the figures aggregate.
"""

import datetime as dt
from dataclasses import dataclass

from django.db.models import BooleanField, Case, Exists, F, FloatField, OuterRef, Q, Value, When
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from improvement.models import OPEN_STAGES, Stage, StageTransition
from incidents.measures.db import Seconds
from incidents.measures.queries import failed_change
from incidents.measures.scope import Scope
from reporting.metrics import queries

POLES = ("reliability", "speed", "flexibility", "health")
SOURCES = ("incidents", "changes", "postmortems", "transitions", "actions")


@dataclass(frozen=True)
class Figure:
    key: str
    pole: str
    label: str
    definition: str
    reading: str  # how its value reads: duration | share | per_week | ratio | count
    source: str  # which rows it counts: one of SOURCES
    series: str | None = None  # its weekly series (reporting.metrics.series.SERIES), if it has one
    key_figure: bool = False  # shown at the top of its pole; the others are folded away
    now: bool = False  # counted as of now (current state), not over the period


def _figure(key, pole, label, definition, reading, source, series=None, *, key_figure=False, now=False):
    return key, Figure(key, pole, label, definition, reading, source, series, key_figure, now)


FIGURES = dict(
    [
        _figure(
            "time_to_mitigate",
            "reliability",
            _("Time to restore"),
            _("From the start of the impact to service restored (mitigated), per incident started in the period."),
            "duration",
            "incidents",
            "time_to_mitigate_p50",
            key_figure=True,
        ),
        _figure(
            "change_failure_rate",
            "reliability",
            _("Change failure rate"),
            _("Deployments marked failed or named as an incident's cause, of all deployments in the period."),
            "share",
            "changes",
            "change_failure_rate",
            key_figure=True,
        ),
        _figure(
            "incidents",
            "reliability",
            _("Incidents"),
            _("Incidents whose impact started in the period."),
            "count",
            "incidents",
            "incidents",
            key_figure=True,
        ),
        _figure(
            "repeat_incident_rate",
            "reliability",
            _("Repeat-incident rate"),
            _("Incidents whose problem already had an incident in the previous days (see the window), of all."),
            "share",
            "incidents",
            "repeat_incident_rate",
        ),
        _figure(
            "time_to_acknowledge",
            "reliability",
            _("Time to acknowledge"),
            _("From detection to a responder acknowledging, per incident started in the period."),
            "duration",
            "incidents",
            "time_to_acknowledge_p50",
        ),
        _figure(
            "time_to_resolve",
            "reliability",
            _("Time to resolve"),
            _("From the start of the impact to the incident resolved, per incident started in the period."),
            "duration",
            "incidents",
            "time_to_resolve_p50",
        ),
        _figure(
            "deployment_frequency",
            "speed",
            _("Deployments per week"),
            _("Changes deployed in the period, divided by its weeks."),
            "per_week",
            "changes",
            "deployments",
            key_figure=True,
        ),
        _figure(
            "lead_time",
            "speed",
            _("Lead time for changes"),
            _("From commit to deployment, per change deployed in the period with a commit time."),
            "duration",
            "changes",
            "lead_time_p50",
            key_figure=True,
        ),
        _figure(
            "time_to_postmortem",
            "speed",
            _("Incident to published postmortem"),
            _("From the start of the incident to its postmortem's publication, per postmortem published."),
            "duration",
            "postmortems",
            "time_to_postmortem_p50",
        ),
        _figure(
            "improvement_cycle_time",
            "speed",
            _("Improvement cycle time (Plan → Act)"),
            _("From an action entering Plan to entering Act, per action that entered Act in the period."),
            "duration",
            "transitions",
            "cycle_time_p50",
        ),
        _figure(
            "emergency_change_rate",
            "flexibility",
            _("Emergency changes"),
            _("Emergency changes, of all deployments in the period: changes made outside the normal path."),
            "share",
            "changes",
            "emergency_change_rate",
            key_figure=True,
        ),
        _figure(
            "standard_change_share",
            "flexibility",
            _("Standard (pre-approved) changes"),
            _("Standard changes, of all deployments in the period: routine work that needs no approval."),
            "share",
            "changes",
            "standard_change_share",
            key_figure=True,
        ),
        _figure(
            "lead_time_spread",
            "flexibility",
            _("Lead-time spread (p90 / median)"),
            _("How much slower the slow changes are than the typical one: lead time p90 over its median."),
            "ratio",
            "changes",
            "lead_time_spread",
        ),
        _figure(
            "improvement_wip",
            "flexibility",
            _("Improvement work in progress at the end of the period"),
            _("Actions opened and not yet done, abandoned or withdrawn on the period's last day."),
            "count",
            "actions",
            "improvement_wip",
        ),
        _figure(
            "improvement_throughput",
            "flexibility",
            _("Improvement throughput per week"),
            _("Actions that reached Done in the period, divided by its weeks."),
            "per_week",
            "transitions",
            "improvement_throughput",
        ),
        _figure(
            "measured_share",
            "health",
            _("Checks measured by the product"),
            _("Actions that entered Check in the period and got a verdict the product computed, of all that did."),
            "share",
            "actions",
            key_figure=True,
        ),
        _figure(
            "effective_share",
            "health",
            _("Verified effective"),
            _("Actions that entered Check in the period and were measured effective (not overridden), of all."),
            "share",
            "actions",
            key_figure=True,
        ),
        _figure(
            "open_actions",
            "health",
            _("Open actions now"),
            _("Actions in Plan, Do, Check or Act today, whenever they were opened."),
            "count",
            "actions",
            now=True,
        ),
        _figure(
            "overdue_actions",
            "health",
            _("Overdue actions now"),
            _("Open actions whose due date has passed."),
            "count",
            "actions",
            now=True,
        ),
    ]
)


def figure_value(figures: dict, key: str) -> dict:
    """The figure's entry in period_figures, normalised: {value, count, of, p90} (absent parts are None)."""
    spec = FIGURES[key]
    found = figures[spec.pole][key]
    if spec.reading == "duration":
        return {"value": found["median"], "p90": found["p90"], "count": found["count"], "of": None}
    if spec.reading == "share":
        return {"value": found["value"], "p90": None, "count": found["count"], "of": found["of"]}
    if spec.reading == "per_week":
        return {"value": found["per_week"], "p90": None, "count": found["count"], "of": None}
    if spec.reading == "ratio":
        return {"value": found["value"], "p90": None, "count": found["count"], "of": None}
    return {"value": found, "p90": None, "count": found, "of": None}


# --- the rows behind each figure ---------------------------------------------------------------


def _flag(condition: Q | None):
    if condition is None:
        return Value(True, output_field=BooleanField())
    return Case(When(condition, then=Value(True)), default=Value(False), output_field=BooleanField())


def _ended_before(end: dt.datetime, stages) -> Exists:
    return Exists(StageTransition.objects.filter(action_id=OuterRef("pk"), to_stage__in=stages, at__lt=end))


def _rows(scope: Scope, key: str, now: dt.datetime):
    """(queryset of the rows counted, numerator condition or None, duration expression or None)."""
    today = timezone.localtime(now, scope.tz).date()
    durations = {name: (later, earlier) for name, later, earlier in queries.INCIDENT_DURATIONS}
    if key in durations:
        later, earlier = durations[key]
        return (
            queries.incidents(scope).filter(**{f"{later}__isnull": False}),
            None,
            Seconds(F(later), F(earlier)),
        )
    if key == "incidents":
        return queries.incidents(scope), None, None
    if key == "repeat_incident_rate":
        return queries.incidents(scope), queries.repeat_conditions()["repeat_problem"], None
    if key == "change_failure_rate":
        return queries.changes(scope), failed_change(scope.team_ids), None
    if key == "deployment_frequency":
        return queries.changes(scope), None, None
    if key == "emergency_change_rate":
        return queries.changes(scope), Q(kind="emergency"), None
    if key == "standard_change_share":
        return queries.changes(scope), Q(kind="standard"), None
    if key in ("lead_time", "lead_time_spread"):
        return (
            queries.changes(scope).filter(committed_at__isnull=False),
            None,
            Seconds(F("deployed_at"), F("committed_at")),
        )
    if key == "time_to_postmortem":
        return queries.postmortems(scope), None, Seconds(F("published_at"), F("incident__started_at"))
    if key == "improvement_cycle_time":
        return (
            queries.transitions(scope).filter(to_stage=Stage.ACT),
            None,
            Seconds(F("at"), queries.first_transition_at()),
        )
    if key == "improvement_throughput":
        return queries.transitions(scope).filter(to_stage=Stage.DONE), None, None
    if key == "improvement_wip":
        opened = Exists(StageTransition.objects.filter(action_id=OuterRef("pk"), from_stage="", at__lt=scope.end))
        return queries.actions(scope).filter(opened).exclude(_ended_before(scope.end, queries.FINISHED)), None, None
    if key in ("measured_share", "effective_share"):
        entered_check = Exists(
            StageTransition.objects.filter(
                action_id=OuterRef("pk"), to_stage=Stage.CHECK, at__gte=scope.start, at__lt=scope.end
            )
        )
        counted = Q(check_result__evidence="computed")
        if key == "measured_share":
            counted &= Q(check_result__computed_verdict__gt="")
        else:
            counted &= Q(check_result__verdict="effective", check_result__overridden=False)
        return queries.actions(scope).filter(entered_check), counted, None
    if key == "open_actions":
        return queries.actions(scope).filter(stage__in=OPEN_STAGES), None, None
    if key == "overdue_actions":
        return queries.actions(scope).filter(stage__in=OPEN_STAGES, due_date__lt=today), None, None
    raise KeyError(key)


ROW_FIELDS = {
    "incidents": {
        "object_id": F("id"),
        "title_text": F("title"),
        "service_name": F("service__name"),
        "when": F("started_at"),
        "kind_text": F("severity"),
    },
    "changes": {
        "object_id": F("id"),
        "title_text": F("title"),
        "service_name": F("service__name"),
        "when": F("deployed_at"),
        "kind_text": F("kind"),
    },
    "postmortems": {
        "object_id": F("id"),
        "title_text": F("incident__title"),
        "service_name": F("incident__service__name"),
        "when": F("published_at"),
        "kind_text": F("status"),
    },
    "transitions": {
        "object_id": F("action_id"),
        "title_text": F("action__title"),
        "service_name": F("action__target_service__name"),
        "when": F("at"),
        "kind_text": F("to_stage"),
    },
    "actions": {
        "object_id": F("id"),
        "title_text": F("title"),
        "service_name": F("target_service__name"),
        "when": F("due_date"),
        "kind_text": F("stage"),
    },
}


def figure_rows(scope: Scope, key: str, *, now: dt.datetime | None = None):
    """The rows a figure counts, as dicts: object_id, title_text, service_name, when, kind_text, counted, measure.

    For a share the rows are its denominator and ``counted`` marks its numerator; for a duration
    ``measure`` is each row's seconds. One query, however many rows.
    """
    now = now or timezone.now()
    rows, counted, measure = _rows(scope, key, now)
    fields = ROW_FIELDS[FIGURES[key].source]
    return (
        rows.annotate(**fields, counted=_flag(counted), measure=_measure(measure))
        .values(*fields.keys(), "counted", "measure")
        .order_by("-counted", F("when").desc(nulls_last=True), "-object_id")
    )


def _measure(expression):
    return expression if expression is not None else Value(None, output_field=FloatField())
