"""REST API for the metrics: /api/v1/metrics/…, JSON or CSV (?format=csv or Accept: text/csv).

Every view reads reporting.metrics with a Scope built from the same filters
(team, service, from, to) and restricted to the teams the caller may see
(teams_for_request): another team's id is a 404, bad input a 400 naming the field.
"""

import csv
import io

from django.core.exceptions import ValidationError as DjangoValidationError
from django.shortcuts import get_object_or_404
from django.utils.translation import gettext_lazy as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view, inline_serializer
from rest_framework import serializers, status
from rest_framework.permissions import IsAuthenticated
from rest_framework.renderers import BaseRenderer, BrowsableAPIRenderer, JSONRenderer
from rest_framework.response import Response
from rest_framework.views import APIView

from core.replica import ReplicaReadsMixin
from reporting import metrics, services
from reporting.metrics.catalogue import FIGURES, figure_rows, figure_value
from reporting.models import Target
from teams.api.base import IDEMPOTENCY_HEADER, ModelSerializer, ServiceBackedViewSet, TeamField
from teams.models import Membership, Service
from teams.selectors import teams_for_request


class CSVRenderer(BaseRenderer):
    """Renders {"columns": [...], "rows": [[...]]} as CSV; an error body as field,message lines."""

    media_type = "text/csv"
    format = "csv"
    charset = "utf-8"

    def render(self, data, accepted_media_type=None, renderer_context=None):
        out = io.StringIO()
        writer = csv.writer(out)
        if isinstance(data, dict) and "columns" in data and "rows" in data:
            writer.writerow(data["columns"])
            writer.writerows(["" if cell is None else cell for cell in row] for row in data["rows"])
        elif isinstance(data, dict):
            writer.writerow(["field", "message"])
            for field, messages in data.items():
                for message in messages if isinstance(messages, list) else [messages]:
                    writer.writerow([field, str(message)])
        return out.getvalue().encode(self.charset)


class MetricsQuerySerializer(serializers.Serializer):
    team = serializers.CharField(required=False, max_length=60, help_text=_("Team id or slug."))
    service = serializers.IntegerField(required=False, min_value=1)
    to = serializers.DateField(required=False)

    def get_fields(self):
        fields = super().get_fields()
        fields["from"] = serializers.DateField(required=False)  # a Python keyword, so declared here
        return fields


SIGNAL_SCHEMA = inline_serializer(
    "MetricSignal",
    {
        "metric": serializers.CharField(help_text="Series key, e.g. incidents."),
        "label": serializers.CharField(),
        "week": serializers.DateField(help_text="Monday of the week (team's time zone)."),
        "value": serializers.FloatField(),
        "limit": serializers.FloatField(help_text="The limit crossed, or the centre line for a run."),
        "which": serializers.ChoiceField(choices=["upper", "lower", "centre"]),
        "rule": serializers.ChoiceField(choices=["beyond_limit", "run_of_8"]),
        "direction": serializers.ChoiceField(choices=["above", "below"]),
    },
)
SERIES_SCHEMA = inline_serializer(
    "MetricSeries",
    {
        "key": serializers.CharField(),
        "pole": serializers.ChoiceField(choices=["reliability", "speed", "flexibility"]),
        "label": serializers.CharField(),
        "unit": serializers.ChoiceField(choices=["count", "seconds", "ratio"]),
        "values": serializers.ListField(child=serializers.FloatField(allow_null=True)),
        "counts": serializers.ListField(
            child=serializers.IntegerField(allow_null=True), help_text="How many values are behind each point."
        ),
        "limits": inline_serializer(
            "XmRLimits",
            {
                "centre": serializers.FloatField(),
                "upper": serializers.FloatField(),
                "lower": serializers.FloatField(allow_null=True),
                "moving_range": serializers.FloatField(),
                "points": serializers.IntegerField(),
            },
            allow_null=True,
        ),
        "signals": SIGNAL_SCHEMA.__class__(many=True),
    },
)
WEEKLY_SCHEMA = inline_serializer(
    "MetricWeekly",
    {
        "timezone": serializers.CharField(),
        "weeks": serializers.ListField(child=serializers.DateField()),
        "series": serializers.DictField(child=SERIES_SCHEMA.__class__()),
    },
)
SIGNALS_SCHEMA = inline_serializer("MetricSignals", {"signals": SIGNAL_SCHEMA.__class__(many=True)})

FILTER_PARAMETERS = [
    OpenApiParameter("team", str, description="Team id or slug (default: every team the caller may see)."),
    OpenApiParameter("service", int, description="Service id: only this service's incidents, changes and actions."),
    OpenApiParameter("from", OpenApiTypes.DATE, description="First day (team's time zone), widened to its Monday."),
    OpenApiParameter("to", OpenApiTypes.DATE, description="Last day, widened to its Sunday. Default: last Sunday."),
    OpenApiParameter("format", str, enum=["json", "csv"], description="csv for a CSV table (or Accept: text/csv)."),
]


