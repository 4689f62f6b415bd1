"""My work: what one member has to do in a team, and their next review."""

from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_GET

from rituals import my_work as my_work_reads
from teams.decorators import team_view


@require_GET
@team_view()
def my_work(request, team):
    """My open and overdue actions, the postmortems I write or review, and the next review I attend."""
    actions = list(my_work_reads.my_open_actions(team, request.user))
    today = timezone.localdate()
    context = {
        "team": team,
        "actions": actions,
        "overdue": [a for a in actions if a.due_date and a.due_date < today],
        "today": today,
        "postmortems": my_work_reads.my_postmortems(team, request.user),
        **my_work_reads.my_next_review(team, request.user),
    }
    return render(request, "rituals/my_work.html", context)
