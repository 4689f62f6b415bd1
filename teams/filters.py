"""FilterSets for teams' rows: one per model, shared by the API and the web UI."""

import datetime as dt

import django_filters
from django.utils.translation import gettext_lazy as _
from rest_framework.exceptions import ValidationError

from teams.models import Membership, Service, Team
from teams.selectors import teams_for_request


def visible_teams(request):
    if request is None:
        return Team.objects.none()
    return teams_for_request(request)


def visible_services(request):
    return Service.objects.filter(team__in=visible_teams(request))


class TeamSlugFilter(django_filters.ModelChoiceFilter):
    """`?team=<slug>`, among the teams the caller may see."""

    def __init__(self, **kwargs):
        kwargs.setdefault("field_name", "team")
        kwargs.setdefault("to_field_name", "slug")
        kwargs.setdefault("queryset", visible_teams)
        kwargs.setdefault("label", _("team (slug)"))
        super().__init__(**kwargs)


class UtcDateTimeFilter(django_filters.IsoDateTimeFilter):
    """An ISO 8601 date-time, compared in UTC (PostgreSQL refuses offsets beyond ±15:59)."""

    def filter(self, qs, value):
        if value is not None:
            try:
                value = value.astimezone(dt.UTC)
            except (OverflowError, ValueError):
                raise ValidationError({self.field_name: [_("This date-time is out of range.")]}) from None
        return super().filter(qs, value)


class TitleSearchFilter(django_filters.CharFilter):
    """`?q=words`: the title contains the words (case-insensitive)."""

    def __init__(self, field_name="title", **kwargs):
        kwargs.setdefault("lookup_expr", "icontains")
        kwargs.setdefault("label", _("search in titles"))
        super().__init__(field_name=field_name, **kwargs)


class ServiceFilter(django_filters.FilterSet):
    team = TeamSlugFilter()
    tier = django_filters.ChoiceFilter(choices=Service.Tier.choices)
    q = TitleSearchFilter(field_name="name")

    class Meta:
        model = Service
        fields = ["team", "tier", "q"]


class TeamFilter(django_filters.FilterSet):
    q = TitleSearchFilter(field_name="name")

    class Meta:
        model = Team
        fields = ["q"]


class MembershipFilter(django_filters.FilterSet):
    team = TeamSlugFilter()
    role = django_filters.MultipleChoiceFilter(choices=Membership.Role.choices)
    q = TitleSearchFilter(field_name="user__username")

    class Meta:
        model = Membership
        fields = ["team", "role"]
