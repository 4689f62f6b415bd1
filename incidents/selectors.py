"""Reads on changes, shaped for the pages that show them (a constant number of queries)."""

from django.db.models import Count, F, Prefetch, Q, QuerySet
from django.utils import formats, timezone
from django.utils.translation import gettext as _

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


PICKER_SIZE = 50


def change_label(change: Change) -> str:
    """How a picker names a change: when it was deployed, where, which kind, then its title."""
    when = change.deployed_at or change.committed_at
    date = formats.date_format(timezone.localtime(when), "Y-m-d H:i") if when else _("not deployed")
    service = change.service.name if change.service_id else _("no service")
    return f"{date} · {service} · {change.get_kind_display()} — {change.title}"


def changes_for_picker(team: Team, *, q: str = "", selected=None) -> list[Change]:
    """Up to PICKER_SIZE of the team's changes matching `q` (title, service, external id), newest first.

    The `selected` change (a pk, possibly not among them) is included so that a picker keeps it:
    one query whatever the number of changes.
    """
    matching = Change.objects.filter(team=team)
    for word in q.split():
        matching = matching.filter(
            Q(title__icontains=word) | Q(service__name__icontains=word) | Q(external_id__icontains=word)
        )
    newest = F("deployed_at").desc(nulls_last=True), "-id"
    top = matching.order_by(*newest).values("pk")[:PICKER_SIZE]
    wanted = Q(pk__in=top)
    try:
        selected_pk = int(selected) if selected not in (None, "") else None
    except (TypeError, ValueError):
        selected_pk = None
    if selected_pk is not None:
        wanted |= Q(pk=selected_pk)
    return list(Change.objects.filter(team=team).filter(wanted).select_related("service").order_by(*newest))
