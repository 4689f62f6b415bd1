"""The action archive: done, abandoned and withdrawn cycles, filtered with the API's ActionFilterSet."""

from django.conf import settings
from django.core.paginator import Paginator
from django.shortcuts import render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from improvement import selectors
from improvement.filters import ActionFilterSet
from improvement.models import Stage
from teams.decorators import team_view


@require_GET
@team_view()
def action_archive(request, team):
    """Finished cycles with their verdicts; a filter on another team's service is a field error."""
    actions = selectors.archived_actions(team)
    filterset = ActionFilterSet(request.GET or None, queryset=actions, request=request)
    fields = filterset.form.fields
    fields["stage"].choices = [(s, Stage(s).label) for s in selectors.CLOSED_STAGES]
    fields["service"].label, fields["owner"].label = _("Target service"), _("Owner (username)")
    valid = not filterset.is_bound or filterset.is_valid()
    page = Paginator(filterset.qs if filterset.is_bound and valid else actions, settings.UI_PAGE_SIZE)
    context = {
        "team": team,
        "filterset": filterset,
        "fields": [filterset.form[name] for name in ActionFilterSet.ARCHIVE_FIELDS],
        "page": page.get_page(request.GET.get("page")),
    }
    return render(request, "improvement/archive.html", context, status=200 if valid else 400)
