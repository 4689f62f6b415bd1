"""One FilterSet per model (incidents, problems, postmortems, changes), shared by the pages and the API."""

import django_filters
from django import forms
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from incidents.models import Change, Incident, Postmortem, Problem, Severity
from teams.filters import AnyOfFilter, DayFilter, TeamSlugFilter, TitleSearchFilter, UtcDateTimeFilter
from teams.models import Service
from teams.selectors import teams_for_request


def services_for_request(request):
    """The services a filter may offer: the page's team, else every team the caller may see."""
    if request is None:
        return Service.objects.none()
    team = getattr(request, "team", None)
    if team is not None:
        return Service.objects.filter(team=team)
    return Service.objects.filter(team__in=teams_for_request(request))


class ServiceFilterField(django_filters.ModelChoiceFilter):
    """`?service=<id>`: on a team page, among that team's services only (another team's is a field error)."""

    def __init__(self, **kwargs):
        kwargs.setdefault("field_name", "service")
        kwargs.setdefault("queryset", services_for_request)
        kwargs.setdefault("label", _("service (id)"))
        super().__init__(**kwargs)


class IncidentFilterSet(django_filters.FilterSet):
    """The one filter set of incidents: the API's (/api/v1/incidents/) and the incident list's.

    The page shows `PAGE_FIELDS` (dates in the team's calendar, both ends included); the API takes
    them all (`started_after` / `started_before`: instants, the end excluded).
    """

    PAGE_FIELDS = ("q", "service", "severity", "status", "started_from", "started_to")

    team = TeamSlugFilter()
    service = ServiceFilterField(label=_("Service"), empty_label=_("any"))
    severity = AnyOfFilter(choices=Severity.choices, label=_("Severity"))
    status = AnyOfFilter(choices=Incident.Status.choices, label=_("Status"))
    source = django_filters.CharFilter()
    external_id = django_filters.CharFilter()
    problem = django_filters.NumberFilter(field_name="problem_id")
    started_after = UtcDateTimeFilter(field_name="started_at", lookup_expr="gte")
    started_before = UtcDateTimeFilter(field_name="started_at", lookup_expr="lt")
    started_from = DayFilter(field_name="started_at", lookup_expr="date__gte", label=_("Started on or after"))
    started_to = DayFilter(field_name="started_at", lookup_expr="date__lte", label=_("Started on or before"))
    q = django_filters.CharFilter(method="search", label=_("Search"))

    class Meta:
        model = Incident
        fields = ["team", "service", "severity", "status", "source", "external_id", "problem"]

    def search(self, queryset, name, value):
        """The words in the title or the summary, or the exact external id."""
        value = value.strip()
        if not value:
            return queryset
        return queryset.filter(Q(title__icontains=value) | Q(summary__icontains=value) | Q(external_id=value))


class ProblemFilterSet(django_filters.FilterSet):
    team = TeamSlugFilter()
    service = ServiceFilterField()
    status = django_filters.MultipleChoiceFilter(choices=Problem.Status.choices)
    q = TitleSearchFilter()

    class Meta:
        model = Problem
        fields = ["team", "service", "status"]


class PostmortemFilterSet(django_filters.FilterSet):
    team = TeamSlugFilter()
    service = ServiceFilterField(field_name="incident__service")
    status = django_filters.MultipleChoiceFilter(choices=Postmortem.Status.choices)
    incident = django_filters.NumberFilter(field_name="incident_id")
    published_after = UtcDateTimeFilter(field_name="published_at", lookup_expr="gte")
    published_before = UtcDateTimeFilter(field_name="published_at", lookup_expr="lt")
    q = TitleSearchFilter(field_name="incident__title")

    class Meta:
        model = Postmortem
        fields = ["team", "service", "status", "incident"]


class ChangeFilterSet(django_filters.FilterSet):
    """The one filter set of changes: the API's (/api/v1/changes/) and the change log page's.

    The page shows `PAGE_FIELDS` (dates in the team's calendar); the API takes them all.
    """

    PAGE_FIELDS = ("q", "service", "kind", "failed", "deployed_from", "deployed_to")

    team = TeamSlugFilter()
    service = ServiceFilterField(label=_("Service"), empty_label=_("any"))
    kind = AnyOfFilter(choices=Change.Kind.choices, label=_("Kind"))
    failed = django_filters.BooleanFilter(
        label=_("Failed"),
        widget=forms.Select(choices=[("", _("any")), ("true", _("failed")), ("false", _("not failed"))]),
    )
    source = django_filters.CharFilter()
    external_id = django_filters.CharFilter()
    deployed_after = UtcDateTimeFilter(field_name="deployed_at", lookup_expr="gte")
    deployed_before = UtcDateTimeFilter(field_name="deployed_at", lookup_expr="lt")
    deployed_from = DayFilter(field_name="deployed_at", lookup_expr="date__gte", label=_("Deployed on or after"))
    deployed_to = DayFilter(field_name="deployed_at", lookup_expr="date__lte", label=_("Deployed on or before"))
    q = TitleSearchFilter(label=_("Search"))

    class Meta:
        model = Change
        fields = ["team", "service", "kind", "failed", "source", "external_id"]
