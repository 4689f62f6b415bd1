"""The change log and a change's page: only incidents-app data, so they live here (namespace "changes")."""

from django.conf import settings
from django.core.paginator import Paginator
from django.shortcuts import render
from django.views.decorators.http import require_GET

from core.forms import or_404
from incidents import selectors
from incidents.filters import ChangeFilterSet
from teams.decorators import team_view


@require_GET
@team_view()
def change_list(request, team):
    """The team's changes, filtered by the API's filter set (service, kind, failed, period, search)."""
    changes = selectors.changes_for_team(team)
    filterset = ChangeFilterSet(request.GET or None, queryset=changes, request=request)
    valid = not filterset.is_bound or filterset.is_valid()
    page = Paginator(filterset.qs if filterset.is_bound and valid else changes, settings.UI_PAGE_SIZE)
    context = {
        "team": team,
        "filterset": filterset,
        "fields": [filterset.form[name] for name in ChangeFilterSet.PAGE_FIELDS],
        "page": page.get_page(request.GET.get("page")),
    }
    return render(request, "changes/list.html", context, status=200 if valid else 400)


@require_GET
@team_view()
def change_detail(request, team, pk):
    """A change and the incidents it caused."""
    change = or_404(selectors.change_for_page)(team, pk)
    return render(request, "changes/detail.html", {"team": team, "change": change})
