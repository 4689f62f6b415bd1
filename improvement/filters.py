"""The FilterSet of actions, shared by the board, the archive and the API."""

import django_filters
from django import forms
from django.contrib.auth import get_user_model
from django.utils.translation import gettext_lazy as _

from improvement.models import Action, Stage
from incidents.filters import ServiceFilterField
from teams.filters import AnyOfFilter, TeamSlugFilter, TitleSearchFilter, UtcDateTimeFilter


def owner_choices(team) -> list[tuple[str, str]]:
    """The board's owner select: the team's members, by username (the API's `?owner=` takes any)."""
    users = get_user_model().objects.filter(memberships__team=team).order_by("username")
    return [("", _("any")), *((name, name) for name in users.values_list("username", flat=True))]


class ActionFilterSet(django_filters.FilterSet):
    """The one filter set of actions: the API's (/api/v1/actions/), the board's and the archive's.

    The board shows `BOARD_FIELDS` (its columns are the stages), the archive `ARCHIVE_FIELDS`; on a
    team's page the owner is chosen among the team's members.
    """

    BOARD_FIELDS = ("owner", "kind", "origin", "service")
    ARCHIVE_FIELDS = ("q", "stage", "service", "kind", "owner")

    team = TeamSlugFilter()
    service = ServiceFilterField(field_name="target_service", label=_("Target service"), empty_label=_("any"))
    stage = AnyOfFilter(choices=Stage.choices, label=_("Stage"))
    kind = AnyOfFilter(choices=Action.Kind.choices, label=_("Kind"))
    origin = AnyOfFilter(choices=Action.Origin.choices, label=_("Origin"))
    owner = django_filters.CharFilter(field_name="owner__username", label=_("Owner"))
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

    def __init__(self, *args, request=None, **kwargs):
        super().__init__(*args, request=request, **kwargs)
        team = getattr(request, "team", None)
        if team is not None:
            self.filters["owner"].extra["widget"] = forms.Select(choices=owner_choices(team))
