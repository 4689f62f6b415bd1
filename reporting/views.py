"""The team dashboard: the three poles side by side, each figure defined and drilled down to its rows."""

import datetime as dt

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import formats, timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from core.forms import add_service_errors
from core.replica import replica_reads
from core.templatetags.opskaizen import duration, percent
from incidents.models import Incident, Postmortem
from reporting import charts, dashboards, metrics, services
from reporting.forms import DashboardFilterForm, TargetForm
from reporting.metrics.catalogue import FIGURES, figure_rows, figure_value
from reporting.models import Target
from teams.decorators import team_view
from teams.models import Membership

POLES = {
    "reliability": gettext_lazy("Reliability"),
    "speed": gettext_lazy("Speed"),
    "flexibility": gettext_lazy("Flexibility"),
    "health": gettext_lazy("Improvement health"),
}


def _filtered(request, team, now):
    """The filter form and the scope it asks for (the default period when the form is empty or wrong)."""
    form = DashboardFilterForm(request.GET or None, team=team, now=now)
    if form.is_bound and form.is_valid():
        return form, form.scope
    return form, metrics.build_scope(teams=team, now=now)


@require_GET
@team_view()
@replica_reads
def dashboard(request, team):
    """Reliability, speed and flexibility side by side: signals first, routine figures folded away."""
    now = timezone.now()
    form, scope = _filtered(request, team, now)
    filtered = form.is_bound and form.is_valid()
    # The default view is computed ahead by beat (at most one tick old); a filtered one, live.
    board = metrics.dashboard(scope, now=now) if filtered else dashboards.default_board(team, now)
    query = form.query() if filtered else ""
    incidents = Incident.objects.filter(team=team, status=Incident.Status.OPEN)
    postmortems = Postmortem.objects.filter(team=team).exclude(status=Postmortem.Status.PUBLISHED)
    if scope.service_id is not None:
        incidents = incidents.filter(service_id=scope.service_id)
        postmortems = postmortems.filter(incident__service_id=scope.service_id)
    poles = pole_cards(board, team=team, query=query)
    context = {
        "team": team,
        "form": form,
        "open_incidents": incidents.count(),
        "waiting_postmortems": postmortems.count(),
        "incidents_query": f"status=open&service={scope.service_id}" if scope.service_id else "status=open",
        "period": board["figures"]["range"],
        "is_default_period": not (
            form.is_bound and form.is_valid() and (form.data.get("start") or form.data.get("end"))
        ),
        "poles": [pole for pole in poles if pole["key"] != "health"],
        "health": next(pole for pole in poles if pole["key"] == "health"),
        "tensions": tension_panels(board),
        "targets": target_rows(metrics.target_status(board, Target.objects.filter(team=team))),
        "signal_count": sum(1 for pole in poles for card in pole["cards"] if card["signals"]),
    }
    return render(request, "reporting/dashboard.html", context)


def format_value(reading: str, value) -> str:
    if value is None:
        return "—"
    if reading == "duration":
        return duration(value)
    if reading == "share":
        return percent(value)
    if reading == "per_week":
        return formats.number_format(round(value, 1))
    if reading == "ratio":
        return f"× {formats.number_format(round(value, 1))}"
    return formats.number_format(value)


def _count_text(spec, figure: dict) -> str:
    if spec.reading == "share":
        return _("%(count)s of %(of)s") % {"count": figure["count"], "of": figure["of"]}
    if spec.reading == "duration":
        return _("p90 %(p90)s · %(n)s measured") % {"p90": duration(figure["p90"]), "n": figure["count"]}
    if spec.reading == "per_week":
        return _("%(count)s in the period") % {"count": figure["count"]}
    if spec.reading == "ratio":
        return _("%(n)s changes measured") % {"n": figure["count"]}
    return ""


def signal_text(signal: dict) -> str:
    if signal["rule"] == "beyond_limit":
        if signal["direction"] == "above":
            return _("above the upper control limit")
        return _("below the lower control limit")
    if signal["direction"] == "above":
        return _("8 weeks in a row above the centre line")
    return _("8 weeks in a row below the centre line")


