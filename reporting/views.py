"""The team dashboard: the figures of flexibility, speed and reliability, with their control charts."""

from django.db.models import Count, Q
from django.shortcuts import render
from django.utils import formats, timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET

from core.replica import replica_reads
from improvement.models import OPEN_STAGES, Action, Stage
from incidents.models import Incident, Postmortem
from reporting import metrics
from teams.decorators import team_view


@require_GET
@team_view()
@replica_reads
def dashboard(request, team):
    """The team at a glance: open work, then the flexibility / speed / reliability figures with weekly sparklines."""
    today = timezone.localdate()
    action_counts = Action.objects.filter(team=team).aggregate(
        open=Count("id", filter=Q(stage__in=OPEN_STAGES)),
        overdue=Count("id", filter=Q(stage__in=OPEN_STAGES, due_date__lt=today)),
        **{stage: Count("id", filter=Q(stage=stage)) for stage in OPEN_STAGES},
    )
    incident_counts = Incident.objects.filter(team=team).aggregate(
        open=Count("id", filter=Q(status=Incident.Status.OPEN)),
    )
    waiting_postmortems = Postmortem.objects.filter(team=team).exclude(status=Postmortem.Status.PUBLISHED).count()
    board = metrics.team_dashboard(team)
    poles = metric_cards(board)
    context = {
        "team": team,
        "action_counts": action_counts,
        "incident_counts": incident_counts,
        "waiting_postmortems": waiting_postmortems,
        "stages": [{"stage": s, "label": Stage(s).label, "count": action_counts[s]} for s in OPEN_STAGES],
        "period": board["figures"]["range"],
        "health": board["figures"]["health"],
        "poles": poles,
        "signal_count": sum(1 for pole in poles for card in pole["cards"] if card["signals"]),
    }
    return render(request, "reporting/dashboard.html", context)


# --- dashboard figures (reporting.metrics) ---------------------------------------------------
# (pole, label, figure key in its pole, weekly series key, how to read the figure)
DASHBOARD_CARDS = [
    ("reliability", gettext_lazy("Incidents"), "incidents", "incidents", "count"),
    ("reliability", gettext_lazy("Time to acknowledge"), "time_to_acknowledge", "time_to_acknowledge_p50", "duration"),
    ("reliability", gettext_lazy("Time to restore (mitigate)"), "time_to_mitigate", "time_to_mitigate_p50", "duration"),
    ("reliability", gettext_lazy("Time to resolve"), "time_to_resolve", "time_to_resolve_p50", "duration"),
    ("reliability", gettext_lazy("Change failure rate"), "change_failure_rate", "change_failure_rate", "share"),
    ("reliability", gettext_lazy("Repeat-incident rate"), "repeat_incident_rate", "repeat_incident_rate", "share"),
    ("speed", gettext_lazy("Deployments per week"), "deployment_frequency", "deployments", "per_week"),
    ("speed", gettext_lazy("Lead time for changes"), "lead_time", "lead_time_p50", "duration"),
    (
        "speed",
        gettext_lazy("Incident to published postmortem"),
        "time_to_postmortem",
        "time_to_postmortem_p50",
        "duration",
    ),
    (
        "speed",
        gettext_lazy("Improvement cycle time (Plan → Act)"),
        "improvement_cycle_time",
        "cycle_time_p50",
        "duration",
    ),
    (
        "flexibility",
        gettext_lazy("Standard (pre-approved) changes"),
        "standard_change_share",
        "standard_change_share",
        "share",
    ),
    ("flexibility", gettext_lazy("Emergency changes"), "emergency_change_rate", "emergency_change_rate", "share"),
    ("flexibility", gettext_lazy("Lead-time spread (p90 / median)"), "lead_time_spread", "lead_time_spread", "ratio"),
    ("flexibility", gettext_lazy("Improvement work in progress"), "improvement_wip", "improvement_wip", "int"),
    (
        "flexibility",
        gettext_lazy("Improvement throughput per week"),
        "improvement_throughput",
        "improvement_throughput",
        "per_week",
    ),
]


POLES = {
    "reliability": gettext_lazy("Reliability"),
    "speed": gettext_lazy("Speed"),
    "flexibility": gettext_lazy("Flexibility"),
}


def _signal_text(signal: dict) -> str:
    if signal["rule"] == "beyond_limit":
        text = (
            _("above the upper control limit") if signal["direction"] == "above" else _("below the lower control limit")
        )
    else:
        text = (
            _("8 weeks in a row above the centre line")
            if signal["direction"] == "above"
            else _("8 weeks in a row below the centre line")
        )
    return text


def metric_cards(board: dict) -> list[dict]:
    """The dashboard's figures, one card per metric, each with its weekly series and signals."""
    from core.templatetags.opskaizen import duration, percent

    poles = []
    for pole, pole_label in POLES.items():
        cards = []
        for card_pole, label, figure_key, series_key, reading in DASHBOARD_CARDS:
            if card_pole != pole:
                continue
            figure = board["figures"][pole].get(figure_key)
            series = board["series"].get(series_key) or {}
            if reading == "duration":
                value = duration(figure["median"])
                detail = _("median · p90 %(p90)s · %(n)s measured") % {
                    "p90": duration(figure["p90"]),
                    "n": figure["count"],
                }
            elif reading == "share":
                value = percent(figure["value"])
                detail = _("%(count)s of %(of)s") % {"count": figure["count"], "of": figure["of"]}
            elif reading == "per_week":
                value = formats.number_format(round(figure["per_week"], 1))
                detail = _("%(count)s in the period") % {"count": figure["count"]}
            elif reading == "ratio":
                value = "—" if figure["value"] is None else f"× {formats.number_format(round(figure['value'], 1))}"
                detail = _("%(n)s changes measured") % {"n": figure["count"]}
            elif reading == "count":
                value = str(figure)
                detail = ""
            else:
                value = str(figure)
                detail = ""
            signals = [_signal_text(s) for s in series.get("signals", [])]
            cards.append(
                {
                    "label": label,
                    "value": value,
                    "detail": detail,
                    "values": series.get("values", []),
                    "limits": series.get("limits"),
                    "signals": signals,
                    "last": series.get("values", [None])[-1] if series.get("values") else None,
                }
            )
        poles.append({"key": pole, "label": pole_label, "cards": cards})
    return poles
