"""FilterSets over actions, rituals, review sessions: the pages' (…FilterSet), the API's (…Filter)."""

import django_filters
from django.contrib.auth import get_user_model
from django.utils.translation import gettext_lazy as _

from improvement.models import Action, Stage
from incidents.filters import ServiceFilterField
from teams.filters import TeamSlugFilter, TitleSearchFilter, UtcDateTimeFilter


def owners_for_request(request):
    team = getattr(request, "team", None) if request is not None else None
    if team is None:
        return get_user_model().objects.none()
    return get_user_model().objects.filter(memberships__team=team).order_by("username")


class ActionFilterSet(django_filters.FilterSet):
    owner = django_filters.ModelChoiceFilter(empty_label=_("any"), queryset=owners_for_request, label=_("Owner"))
    kind = django_filters.ChoiceFilter(empty_label=_("any"), choices=Action.Kind.choices, label=_("Kind"))
    origin = django_filters.ChoiceFilter(empty_label=_("any"), choices=Action.Origin.choices, label=_("Origin"))
    stage = django_filters.ChoiceFilter(empty_label=_("any"), choices=Stage.choices, label=_("Stage"))

    class Meta:
        model = Action
        fields = ["owner", "kind", "origin", "stage"]


# --- API filter sets (/api/v1/): team, ranges, multi-value choices, external ids ---


class ActionFilter(django_filters.FilterSet):
    """The API's filter set of actions (/api/v1/actions/), also the action archive's (`ARCHIVE_FIELDS`)."""

    ARCHIVE_FIELDS = ("q", "stage", "service", "kind", "owner")

    team = TeamSlugFilter()
    service = ServiceFilterField(field_name="target_service", label=_("target service (id)"), empty_label=_("any"))
    stage = django_filters.MultipleChoiceFilter(choices=Stage.choices, label=_("Stage"))
    kind = django_filters.MultipleChoiceFilter(choices=Action.Kind.choices, label=_("Kind"))
    origin = django_filters.MultipleChoiceFilter(choices=Action.Origin.choices)
    owner = django_filters.CharFilter(field_name="owner__username", label=_("owner (username)"))
    source = django_filters.CharFilter()
    external_id = django_filters.CharFilter()
    due_after = django_filters.DateFilter(field_name="due_date", lookup_expr="gte")
    due_before = django_filters.DateFilter(field_name="due_date", lookup_expr="lt")
    created_after = UtcDateTimeFilter(field_name="created_at", lookup_expr="gte")
    created_before = UtcDateTimeFilter(field_name="created_at", lookup_expr="lt")
    q = TitleSearchFilter(label=_("Search"))

    class Meta:
        model = Action
        fields = ["team", "service", "stage", "kind", "origin", "owner", "source", "external_id"]
