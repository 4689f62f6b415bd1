"""One FilterSet per model of the rituals API."""

import django_filters

from rituals.models import ReviewSession, Ritual
from teams.filters import TeamSlugFilter, TitleSearchFilter, UtcDateTimeFilter


class RitualFilterSet(django_filters.FilterSet):
    team = TeamSlugFilter()
    kind = django_filters.MultipleChoiceFilter(choices=Ritual.Kind.choices)
    active = django_filters.BooleanFilter()
    q = TitleSearchFilter(field_name="name")

    class Meta:
        model = Ritual
        fields = ["team", "kind", "active"]


class ReviewSessionFilterSet(django_filters.FilterSet):
    team = TeamSlugFilter()
    ritual = django_filters.NumberFilter(field_name="ritual_id")
    status = django_filters.MultipleChoiceFilter(choices=ReviewSession.Status.choices)
    occurred_after = UtcDateTimeFilter(field_name="occurrence", lookup_expr="gte")
    occurred_before = UtcDateTimeFilter(field_name="occurrence", lookup_expr="lt")

    class Meta:
        model = ReviewSession
        fields = ["team", "ritual", "status"]
