"""Reads on changes, shaped for the pages that show them (a constant number of queries)."""

from django.db.models import Count, Prefetch, QuerySet

from incidents.models import Change, Incident
from teams.models import Team


def changes_for_team(team: Team) -> QuerySet[Change]:
    """The team's changes, newest deployment first, with their service and how many incidents each caused."""
    return (
        Change.objects.filter(team=team)
        .select_related("service")
        .annotate(incident_count=Count("caused_incidents"))
        .order_by("-deployed_at", "-id")
    )


def change_for_page(team: Team, pk: int) -> Change:
    """One change of `team` with the incidents it caused; DoesNotExist for another team's."""
    return (
        Change.objects.filter(team=team)
        .select_related("service")
        .prefetch_related(
            Prefetch(
                "caused_incidents",
                queryset=Incident.objects.select_related("service", "problem").order_by("started_at", "id"),
            )
        )
        .get(pk=pk)
    )