def scope_from_request(request) -> metrics.Scope:
    """The Scope asked for by the query string, restricted to what the caller may see."""
    query = MetricsQuerySerializer(data=request.query_params)
    query.is_valid(raise_exception=True)
    params = query.validated_data
    visible = teams_for_request(request)
    teams = visible
    if params.get("team"):
        key = params["team"]
        lookup = {"pk": int(key)} if key.isascii() and key.isdigit() else {"slug": key}  # "¹".isdigit()
        teams = [get_object_or_404(visible, **lookup)]
    service = None
    if params.get("service"):
        allowed = Service.objects.filter(team__in=teams if isinstance(teams, list) else visible)
        # Another team's service reads as unknown: a field error that does not tell it exists.
        service = allowed.select_related("team").filter(pk=params["service"]).first()
        if service is None:
            raise serializers.ValidationError({"service": [_("Unknown service.")]})
    try:
        return metrics.build_scope(teams=teams, service=service, start=params.get("from"), end=params.get("to"))
    except DjangoValidationError as exc:
        raise serializers.ValidationError(exc.message_dict) from exc


class MetricsView(ReplicaReadsMixin, APIView):
    permission_classes = [IsAuthenticated]
    renderer_classes = [JSONRenderer, BrowsableAPIRenderer, CSVRenderer]
    filename = "metrics"

    def respond(self, request, payload, table):
        if request.accepted_renderer.format == "csv":
            response = Response(table(payload))
            response["Content-Disposition"] = f'attachment; filename="{self.filename}.csv"'
            return response
        return Response(payload)


# --- figures ---------------------------------------------------------------------------------------


def figures_table(figures: dict) -> dict:
    rows = []
    for pole in ("reliability", "speed", "flexibility", "health"):
        for key, value in figures[pole].items():
            if key == "mtbf":
                rows.extend(
                    [pole, f"mtbf:{row['name']}", row["mtbf_hours"], None, None, row["incidents"], None, "hours"]
                    for row in value
                )
            elif key == "incidents_by_severity":
                rows.extend(
                    [pole, f"incidents:{sev}", count, None, None, count, None, "count"] for sev, count in value.items()
                )
            elif isinstance(value, dict) and "median" in value:
                rows.append([pole, key, None, value["median"], value["p90"], value["count"], None, "seconds"])
            elif isinstance(value, dict) and "of" in value:
                rows.append([pole, key, value["value"], None, None, value["count"], value["of"], "ratio"])
            elif isinstance(value, dict):
                rows.append([pole, key, value.get("per_week"), None, None, value.get("count"), None, "per week"])
            else:
                rows.append([pole, key, value, None, None, None, None, "count"])
    for key, value in figures["dora"]["keys"].items():
        rows.append(["dora", f"dora:{key}", value["value"], None, None, None, None, "value"])
    rows.append(["dora", f"cluster:{figures['dora']['cluster'] or ''}", None, None, None, None, None, "cluster"])
    return {"columns": ["pole", "metric", "value", "median", "p90", "count", "of", "unit"], "rows": rows}


class FiguresView(MetricsView):
    filename = "metrics-figures"

    @extend_schema(
        operation_id="metrics_figures",
        summary="Headline figures over a period",
        description=(
            "Reliability, speed, flexibility and improvement health over whole weeks in the team's time zone. "
            "Durations are in seconds with median and p90 (linear interpolation, like percentile_cont) and the "
            "count behind them; shares come with their numerator and denominator; the DORA cluster nearest on "
            "the four keys together (2024 report), with each key's reference values."
        ),
        parameters=FILTER_PARAMETERS,
        responses={200: OpenApiTypes.OBJECT},
        tags=["metrics"],
    )
    def get(self, request):
        return self.respond(request, metrics.period_figures(scope_from_request(request)), figures_table)


# --- weekly series ---------------------------------------------------------------------------------


def weekly_table(weekly: dict) -> dict:
    rows = []
    for key, series in weekly["series"].items():
        limits = series["limits"] or {}
        for week, value, count in zip(weekly["weeks"], series["values"], series["counts"], strict=True):
            rows.append(
                [
                    week.isoformat(),
                    key,
                    series["pole"],
                    value,
                    count,
                    limits.get("centre"),
                    limits.get("lower"),
                    limits.get("upper"),
                ]
            )
    return {"columns": ["week", "metric", "pole", "value", "count", "centre", "lower", "upper"], "rows": rows}


class WeeklyView(MetricsView):
    filename = "metrics-weekly"

    @extend_schema(
        operation_id="metrics_weekly",
        summary="Weekly series with XmR limits and signals",
        description=(
            "One point per week (Monday, team's time zone) for every metric, the count behind each point, "
            "process-behaviour (XmR) limits, and the signals of the last week (beyond a limit, or a run of 8 "
            "on one side of the centre line). `metric` keeps only the listed series (comma-separated keys)."
        ),
        parameters=[
            *FILTER_PARAMETERS,
            OpenApiParameter("metric", str, description="Comma-separated series keys, e.g. incidents,deployments."),
        ],
        responses={200: WEEKLY_SCHEMA},
        tags=["metrics"],
    )
    def get(self, request):
        weekly = metrics.weekly_series(scope_from_request(request))
        wanted = [key for key in request.query_params.get("metric", "").split(",") if key]
        unknown = [key for key in wanted if key not in weekly["series"]]
        if unknown:
            raise serializers.ValidationError(
                {"metric": [_("Unknown metric: %(keys)s.") % {"keys": ", ".join(unknown)}]}
            )
        if wanted:
            weekly["series"] = {key: weekly["series"][key] for key in wanted}
        return self.respond(request, weekly, weekly_table)


