"""Filters over improvement actions, shared by the PDCA board (and the API when it adopts them)."""

import django_filters
from django.contrib.auth import get_user_model
from django.utils.translation import gettext_lazy as _

from improvement.models import Action, Stage


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
