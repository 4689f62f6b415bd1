"""FilterSets for incidents, problems, postmortems and changes: shared by the API and the web UI."""

import django_filters
from django.utils.translation import gettext_lazy as _

from incidents.models import Change, Incident, Postmortem, Problem, Severity
from teams.filters import TeamSlugFilter, TitleSearchFilter, UtcDateTimeFilter, visible_services


class ServiceFilterField(django_filters.ModelChoiceFilter):
    def __init__(self, **kwargs):
        kwargs.setdefault("field_name", "service")
        kwargs.setdefault("queryset", visible_services)
        kwargs.setdefault("label", _("service (id)"))
        super().__init__(**kwargs)


class IncidentFilter(django_filters.FilterSet):
    team = TeamSlugFilter()
    service = ServiceFilterField()
    severity = django_filters.MultipleChoiceFilter(choices=Severity.choices)
    status = django_filters.MultipleChoiceFilter(choices=Incident.Status.choices)
    source = django_filters.CharFilter()
    external_id = django_filters.CharFilter()
    problem = django_filters.NumberFilter(field_name="problem_id")
    started_after = UtcDateTimeFilter(field_name="started_at", lookup_expr="gte")
    started_before = UtcDateTimeFilter(field_name="started_at", lookup_expr="lt")
    q = TitleSearchFilter()

    class Meta:
        model = Incident
        fields = ["team", "service", "severity", "status", "source", "external_id", "problem"]


class ProblemFilter(django_filters.FilterSet):
    team = TeamSlugFilter()
    service = ServiceFilterField()
    status = django_filters.MultipleChoiceFilter(choices=Problem.Status.choices)
    q = TitleSearchFilter()

    class Meta:
        model = Problem
        fields = ["team", "service", "status"]


class PostmortemFilter(django_filters.FilterSet):
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


class ChangeFilter(django_filters.FilterSet):
    team = TeamSlugFilter()
    service = ServiceFilterField()
    kind = django_filters.MultipleChoiceFilter(choices=Change.Kind.choices)
    failed = django_filters.BooleanFilter()
    source = django_filters.CharFilter()
    external_id = django_filters.CharFilter()
    deployed_after = UtcDateTimeFilter(field_name="deployed_at", lookup_expr="gte")
    deployed_before = UtcDateTimeFilter(field_name="deployed_at", lookup_expr="lt")
    q = TitleSearchFilter()

    class Meta:
        model = Change
        fields = ["team", "service", "kind", "failed", "source", "external_id"]