# --- signals ---------------------------------------------------------------------------------------


SIGNAL_COLUMNS = ["metric", "label", "week", "value", "limit", "which", "rule", "direction"]


class SignalsView(MetricsView):
    filename = "metrics-signals"

    @extend_schema(
        operation_id="metrics_signals",
        summary="Control-chart signals of the last week of the range",
        parameters=FILTER_PARAMETERS,
        responses={200: SIGNALS_SCHEMA},
        tags=["metrics"],
    )
    def get(self, request):
        weekly = metrics.weekly_series(scope_from_request(request))
        found = [signal for series in weekly["series"].values() for signal in series["signals"]]
        return self.respond(
            request,
            {"signals": found},
            lambda payload: {
                "columns": SIGNAL_COLUMNS,
                "rows": [[signal[column] for column in SIGNAL_COLUMNS] for signal in payload["signals"]],
            },
        )


# --- the rows behind a figure -----------------------------------------------------------------------


ROW_COLUMNS = ["object_id", "title", "service", "when", "kind", "counted", "measure"]


class FigureRowsView(MetricsView):
    filename = "metrics-rows"

    @extend_schema(
        operation_id="metrics_rows",
        summary="The rows a figure counts",
        description=(
            "The incidents, changes, postmortems, stage transitions or actions behind one headline figure, "
            "under the same filters. For a share the rows are its denominator and `counted` marks its numerator; "
            "for a duration `measure` is each row's seconds. The rows add up to `figure`."
        ),
        parameters=[
            *FILTER_PARAMETERS,
            OpenApiParameter("figure", str, required=True, enum=list(FIGURES), description="The figure's key."),
        ],
        responses={200: OpenApiTypes.OBJECT},
        tags=["metrics"],
    )
    def get(self, request):
        key = request.query_params.get("figure", "")
        if key not in FIGURES:
            raise serializers.ValidationError({"figure": [_("Unknown figure: %(key)s.") % {"key": key}]})
        scope = scope_from_request(request)
        spec = FIGURES[key]
        rows = [
            {
                "object_id": row["object_id"],
                "title": row["title_text"],
                "service": row["service_name"],
                "when": row["when"],
                "kind": row["kind_text"],
                "counted": row["counted"],
                "measure": row["measure"],
            }
            for row in figure_rows(scope, key)
        ]
        payload = {
            "figure": key,
            "label": str(spec.label),
            "definition": str(spec.definition),
            "source": spec.source,
            "value": figure_value(metrics.period_figures(scope), key),
            "rows": rows,
        }
        return self.respond(
            request,
            payload,
            lambda data: {
                "columns": ROW_COLUMNS,
                "rows": [[row[column] for column in ROW_COLUMNS] for row in data["rows"]],
            },
        )


# --- targets ---------------------------------------------------------------------------------------


class TargetSerializer(ModelSerializer):
    team = TeamField()
    metric = serializers.ChoiceField(
        choices=list(metrics.SERIES), help_text="A weekly series key, e.g. time_to_mitigate_p90."
    )
    value = serializers.FloatField(
        min_value=0, help_text="In the series' unit: seconds for a duration, a ratio (0.15) for a rate."
    )

    class Meta:
        model = Target
        validators = []  # one target per figure: set_target replaces it
        fields = ["id", "team", "metric", "bound", "value", "updated_at"]
        read_only_fields = ["id", "updated_at"]


@extend_schema_view(
    list=extend_schema(summary="Targets on the weekly figures", tags=["metrics"]),
    retrieve=extend_schema(summary="A target", tags=["metrics"]),
    create=extend_schema(
        summary="Set a target (team leads); replaces the team's target on that figure",
        parameters=[IDEMPOTENCY_HEADER],
        tags=["metrics"],
    ),
    destroy=extend_schema(summary="Remove a target (team leads)", tags=["metrics"]),
)
class TargetViewSet(ServiceBackedViewSet):
    serializer_class = TargetSerializer
    write_role = Membership.Role.LEAD
    http_method_names = ["get", "post", "delete", "head", "options"]

    def base_queryset(self):
        return Target.objects.select_related("team").order_by("team_id", "metric")

    def perform_service_create(self, data, team):
        return services.set_target(team=team, user=self.request.user, **data)

    def destroy(self, request, *args, **kwargs):
        target = self.get_object()
        self.require_role(target.team)
        services.delete_target(target=target)
        return self.plain(None, status.HTTP_204_NO_CONTENT)