def pole_cards(board: dict, *, team, query: str) -> list[dict]:
    """One card per figure of the catalogue, grouped by pole: signals first, then key figures, then the rest."""
    poles = {key: {"key": key, "label": label, "cards": []} for key, label in POLES.items()}
    for key, spec in FIGURES.items():
        figure = figure_value(board["figures"], key)
        series = board["series"].get(spec.series) or {} if spec.series else {}
        url = reverse("reporting:figure_rows", args=[team.slug, key])
        poles[spec.pole]["cards"].append(
            {
                "key": key,
                "label": spec.label,
                "definition": spec.definition,
                "value": format_value(spec.reading, figure["value"]),
                "count_text": _count_text(spec, figure),
                "url": f"{url}?{query}" if query else url,
                "values": series.get("values", []),
                "limits": series.get("limits"),
                "has_series": bool(series),
                "signals": [signal_text(s) for s in series.get("signals", [])],
                "key_figure": spec.key_figure,
            }
        )
    for pole in poles.values():
        pole["cards"].sort(key=lambda card: (not card["signals"], not card["key_figure"]))
        pole["shown"] = [card for card in pole["cards"] if card["signals"] or card["key_figure"]]
        pole["folded"] = [card for card in pole["cards"] if not (card["signals"] or card["key_figure"])]
    return list(poles.values())


# (key, title, what it sets against what, weekly series on one time axis)
TENSIONS = [
    (
        "speed-reliability",
        gettext_lazy("Speed against reliability"),
        gettext_lazy("Do more deployments come with more failed changes or slower restores?"),
        ["deployments", "change_failure_rate", "time_to_mitigate_p50"],
    ),
    (
        "flexibility-speed",
        gettext_lazy("Flexibility against speed"),
        gettext_lazy("Do more emergency changes come with longer lead times?"),
        ["emergency_change_rate", "lead_time_p50"],
    ),
]


def tension_panels(board: dict) -> list[dict]:
    """The poles set against each other: charts on one time axis, a data table, and a reading of real signals."""
    panels = []
    for key, title, question, series_keys in TENSIONS:
        series_list = [board["series"][name] for name in series_keys]
        panels.append(
            {
                "key": key,
                "title": title,
                "question": question,
                "charts": [
                    {
                        "label": s["label"],
                        "svg": charts.line_chart(s, board["weeks"], chart_id=f"chart-{key}-{s['key']}"),
                    }
                    for s in series_list
                ],
                "table": charts.data_table(series_list, board["weeks"]),
                "reading": reading(series_list, board["weeks"]),
            }
        )
    return panels


def reading(series_list: list[dict], weeks: list) -> str:
    """One sentence on the control limits' real signals in the last week; nothing when there is none."""
    flagged = [s for s in series_list if s["signals"]]
    if not flagged or not weeks:
        return ""
    said = "; ".join(
        _("%(label)s %(signal)s") % {"label": s["label"], "signal": signal_text(s["signals"][0])} for s in flagged
    )
    calm = [s["label"] for s in series_list if not s["signals"] and s["limits"]]
    week = charts.week_label(weeks[-1])
    if not calm:
        return _("In the week of %(week)s: %(signals)s.") % {"week": week, "signals": said}
    return ngettext(
        "In the week of %(week)s: %(signals)s, while %(calm)s stayed within its control limits.",
        "In the week of %(week)s: %(signals)s, while %(calm)s stayed within their control limits.",
        len(calm),
    ) % {"week": week, "signals": said, "calm": ", ".join(calm)}


