"""FilterSets for teams' rows, and the filters every app's FilterSets share.

One FilterSet per model (`<Model>FilterSet`), named by both its page and its viewset; `…Filter` names
a single filter.
"""

import datetime as dt

import django_filters
from django import forms
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


class DayFilter(django_filters.DateFilter):
    """A page's date field: the day in the team's calendar (`lookup_expr` "date__gte" or "date__lte")."""

    def __init__(self, **kwargs):
        kwargs.setdefault("widget", forms.DateInput(attrs={"type": "date"}))
        super().__init__(**kwargs)


class TitleSearchFilter(django_filters.CharFilter):
    """`?q=words`: the title contains the words (case-insensitive)."""

    def __init__(self, field_name="title", **kwargs):
        kwargs.setdefault("lookup_expr", "icontains")
        kwargs.setdefault("label", _("search in titles"))
        super().__init__(field_name=field_name, **kwargs)


class OneOrManySelect(forms.Select):
    """A single select with an "any" choice that reads `?name=a&name=b` as the list the API takes.

    It lets one multi-value filter serve both the pages (one choice or any) and the API (several).
    """

    empty_label = _("any")

    def value_from_datadict(self, data, files, name):
        getter = getattr(data, "getlist", None)
        values = getter(name) if getter is not None else ([data[name]] if name in data else [])
        return [value for value in values if value not in ("", None)]

    def optgroups(self, name, value, attrs=None):
        empty = self.create_option(name, "", self.empty_label, value in ([], [""]), 0, attrs=attrs)
        return [(None, [empty], 0), *super().optgroups(name, value, attrs)]


class AnyOfFilter(django_filters.MultipleChoiceFilter):
    """`?name=a&name=b`: any of the choices; one select with "any" on a page."""

    def __init__(self, **kwargs):
        kwargs.setdefault("widget", OneOrManySelect)
        super().__init__(**kwargs)


class ServiceFilterSet(django_filters.FilterSet):
    team = TeamSlugFilter()
    tier = django_filters.ChoiceFilter(choices=Service.Tier.choices)
    q = TitleSearchFilter(field_name="name")

    class Meta:
        model = Service
        fields = ["team", "tier", "q"]


class TeamFilterSet(django_filters.FilterSet):
    q = TitleSearchFilter(field_name="name")

    class Meta:
        model = Team
        fields = ["q"]


class MembershipFilterSet(django_filters.FilterSet):
    team = TeamSlugFilter()
    role = django_filters.MultipleChoiceFilter(choices=Membership.Role.choices)
    q = TitleSearchFilter(field_name="user__username")

    class Meta:
        model = Membership
        fields = ["team", "role"]
