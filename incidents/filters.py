"""Filters over incidents, shared by the web list (and the API when it adopts them)."""

import django_filters
from django import forms
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from incidents.models import Incident, Severity
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


class IncidentFilterSet(django_filters.FilterSet):
    q = django_filters.CharFilter(method="search", label=_("Search"))
    service = django_filters.ModelChoiceFilter(empty_label=_("any"), queryset=services_for_request, label=_("Service"))
    severity = django_filters.ChoiceFilter(empty_label=_("any"), choices=Severity.choices, label=_("Severity"))
    status = django_filters.ChoiceFilter(empty_label=_("any"), choices=Incident.Status.choices, label=_("Status"))
    started_after = django_filters.DateFilter(
        field_name="started_at",
        lookup_expr="date__gte",
        label=_("Started on or after"),
        widget=forms.DateInput(attrs={"type": "date"}),
    )
    started_before = django_filters.DateFilter(
        field_name="started_at",
        lookup_expr="date__lte",
        label=_("Started on or before"),
        widget=forms.DateInput(attrs={"type": "date"}),
    )

    class Meta:
        model = Incident
        fields = ["q", "service", "severity", "status", "started_after", "started_before"]

    def search(self, queryset, name, value):
        value = value.strip()
        if not value:
            return queryset
        return queryset.filter(Q(title__icontains=value) | Q(summary__icontains=value) | Q(external_id=value))