@require_GET
@team_view()
@replica_reads
def figure_rows_page(request, team, figure):
    """The rows behind one figure, under the dashboard's filter: they add up to the figure."""
    spec = FIGURES.get(figure)
    if spec is None:
        raise Http404
    now = timezone.now()
    form, scope = _filtered(request, team, now)
    value = figure_value(metrics.period_figures(scope, now=now), figure)
    rows = list(figure_rows(scope, figure, now=now))
    for row in rows:
        row["url"] = _row_url(spec.source, team, row)
        row["measure_text"] = duration(row["measure"]) if row["measure"] is not None else ""
        row["when_text"] = _when(row["when"])
    query = form.query() if form.is_bound and form.is_valid() else ""
    back = reverse("reporting:dashboard", args=[team.slug])
    context = {
        "team": team,
        "form": form,
        "figure": spec,
        "value": format_value(spec.reading, value["value"]),
        "count_text": _count_text(spec, value),
        "rows": rows,
        "counted": sum(1 for row in rows if row["counted"]),
        "is_share": spec.reading == "share",
        "has_measure": spec.reading == "duration",
        "period": {"from": scope.first_day, "to": scope.last_day, "timezone": scope.tz.key},
        "back": f"{back}?{query}" if query else back,
    }
    return render(request, "reporting/figure_rows.html", context)


def _when(value) -> str:
    if value is None:
        return "—"
    if isinstance(value, dt.datetime):
        return formats.date_format(timezone.localtime(value), "Y-m-d H:i")
    return formats.date_format(value, "Y-m-d")


def _row_url(source: str, team, row: dict) -> str:
    if source == "incidents":
        return reverse("incidents:detail", args=[team.slug, row["object_id"]])
    if source == "postmortems":
        return reverse("incidents:postmortem", args=[team.slug, row["object_id"]])
    if source in ("actions", "transitions"):
        return reverse("improvement:action_detail", args=[team.slug, row["object_id"]])
    return ""


# --- targets -------------------------------------------------------------------------------------


def target_rows(statuses: list[dict]) -> list[dict]:
    """Targets for the page: the target, the last week, the distance and the trend in words."""
    rows = []
    for status in statuses:
        target, series = status["target"], status["series"]
        distance = status["distance"]
        rows.append(
            {
                "target": target,
                "label": series["label"],
                "bound": target.get_bound_display(),
                "value": charts.format_series_value(series, target.value),
                "last": charts.format_series_value(series, status["last"]),
                "distance": "—"
                if distance is None
                else ("+" if distance > 0 else "−" if distance < 0 else "")
                + charts.format_series_value(series, abs(distance)),
                "trend": _("%(missed)s of the last %(read)s weeks missed it")
                % {"missed": status["weeks_missed"], "read": status["weeks_read"]},
                "signal": status["signal"],
            }
        )
    return rows


@require_http_methods(["GET", "POST"])
@team_view()
def targets(request, team):
    """The team's targets: every member reads them, a lead sets or replaces one."""
    now = timezone.now()
    can_set = Membership.RANK[request.team_role] >= Membership.RANK[Membership.Role.LEAD]
    form = TargetForm(request.POST or None)
    if request.method == "POST":
        if not can_set:
            raise PermissionDenied
        if form.is_valid():
            try:
                services.set_target(
                    team=team,
                    metric=form.cleaned_data["metric"],
                    bound=form.cleaned_data["bound"],
                    value=form.stored_value(),
                    user=request.user,
                )
            except ValidationError as exc:
                add_service_errors(form, exc)
            else:
                messages.success(request, _("Target saved."))
                return redirect("reporting:targets", team.slug)
    weekly = metrics.weekly_series(metrics.build_scope(teams=team, now=now))
    rows = target_rows(metrics.target_status(weekly, Target.objects.filter(team=team)))
    status = 400 if form.is_bound and form.errors else 200
    return render(
        request, "reporting/targets.html", {"team": team, "form": form, "rows": rows, "can_set": can_set}, status=status
    )


@require_POST
@team_view(Membership.Role.LEAD)
def target_delete(request, team, pk):
    services.delete_target(target=get_object_or_404(Target, team=team, pk=pk))
    messages.success(request, _("Target removed."))
    return redirect("reporting:targets", team.slug)
